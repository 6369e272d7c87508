import type { Db, Trx } from '../../db/knex.js';
import type { NotificationKind, NotificationRow, Priority } from '../../db/rows.js';
import type { RecordEvents } from '../../events/outbox.js';

export interface NewNotification {
  userId: string;
  kind: NotificationKind;
  priority: Priority;
  /** A short headline: never a message body or a diagnosis. */
  title: string;
  taskId?: string | null;
  threadId?: string | null;
  patientId?: string | null;
}

/** The one way notifications are created: rows and their events, in the caller's transaction. */
export async function createNotifications(
  trx: Trx,
  record: RecordEvents,
  tenantId: string,
  notes: NewNotification[],
): Promise<NotificationRow[]> {
  if (notes.length === 0) return [];
  const rows = (await trx('notifications')
    .insert(notes.map((n) => ({ ...n, tenantId })))
    .returning('*')) as NotificationRow[];
  record(
    rows.map((n) => ({
      topic: 'notification' as const,
      kind: 'CREATED' as const,
      entityId: n.id,
      userId: n.userId,
      data: { kind: n.kind, priority: n.priority },
    })),
    { notification: rows },
  );
  return rows;
}

export async function notificationsByIds(db: Db, tenantId: string, ids: string[]): Promise<NotificationRow[]> {
  return db<NotificationRow>('notifications').where({ tenantId }).whereIn('id', ids);
}

export async function listNotifications(
  db: Db,
  tenantId: string,
  userId: string,
  unreadOnly: boolean,
  limit: number,
): Promise<NotificationRow[]> {
  const query = db<NotificationRow>('notifications')
    .where({ tenantId, userId })
    .orderBy([
      { column: 'createdAt', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(limit);
  if (unreadOnly) query.whereNull('readAt');
  return query;
}

export async function unreadNotificationCount(db: Db, tenantId: string, userId: string): Promise<number> {
  const row = await db('notifications')
    .where({ tenantId, userId })
    .whereNull('readAt')
    .count<{ count: number }[]>('* as count')
    .first();
  return Number(row?.count ?? 0);
}

export async function lockNotification(trx: Trx, tenantId: string, userId: string, id: string) {
  return trx<NotificationRow>('notifications').where({ tenantId, userId, id }).forUpdate().first();
}

/** Marks unread notifications read (all of the user's, or those listed); returns the rows that changed. */
export async function markNotificationsRead(
  trx: Trx,
  tenantId: string,
  userId: string,
  ids?: string[],
): Promise<NotificationRow[]> {
  const query = trx<NotificationRow>('notifications').where({ tenantId, userId }).whereNull('readAt');
  if (ids) query.whereIn('id', ids);
  return (await query.update({ readAt: trx.fn.now() as unknown as Date }).returning('*')) as NotificationRow[];
}

/**
 * Marks read the user's unread "new message" notifications of a thread, for messages up to `upToMessageId` (compared
 * by creation time in SQL, to the microsecond: a notification is created in the same transaction as its message, so
 * at the same `now()`); returns the rows that changed.
 */
export async function markThreadNotificationsRead(
  trx: Trx,
  tenantId: string,
  userId: string,
  threadId: string,
  upToMessageId: string,
): Promise<NotificationRow[]> {
  return (await trx<NotificationRow>('notifications')
    .where({ tenantId, userId, threadId, kind: 'NEW_MESSAGE' })
    .whereNull('readAt')
    .andWhereRaw('created_at <= (select m.created_at from messages m where m.tenant_id = ? and m.id = ?)', [
      tenantId,
      upToMessageId,
    ])
    .update({ readAt: trx.fn.now() as unknown as Date })
    .returning('*')) as NotificationRow[];
}
