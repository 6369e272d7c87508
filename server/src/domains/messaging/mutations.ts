import { requireViewer } from '../../auth/roles.js';
import type { Context } from '../../context.js';
import type { MessageRow, ThreadRow } from '../../db/rows.js';
import { commitChange, type RecordEvents } from '../../events/outbox.js';
import type { Trx } from '../../db/knex.js';
import type { CreateThreadInput } from '../../__generated__/resolvers-types.js';
import { badInput } from '../../errors.js';
import { isUuid, optionalText, requiredText } from '../../validation.js';
import { usersByIds } from '../identity/data.js';
import { createNotifications, markThreadNotificationsRead } from '../notifications/data.js';
import { patientsByIds } from '../patients/data.js';
import { requireThreadAccess } from './access.js';
import { advanceReadState, insertMessage, insertThread, messageInThread, newestMessage } from './data.js';
import { threadViewerIds } from './threadViewers.js';
import { stopTyping } from './typing.js';

const MAX_BODY = 5000;

/**
 * Stores a message and tells the other participants, without ever putting the body in an event or notification.
 * Those `viewing` the thread (see threadViewers.ts) see the message arrive and get no notification of it.
 */
async function postMessage(
  ctx: Context,
  trx: Trx,
  record: RecordEvents,
  thread: ThreadRow,
  senderName: string,
  message: Pick<MessageRow, 'senderId' | 'body'>,
  viewing: ReadonlySet<string>,
): Promise<MessageRow> {
  const written = await insertMessage(trx, thread.tenantId, { ...message, threadId: thread.id });
  const row = written.message;
  record(
    [{ topic: 'message', kind: 'ADDED', entityId: row.id, threadId: thread.id, data: { senderId: row.senderId } }],
    {
      message: [row],
      lastMessage: [row],
      thread: [written.thread],
      readStates: written.readStates,
      user: written.users,
      patient: written.patient ? [written.patient] : [],
    },
  );
  const others = written.readStates
    .map((state) => state.userId)
    .filter((id) => id !== message.senderId && !viewing.has(id));
  await createNotifications(
    trx,
    record,
    thread.tenantId,
    others.map((userId) => ({
      userId,
      kind: 'NEW_MESSAGE',
      priority: 'NORMAL',
      title: `New message from ${senderName}`,
      threadId: thread.id,
    })),
  );
  return row;
}

export async function createThread(ctx: Context, input: CreateThreadInput): Promise<ThreadRow> {
  const viewer = requireViewer(ctx.viewer);
  const subject = requiredText(input.subject, 'subject', { max: 200 });
  const body = optionalText(input.body, 'body', MAX_BODY);
  const others = [...new Set(input.participantIds)].filter((id) => id !== viewer.userId);
  if (others.length < 1 || others.length > 50)
    throw badInput('participantIds must name 1 to 50 other staff members', 'participantIds');
  const found = others.every(isUuid) ? await usersByIds(ctx.db, viewer.tenantId, others) : [];
  if (found.length !== others.length)
    throw badInput('participantIds must all name users of your clinic', 'participantIds');
  if (input.patientId) {
    const [patient] = isUuid(input.patientId) ? await patientsByIds(ctx.db, viewer.tenantId, [input.patientId]) : [];
    if (!patient) throw badInput('patientId does not name a patient of your clinic', 'patientId');
  }
  return commitChange(ctx, viewer.tenantId, async (trx, record) => {
    const thread = await insertThread(
      trx,
      viewer.tenantId,
      { subject, patientId: input.patientId ?? null, createdBy: viewer.userId },
      [viewer.userId, ...others],
    );
    // Nobody can have a thread open before it exists.
    if (body) await postMessage(ctx, trx, record, thread, viewer.name, { senderId: viewer.userId, body }, new Set());
    return thread;
  });
}

/**
 * Drops what this operation's loaders cached of a thread before changing it (the access check reads the thread and
 * its read states), so that the mutation's answer shows the thread as it is after the change.
 */
function forgetThread(ctx: Context, threadId: string): void {
  ctx.loaders.thread.clear(threadId);
  ctx.loaders.readStates.clear(threadId);
  ctx.loaders.lastMessage.clear(threadId);
  ctx.loaders.unreadCount.clear(threadId);
}

export async function sendMessage(ctx: Context, threadId: string, bodyInput: string): Promise<MessageRow> {
  const viewer = requireViewer(ctx.viewer);
  const body = requiredText(bodyInput, 'body', { max: MAX_BODY });
  // Who has the thread open is read before the transaction, so that no Redis round trip holds the thread's rows
  // locked, and with the access check, whose refusal stands whatever it reads (nothing, for an id that is no
  // thread's).
  const [thread, viewing] = await Promise.all([
    requireThreadAccess(ctx, threadId),
    isUuid(threadId)
      ? threadViewerIds(ctx, viewer, threadId).catch((err: Error) => {
          ctx.log.warn(
            { err: { message: err.message } },
            'could not read who views the thread; notifying every participant',
          );
          return new Set<string>();
        })
      : new Set<string>(),
  ]);
  const message = await commitChange(ctx, viewer.tenantId, (trx, record) =>
    postMessage(ctx, trx, record, thread, viewer.name, { senderId: viewer.userId, body }, viewing),
  );
  forgetThread(ctx, thread.id);
  await stopTyping(ctx, thread.id);
  return message;
}

export async function markThreadRead(
  ctx: Context,
  threadId: string,
  messageId: string | null | undefined,
): Promise<ThreadRow> {
  const viewer = requireViewer(ctx.viewer);
  const thread = await requireThreadAccess(ctx, threadId);
  await commitChange(ctx, viewer.tenantId, async (trx, record) => {
    let target: MessageRow | undefined;
    if (messageId) {
      target = isUuid(messageId) ? await messageInThread(trx, viewer.tenantId, thread.id, messageId) : undefined;
      if (!target) throw badInput('messageId does not name a message of this thread', 'messageId');
    } else {
      target = await newestMessage(trx, viewer.tenantId, thread.id);
    }
    if (!target) return;
    const advanced = await advanceReadState(trx, viewer.tenantId, thread.id, viewer.userId, target);
    if (advanced) {
      record([
        {
          topic: 'readReceipt',
          kind: 'READ',
          entityId: target.id,
          threadId: thread.id,
          userId: viewer.userId,
          data: { seq: target.seq },
        },
      ]);
    }
    // What was read needs no "new message" notification any more (the unread count follows from these events).
    const cleared = await markThreadNotificationsRead(trx, viewer.tenantId, viewer.userId, thread.id, target.id);
    if (cleared.length) {
      record(
        cleared.map((n) => ({
          topic: 'notification' as const,
          kind: 'READ' as const,
          entityId: n.id,
          userId: n.userId,
        })),
      );
    }
  });
  forgetThread(ctx, thread.id);
  return thread;
}
