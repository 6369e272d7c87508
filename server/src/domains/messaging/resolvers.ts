import { requireViewer } from '../../auth/roles.js';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import type { Context } from '../../context.js';
import type { ReadStateRow, UserRow } from '../../db/rows.js';
import { mustLoad } from '../../loaders.js';
import { badInput } from '../../errors.js';
import { decodeCursor, encodeCursor, pageSize } from '../../validation.js';
import { requireThreadAccess, viewerTakesPart } from './access.js';
import { messagesPage, threadsOfUser, totalUnreadCount } from './data.js';
import { createThread, markThreadRead, sendMessage } from './mutations.js';
import { setTyping } from './typing.js';

/**
 * A thread's participants with their read state, ordered by name (then id: two namesakes keep their places). Both
 * `participants` and `readStates` come in this order: the rows' own order changes whenever someone reads (PostgreSQL
 * writes an updated row anew), and a list of read receipts must not reshuffle when one of them moves.
 */
async function participantsByName(ctx: Context, threadId: string): Promise<{ state: ReadStateRow; user: UserRow }[]> {
  const states = await ctx.loaders.readStates.load(threadId);
  const users = await Promise.all(states.map((s) => mustLoad(ctx.loaders.user, s.userId, 'participant')));
  return states
    .map((state, i) => ({ state, user: users[i] }))
    .sort((a, b) => a.user.name.localeCompare(b.user.name) || (a.user.id < b.user.id ? -1 : 1));
}

export const messagingResolvers: Resolvers = {
  Query: {
    threads: (_parent, { first }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      return threadsOfUser(ctx.db, viewer.tenantId, viewer.userId, pageSize(first, 'first', 50));
    },
    thread: async (_parent, { id }, ctx) => {
      const thread = await ctx.loaders.thread.load(id);
      return thread && (await viewerTakesPart(ctx, thread.id)) ? thread : null;
    },
    messages: async (_parent, { threadId, last, before }, ctx) => {
      const thread = await requireThreadAccess(ctx, threadId);
      const size = pageSize(last, 'last', 30);
      let beforeSeq: number | null = null;
      // An empty string is not "left out": like any other cursor this API never gave out, it is refused.
      if (before !== null && before !== undefined) {
        const [seq] = decodeCursor(before, 'before', 1);
        if (!Number.isSafeInteger(seq)) throw badInput('before is not a cursor this API gave out', 'before');
        beforeSeq = seq as number;
      }
      const rows = await messagesPage(ctx.db, thread.tenantId, thread.id, size + 1, beforeSeq);
      const page = rows.length > size ? rows.slice(1) : rows;
      const edges = page.map((node) => ({ node, cursor: encodeCursor([node.seq]) }));
      return {
        edges,
        pageInfo: {
          hasPreviousPage: rows.length > size,
          hasNextPage: beforeSeq !== null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
    unreadMessageCount: (_parent, _args, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      return totalUnreadCount(ctx.db, viewer.tenantId, viewer.userId);
    },
  },
  Mutation: {
    createThread: (_parent, { input }, ctx) => createThread(ctx, input),
    sendMessage: (_parent, { threadId, body }, ctx) => sendMessage(ctx, threadId, body),
    markThreadRead: (_parent, { threadId, messageId }, ctx) => markThreadRead(ctx, threadId, messageId),
    setTyping: (_parent, { threadId, isTyping }, ctx) => setTyping(ctx, threadId, isTyping),
  },
  Thread: {
    patient: (t, _args, ctx) => (t.patientId ? ctx.loaders.patient.load(t.patientId) : null),
    participants: async (t, _args, ctx) => (await participantsByName(ctx, t.id)).map(({ user }) => user),
    lastMessage: (t, _args, ctx) => ctx.loaders.lastMessage.load(t.id),
    unreadCount: (t, _args, ctx) => ctx.loaders.unreadCount.load(t.id),
    readStates: async (t, _args, ctx) => (await participantsByName(ctx, t.id)).map(({ state }) => state),
  },
  Message: {
    thread: (m, _args, ctx) => mustLoad(ctx.loaders.thread, m.threadId, 'thread'),
    sender: (m, _args, ctx) => mustLoad(ctx.loaders.user, m.senderId, 'sender'),
  },
  ReadState: {
    user: (s, _args, ctx) => mustLoad(ctx.loaders.user, s.userId, 'reader'),
    lastReadMessage: (s, _args, ctx) => (s.lastReadMessageId ? ctx.loaders.message.load(s.lastReadMessageId) : null),
  },
};
