import type { Db, Trx } from '../../db/knex.js';
import type { MessageRow, ReadStateRow, ThreadRow } from '../../db/rows.js';

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

export async function participantIds(db: Db | Trx, tenantId: string, threadId: string): Promise<string[]> {
  // Not pluck('userId'): knex plucks from the raw snake_case row, before the camelCase mapping, and gets undefined.
  const rows: { userId: string }[] = await db('threadParticipants').where({ tenantId, threadId }).select('userId');
  return rows.map((r) => r.userId);
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

export async function readStatesByThreads(db: Db, tenantId: string, threadIds: string[]): Promise<ReadStateRow[]> {
  return db<ReadStateRow>('threadParticipants').where({ tenantId }).whereIn('threadId', threadIds);
}

function unreadQuery(db: Db, tenantId: string, userId: string) {
  return db('messages as m')
    .join('threadParticipants as p', (j) => j.on('p.threadId', 'm.threadId').andOnVal('p.userId', userId))
    .where('m.tenantId', tenantId)
    .andWhereRaw('m.seq > p.last_read_seq')
    .andWhereNot('m.senderId', userId);
}

/** Messages from others that the user has not read, per thread. */
export async function unreadCountsByThreads(db: Db, tenantId: string, userId: string, threadIds: string[]) {
  const rows = (await unreadQuery(db, tenantId, userId)
    .whereIn('m.threadId', threadIds)
    .groupBy('m.threadId')
    .select('m.threadId')
    .count('* as count')) as { threadId: string; count: number }[];
  return new Map(rows.map((r) => [r.threadId, Number(r.count)]));
}

export async function totalUnreadCount(db: Db, tenantId: string, userId: string): Promise<number> {
  const row = (await unreadQuery(db, tenantId, userId).count('* as count').first()) as { count: number } | undefined;
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

/** Adds a message, moves the thread up, and counts it as read by its sender. */
export async function insertMessage(
  trx: Trx,
  tenantId: string,
  message: Pick<MessageRow, 'threadId' | 'senderId' | 'body'>,
): Promise<MessageRow> {
  const [row] = (await trx<MessageRow>('messages')
    .insert({ ...message, tenantId })
    .returning('*')) as MessageRow[];
  await trx('threads').where({ tenantId, id: row.threadId }).update({ lastActivityAt: row.createdAt });
  await advanceReadState(trx, tenantId, row.threadId, row.senderId, row);
  return row;
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
