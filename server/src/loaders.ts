import DataLoader from 'dataloader';
import type { Viewer } from './auth/tokens.js';
import type { Db } from './db/knex.js';
import { tenantsByIds, usersByIds } from './domains/identity/data.js';
import {
  lastMessagesByThreads,
  messagesByIds,
  readStatesByThreads,
  threadsByIds,
  unreadCountsOf,
  unreadKey,
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

/** Rows by the value of one of their fields, each value's rows in their order. */
export function groupRows<R>(rows: readonly R[], field: keyof R): Map<string, R[]> {
  const groups = new Map<string, R[]>();
  for (const row of rows) {
    const key = String(row[field]);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return groups;
}

/** A loader of all rows sharing a field value (one-to-many), one query per batch. */
function groupLoader<R>(load: (ids: string[]) => Promise<R[]>, field: keyof R): DataLoader<string, R[]> {
  return new DataLoader(async (keys) => {
    const ids = [...new Set(keys.filter(isUuid))];
    const groups = groupRows(ids.length ? await load(ids) : [], field);
    return keys.map((key) => groups.get(key) ?? []);
  });
}

/**
 * Batch loaders bound to one tenant: the N+1 pattern never reaches SQL, and no loader can read across clinics.
 * They read nothing that depends on who asks, so one set can serve every subscriber of a tenant that receives the
 * same event. (`unreadCounts` is keyed by the user it counts for, and asked only through that user's own loader.)
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
    /**
     * Unread counts by (user, thread), for the viewers' own `unreadCount` loaders to share: the
     * participants of a thread that a message reached, each in a delivery group of their own, are counted in one
     * statement instead of one each. It caches nothing (each viewer's loader does, and is cleared by the mutations).
     */
    unreadCounts: new DataLoader<{ userId: string; threadId: string }, number>(
      async (pairs) => {
        const counts = await unreadCountsOf(db, t, pairs);
        return pairs.map((pair) => counts.get(unreadKey(pair.userId, pair.threadId)) ?? 0);
      },
      { cache: false },
    ),
  };
}
export type TenantLoaders = ReturnType<typeof createTenantLoaders>;

/** Loaders whose answers depend on who asks, reading through the tenant's where they can share a statement. */
function createViewerLoaders(viewer: Viewer, shared: TenantLoaders) {
  return {
    unreadCount: new DataLoader<string, number>((threadIds) =>
      Promise.all(
        threadIds.map((id) =>
          // Unread counts are a staff member's own (`Thread.unreadCount` is @staffOnly).
          viewer.kind === 'user' && isUuid(id) ? shared.unreadCounts.load({ userId: viewer.userId, threadId: id }) : 0,
        ),
      ),
    ),
  };
}

/** Per-operation loaders: the tenant's (fresh, or shared by the subscribers of one event) plus the viewer's own. */
export function createLoaders(
  db: Db,
  viewer: Viewer,
  shared: TenantLoaders = createTenantLoaders(db, viewer.tenantId),
) {
  return { ...shared, ...createViewerLoaders(viewer, shared) };
}

export type Loaders = ReturnType<typeof createLoaders>;

/** Loads a row that a foreign key guarantees; its absence is a server fault, not a client's. */
export async function mustLoad<T>(loader: DataLoader<string, T | null>, id: string, what: string): Promise<T> {
  const row = await loader.load(id);
  if (row === null) throw new Error(`${what} ${id} is missing`);
  return row;
}
