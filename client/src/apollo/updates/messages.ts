import type { ApolloCache, Reference } from '@apollo/client';
import { rememberArrival } from './liveArrivals';
import { storeFieldArgs } from './storeFieldArgs';

export interface AddedMessage {
  __typename?: 'Message';
  id: string;
  createdAt: string;
  thread: { id: string };
}

type Edge = { __typename: 'MessageEdge'; cursor: string; node: Reference };
type Connection = { edges: readonly Edge[] };

/**
 * A new message (live, or the result of our own send) joins its thread's cached message list once (by id, in time
 * order), and its thread moves to the top of the thread list (or joins it: a new conversation someone started with
 * us). The thread's own fields (last message, activity, unread count) arrive normalized with the event. The thread is
 * remembered for a while, for a thread list read before it that is still on its way (`keepLiveArrivals`).
 */
export function addMessage(cache: ApolloCache, message: AddedMessage): void {
  const messageId = cache.identify({ __typename: 'Message', id: message.id });
  const threadId = cache.identify({ __typename: 'Thread', id: message.thread.id });
  if (!messageId || !threadId) return;
  rememberArrival(cache, 'threads', threadId);
  cache.modify<Record<string, unknown>>({
    id: 'ROOT_QUERY',
    fields: {
      messages(existing, { storeFieldName, readField, toReference }) {
        const connection = existing as Connection;
        if (storeFieldArgs(storeFieldName).threadId !== message.thread.id) return connection;
        if (connection.edges.some((e) => e.node.__ref === messageId)) return connection;
        // A live message has no page cursor; only the oldest page's startCursor is used to read further back.
        const edge: Edge = { __typename: 'MessageEdge', cursor: `live:${message.id}`, node: toReference(messageId)! };
        const edges = [...connection.edges, edge].sort((a, b) =>
          (readField<string>('createdAt', a.node) ?? '').localeCompare(readField<string>('createdAt', b.node) ?? ''),
        );
        return { ...connection, edges };
      },
      threads(existing, { readField, toReference }) {
        const list = existing as readonly Reference[];
        const others = list.filter((ref) => ref.__ref !== threadId);
        const activity = (ref: Reference) => readField<string>('lastActivityAt', ref) ?? '';
        const sorted = [toReference(threadId)!, ...others].sort((a, b) => activity(b).localeCompare(activity(a)));
        return sorted.length === list.length && sorted.every((r, i) => r.__ref === list[i].__ref) ? list : sorted;
      },
    },
  });
}
