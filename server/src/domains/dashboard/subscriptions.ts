import { requirePermission } from '../../auth/roles.js';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import type { Services } from '../../context.js';
import { AsyncQueue } from '../../subscriptions/asyncQueue.js';
import { buildDashboard, type DashboardModel } from './snapshot.js';

/** The fastest pace of the dashboard: one snapshot a second at most, however much changes. */
const EMIT_MS = 1000;

/**
 * The clinic's dashboard as a stream (docs/architecture.md, "Connection dashboard"): watches the clinic on the
 * instance's board, and after each instance's snapshot arrives merges them all again, at most once every `EMIT_MS`. A
 * stream per subscriber: admins are few, and each snapshot is read for the clinic of the subscriber's own token.
 */
async function dashboardStream(services: Services, tenantId: string): Promise<AsyncIterableIterator<DashboardModel>> {
  const { board, db, presence, log, realtime } = services;
  let timer: NodeJS.Timeout | undefined;
  let building = false;
  let again = false;
  let lastEmit = 0;
  // Set once the board watches; read by the clean-up and by `emit`, which may both run before.
  const held: { watch?: Awaited<ReturnType<Services['board']['watch']>> } = {};
  const queue = new AsyncQueue<DashboardModel>(() => {
    clearTimeout(timer);
    held.watch?.stop();
    realtime.streams.closed();
  }, 10);
  realtime.streams.opened();

  const emit = async () => {
    timer = undefined;
    // An answer heard before `watch` resolved: built once it has.
    const { watch } = held;
    if (!watch) return schedule();
    building = true;
    try {
      lastEmit = Date.now();
      const model = await buildDashboard(db, presence, tenantId, watch.snapshots());
      queue.push(model);
    } catch (err) {
      // Tried again on the next change (instances report every few seconds while watched).
      log.warn({ err: { message: (err as Error).message } }, 'dashboard: could not build a snapshot');
    } finally {
      building = false;
      if (again && !queue.closed) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (queue.closed) return;
    if (building) {
      again = true;
      return;
    }
    timer ??= setTimeout(() => void emit(), Math.max(0, lastEmit + EMIT_MS - Date.now()));
  };

  held.watch = await board.watch(tenantId, schedule);
  if (queue.closed) held.watch.stop();
  // The first snapshot comes with the first instance's answer; without any (Redis away), an empty one after a second.
  timer ??= setTimeout(() => void emit(), EMIT_MS);
  return queue;
}

export const dashboardSubscriptions: Resolvers = {
  Subscription: {
    connectionDashboard: {
      subscribe: async (_parent: unknown, _args: unknown, ctx) => {
        const viewer = requirePermission(ctx.viewer, 'watchConnections');
        return dashboardStream(ctx.services, viewer.tenantId);
      },
      resolve: (model: DashboardModel) => model,
    },
  },
};
