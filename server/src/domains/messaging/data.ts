import { firstRow, rowOfJson, type Db, type Trx } from '../../db/knex.js';
import type { MessageRow, PatientRow, ReadStateRow, ThreadRow, UserRow } from '../../db/rows.js';

export async function threadsByIds(db: Db, tenantId: string, ids: string[]): Promise<ThreadRow[]> {
  return db<ThreadRow>('threads').where({ tenantId }).whereIn('id', ids);
}

/** The threads a user takes part in, most recently active first. */
export async function threadsOfUser(db: Db, tenantId: string, userId: string, limit: number): Promise<ThreadRow[]> {
  return db<ThreadRow>('threads')
    .join('threadParticipants as p', 'p.threadId', 'threads.id')
    .where({ 'threads.tenantId': tenantId, 'p.userId': userId })
    .orderBy([
      { column: 'threads.lastActivityAt', order: 'desc' },
      { column: 'threads.id', order: 'desc' },
    ])
    .limit(limit)
    .select('threads.*');
}

export async function isParticipant(
  db: Db | Trx,
  tenantId: string,
  threadId: string,
  userId: string,
): Promise<boolean> {
  const row = await db('threadParticipants').where({ tenantId, threadId, userId }).first('userId');
  return row !== undefined;
}

export async function messagesByIds(db: Db, tenantId: string, ids: string[]): Promise<MessageRow[]> {
  return db<MessageRow>('messages').where({ tenantId }).whereIn('id', ids);
}

/** The newest `limit` messages before `beforeSeq` (or the newest of all), returned oldest first. */
export async function messagesPage(
  db: Db,
  tenantId: string,
  threadId: string,
  limit: number,
  beforeSeq: number | null,
): Promise<MessageRow[]> {
  const query = db<MessageRow>('messages').where({ tenantId, threadId }).orderBy('seq', 'desc').limit(limit);
  if (beforeSeq !== null) query.andWhere('seq', '<', beforeSeq);
  return (await query).reverse();
}

export async function lastMessagesByThreads(db: Db, tenantId: string, threadIds: string[]): Promise<MessageRow[]> {
  return db<MessageRow>('messages')
    .distinctOn('threadId')
    .where({ tenantId })
    .whereIn('threadId', threadIds)
    .orderBy([{ column: 'threadId' }, { column: 'seq', order: 'desc' }]);
}

export async function readStatesByThreads(
  db: Db | Trx,
  tenantId: string,
  threadIds: string[],
): Promise<ReadStateRow[]> {
  return db<ReadStateRow>('threadParticipants').where({ tenantId }).whereIn('threadId', threadIds);
}

/** A participant's unread messages: after their read position, from someone else; one row per message and reader. */
function unreadQuery(db: Db, tenantId: string) {
  return db('messages as m')
    .join('threadParticipants as p', 'p.threadId', 'm.threadId')
    .where('m.tenantId', tenantId)
    .andWhereRaw('m.seq > p.last_read_seq')
    .andWhereRaw('m.sender_id <> p.user_id');
}

/** Whose unread count of which thread: `unreadCountsOf` answers by this key. */
export const unreadKey = (userId: string, threadId: string) => `${userId}:${threadId}`;

/**
 * Messages from others that each user has not read, per thread, for any number of (user, thread) pairs in one
 * statement: the participants of an event's thread, each in a delivery group of their own, are counted at once
 * (loaders.ts). Keyed by `unreadKey`; a pair with nothing unread is absent.
 */
export async function unreadCountsOf(
  db: Db,
  tenantId: string,
  pairs: readonly { userId: string; threadId: string }[],
): Promise<Map<string, number>> {
  const rows = (await unreadQuery(db, tenantId)
    .whereIn('p.userId', [...new Set(pairs.map((p) => p.userId))])
    .whereIn('m.threadId', [...new Set(pairs.map((p) => p.threadId))])
    .groupBy('p.userId', 'm.threadId')
    .select('p.userId', 'm.threadId')
    .count('* as count')) as { userId: string; threadId: string; count: number }[];
  return new Map(rows.map((r) => [unreadKey(r.userId, r.threadId), Number(r.count)]));
}

export async function totalUnreadCount(db: Db, tenantId: string, userId: string): Promise<number> {
  const row = (await unreadQuery(db, tenantId).where('p.userId', userId).count('* as count').first()) as
    { count: number } | undefined;
  return Number(row?.count ?? 0);
}

export async function insertThread(
  trx: Trx,
  tenantId: string,
  thread: Pick<ThreadRow, 'subject' | 'patientId' | 'createdBy'>,
  participants: string[],
): Promise<ThreadRow> {
  const [row] = (await trx<ThreadRow>('threads')
    .insert({ ...thread, tenantId })
    .returning('*')) as ThreadRow[];
  await trx('threadParticipants').insert(participants.map((userId) => ({ tenantId, threadId: row.id, userId })));
  return row;
}

/**
 * Posting a message, in one statement: the thread's update, the message's insert and the sender's read position are
 * data-modifying `with`s, and every participant's read state is read beside them, the sender's as its update returned
 * it (the statement's own reads see the tables as they were before it: PostgreSQL's "Data-Modifying Statements in
 * WITH"). So are the rows the message's delivery shows and no write here changes: every participant's user (the sender
 * is one) and the thread's patient, if it names one. The rows come back whole as JSON (`rowOfJson`).
 *
 * The thread's row is updated first and the message inserted from what that update returned, so a message takes its
 * number (`seq`, a sequence shared by all threads) only once it holds its thread's row, until its commit: a thread's
 * messages are numbered in the order they commit. Read positions, unread counts and the thread's last message all
 * compare numbers; a message numbered before another but committed after it would pass as read by whoever had read
 * the other, and a thread's newest message would not be its last. It also makes the message the thread's last one, as
 * the delivery shows it (`CommittedRows.lastMessage`). `current_timestamp` is the transaction's start, the message's
 * `created_at` too. The sender's update is `advanceReadState`'s, on the message just inserted (its foreign key to the
 * message is checked at the end of the statement, once the message is there).
 */
const POST_MESSAGE = `with t as (
    update threads set last_activity_at = current_timestamp where tenant_id = ? and id = ? returning *
  ), m as (
    insert into messages (tenant_id, thread_id, sender_id, body) select t.tenant_id, t.id, ?, ? from t returning *
  ), r as (
    update thread_participants p
    set last_read_seq = m.seq, last_read_message_id = m.id, last_read_at = current_timestamp
    from m
    where p.tenant_id = m.tenant_id and p.thread_id = m.thread_id and p.user_id = m.sender_id
      and p.last_read_seq < m.seq
    returning p.*
  )
  select to_jsonb(m) as message, (select to_jsonb(t) from t) as thread,
    (select coalesce(jsonb_agg(coalesce((select to_jsonb(r) from r where r.user_id = p.user_id), to_jsonb(p))), '[]')
      from thread_participants p where p.tenant_id = m.tenant_id and p.thread_id = m.thread_id) as read_states,
    (select coalesce(jsonb_agg(to_jsonb(u)), '[]')
      from thread_participants p join users u on u.tenant_id = p.tenant_id and u.id = p.user_id
      where p.tenant_id = m.tenant_id and p.thread_id = m.thread_id) as users,
    (select to_jsonb(pt) from t join patients pt on pt.tenant_id = t.tenant_id and pt.id = t.patient_id) as patient
  from m`;

/**
 * Stores a message, makes it the thread's latest activity and its sender's read position. Returns the message, the
 * thread as updated, every participant's read state after it (whom to notify), and the participants' users and the
 * thread's patient as the statement read them: the delivery's loaders start from all of these instead of reading them
 * back after the commit (events/outbox.ts `CommittedRows`). One round trip (`POST_MESSAGE`).
 */
export async function insertMessage(
  trx: Trx,
  tenantId: string,
  message: Pick<MessageRow, 'threadId' | 'senderId' | 'body'>,
): Promise<{
  message: MessageRow;
  thread: ThreadRow;
  readStates: ReadStateRow[];
  users: UserRow[];
  patient: PatientRow | undefined;
}> {
  const posted = await firstRow<{
    message: unknown;
    thread: unknown;
    readStates: unknown[];
    users: unknown[];
    patient: unknown;
  }>(trx, POST_MESSAGE, [tenantId, message.threadId, message.senderId, message.body]);
  return {
    message: rowOfJson<MessageRow>(posted!.message)!,
    thread: rowOfJson<ThreadRow>(posted!.thread)!,
    readStates: posted!.readStates.map((state) => rowOfJson<ReadStateRow>(state)!),
    users: posted!.users.map((user) => rowOfJson<UserRow>(user)!),
    patient: rowOfJson<PatientRow>(posted!.patient),
  };
}

/** Moves a participant's read position forward to `message`; returns null when it was already there or beyond. */
export async function advanceReadState(
  trx: Trx,
  tenantId: string,
  threadId: string,
  userId: string,
  message: Pick<MessageRow, 'id' | 'seq'>,
): Promise<ReadStateRow | null> {
  const [row] = (await trx<ReadStateRow>('threadParticipants')
    .where({ tenantId, threadId, userId })
    .andWhere('lastReadSeq', '<', message.seq)
    .update({ lastReadSeq: message.seq, lastReadMessageId: message.id, lastReadAt: trx.fn.now() as unknown as Date })
    .returning('*')) as ReadStateRow[];
  return row ?? null;
}

export async function newestMessage(trx: Trx, tenantId: string, threadId: string): Promise<MessageRow | undefined> {
  return trx<MessageRow>('messages').where({ tenantId, threadId }).orderBy('seq', 'desc').first();
}

export async function messageInThread(
  trx: Trx,
  tenantId: string,
  threadId: string,
  id: string,
): Promise<MessageRow | undefined> {
  return trx<MessageRow>('messages').where({ tenantId, threadId, id }).first();
}
