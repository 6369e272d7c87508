import { describe, expect, it } from 'vitest';
import { waitingOnLock } from '../helpers/locks.js';
import { subscribeLive } from '../helpers/realtime.js';
import { useSockets, useTestServer } from '../helpers/setup.js';
import type { GraphQLResponse } from '../helpers/testServer.js';

// A second connection holds the thread's row while a message waits on it: the embedded database has one connection,
// on which the message would wait for ever. PostgreSQL only.
const t = useTestServer();
const sockets = useSockets(t);

const CREATE_THREAD = 'mutation($i: CreateThreadInput!) { createThread(input: $i) { id } }';
const SEND = 'mutation($t: ID!, $b: String!) { sendMessage(threadId: $t, body: $b) { id } }';
const WATCH = `subscription($threadId: ID) {
  messageAdded(threadId: $threadId) { message { id thread { id lastMessage { id } unreadCount } } }
}`;
const READ = `query($t: ID!) {
  thread(id: $t) { lastMessage { id } unreadCount }
  messages(threadId: $t) { edges { node { id } } }
}`;

describe('a message that waited on another change of its thread', () => {
  it('comes after the message that committed first: in the thread, as its last message, and as unread', async () => {
    const { server, sunrise } = t;
    const { db } = server.app.services;
    const [lee, nurse] = await Promise.all([t.token('lee'), t.token('nurse')]);
    const created = await server.gql(
      CREATE_THREAD,
      { i: { subject: 'Biopsy follow-up', participantIds: [sunrise.users.nurse] } },
      lee,
    );
    expect(created.errors).toBeUndefined();
    const threadId = created.data!.createThread.id as string;
    const watch = await subscribeLive(server, sockets.open(nurse), WATCH, { threadId });

    // Another change holds the thread and writes a message of its own while Dr. Lee's comes in.
    const other = await db.transaction();
    let sent: Promise<GraphQLResponse> | undefined;
    let first: string;
    try {
      await other('threads').where({ id: threadId }).forUpdate().first();
      sent = server.gql(SEND, { t: threadId, b: 'The second biopsy is benign' }, lee);
      await waitingOnLock(db, 'insert into messages');
      [{ id: first }] = (await other('messages')
        .insert({
          tenantId: sunrise.tenantId,
          threadId,
          senderId: sunrise.users.lee,
          body: 'The first biopsy is benign',
        })
        .returning('id')) as { id: string }[];
      await other.commit();
    } finally {
      if (!other.isCompleted()) await other.rollback();
    }
    const answer = (await sent)!;
    expect(answer.errors).toBeUndefined();
    const second = answer.data!.sendMessage.id as string;

    // The nurse sees the message that committed last as the thread's last, both unread, in the order they committed.
    const [event] = await watch.waitFor(1);
    expect(event.data!.messageAdded.message).toEqual({
      id: second,
      thread: { id: threadId, lastMessage: { id: second }, unreadCount: 2 },
    });
    const read = await server.gql(READ, { t: threadId }, nurse);
    expect(read.errors).toBeUndefined();
    expect(read.data!.thread).toEqual({ lastMessage: { id: second }, unreadCount: 2 });
    expect(read.data!.messages.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([first, second]);
  });
});
