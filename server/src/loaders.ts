import DataLoader from 'dataloader';
import type { Viewer } from './auth/tokens.js';
import type { Db } from './db/knex.js';
import { tenantsByIds, usersByIds } from './domains/identity/data.js';
import {
  lastMessagesByThreads,
  messagesByIds,
  readStatesByThreads,
  threadsByIds,
  unreadCountsByThreads,
} from './domains/messaging/data.js';
import { patientsByIds } from './domains/patients/data.js';
import { appointmentsByIds } from './domains/appointments/data.js';
import { notificationsByIds } from './domains/notifications/data.js';
import { tasksByIds } from './domains/tasks/data.js';
import { integrationClientsByIds } from './domains/integrations/data.js';
import { isUuid } from './validation.js';

/** A loader of rows by a unique field: one query per batch; ids that are not UUIDs never reach SQL. */
function rowLoader<R>(load: (ids: string[]) => Promise<R[]>, field: keyof R): DataLoader<string, R | null> {
  return new DataLoader(async (keys) => {
    const ids = [...new Set(keys.filter(isUuid))];
    const rows = ids.length ? await load(ids) : [];
    const index = new Map(rows.map((row) => [String(row[field]), row]));
    return keys.map((key) => index.get(key) ?? null);
  });
}

/** A loader of all rows sharing a field value (one-to-many), one query per batch. */
function groupLoader<R>(load: (ids: string[]) => Promise<R[]>, field: keyof R): DataLoader<string, R[]> {
  return new DataLoader(async (keys) => {
    const ids = [...new Set(keys.filter(isUuid))];
    const rows = ids.length ? await load(ids) : [];
    const groups = new Map<string, R[]>();
    for (const row of rows) {
      const key = String(row[field]);
      const group = groups.get(key);
      if (group) group.push(row);
      else groups.set(key, [row]);
    }
    return keys.map((key) => groups.get(key) ?? []);
  });
}

/**
 * Batch loaders bound to one tenant: the N+1 pattern never reaches SQL, and no loader can read across clinics.
 * They read nothing that depends on who asks, so one set can serve every subscriber of a tenant that receives the
 * same event.
 */
export function createTenantLoaders(db: Db, t: string) {
  return {
    tenant: rowLoader(
      (ids) =>
        tenantsByIds(
          db,
          ids.filter((id) => id === t),
        ),
      'id',
    ),
    user: rowLoader((ids) => usersByIds(db, t, ids), 'id'),
    patient: rowLoader((ids) => patientsByIds(db, t, ids), 'id'),
    thread: rowLoader((ids) => threadsByIds(db, t, ids), 'id'),
    message: rowLoader((ids) => messagesByIds(db, t, ids), 'id'),
    task: rowLoader((ids) => tasksByIds(db, t, ids), 'id'),
    readStates: groupLoader((ids) => readStatesByThreads(db, t, ids), 'threadId'),
    lastMessage: rowLoader((ids) => lastMessagesByThreads(db, t, ids), 'threadId'),
    appointment: rowLoader((ids) => appointmentsByIds(db, t, ids), 'id'),
    notification: rowLoader((ids) => notificationsByIds(db, t, ids), 'id'),
    integrationClient: rowLoader((ids) => integrationClientsByIds(db, t, ids), 'id'),
  };
}
export type TenantLoaders = ReturnType<typeof createTenantLoaders>;

/** Loaders whose answers depend on who asks. */
function createViewerLoaders(db: Db, viewer: Viewer) {
  return {
    unreadCount: new DataLoader<string, number>(async (threadIds) => {
      const ids = [...new Set(threadIds.filter(isUuid))];
      // Unread counts are a staff member's own (`Thread.unreadCount` is @staffOnly).
      const counts =
        ids.length && viewer.kind === 'user'
          ? await unreadCountsByThreads(db, viewer.tenantId, viewer.userId, ids)
          : new Map<string, number>();
      return threadIds.map((id) => counts.get(id) ?? 0);
    }),
  };
}

/** Per-operation loaders: the tenant's (fresh, or shared by the subscribers of one event) plus the viewer's own. */
export function createLoaders(
  db: Db,
  viewer: Viewer,
  shared: TenantLoaders = createTenantLoaders(db, viewer.tenantId),
) {
  return { ...shared, ...createViewerLoaders(db, viewer) };
}

export type Loaders = ReturnType<typeof createLoaders>;

/** Loads a row that a foreign key guarantees; its absence is a server fault, not a client's. */
export async function mustLoad<T>(loader: DataLoader<string, T | null>, id: string, what: string): Promise<T> {
  const row = await loader.load(id);
  if (row === null) throw new Error(`${what} ${id} is missing`);
  return row;
}
