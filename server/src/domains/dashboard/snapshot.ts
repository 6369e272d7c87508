import type { ResolversParentTypes } from '../../__generated__/resolvers-types.js';
import type { Db } from '../../db/knex.js';
import { mergeBuckets, WINDOW_MS } from '../../realtime/clinicActivity.js';
import type { BoardConnection, InstanceSnapshot } from '../../realtime/connectionBoard.js';
import { usersByIds } from '../identity/data.js';
import { integrationClientsOfTenant } from '../integrations/data.js';
import type { PresenceService } from '../presence/service.js';

export type DashboardModel = ResolversParentTypes['ConnectionDashboard'];
type ConnectionModel = ResolversParentTypes['DashboardConnection'];

const TRANSPORT = { ws: 'WEBSOCKET', sse: 'SSE' } as const;

/**
 * The clinic's dashboard from the latest snapshot of each instance (realtime/connectionBoard.ts), its presence and its
 * integration clients: two indexed reads of the clinic's own rows and one of presence. Everything is read for
 * `tenantId` (the watching admin's, from the token): an id that is not the clinic's finds nothing and is left out.
 */
export async function buildDashboard(
  db: Db,
  presence: PresenceService,
  tenantId: string,
  snapshots: readonly InstanceSnapshot[],
  now = Date.now(),
): Promise<DashboardModel> {
  const byCaller = new Map<string, ConnectionModel[]>();
  const connections = snapshots.flatMap((s) => s.connections.map((c) => ({ c, instanceId: s.instanceId })));
  connections.sort((a, b) => a.c.openedAt - b.c.openedAt || a.c.id.localeCompare(b.c.id));
  for (const { c, instanceId } of connections) {
    const key = callerKey(c);
    let list = byCaller.get(key);
    if (!list) byCaller.set(key, (list = []));
    list.push({
      id: c.id,
      instanceId,
      transport: TRANSPORT[c.transport],
      subscriptions: c.subscriptions,
      openedAt: new Date(c.openedAt),
    });
  }

  const online = await presence.online(tenantId);
  const status = new Map(online.map((p) => [p.userId, p.status]));
  const userIds = new Set([
    ...connections.filter(({ c }) => c.kind === 'user').map(({ c }) => c.callerId),
    ...online.map((p) => p.userId),
  ]);
  const [users, clients] = await Promise.all([
    usersByIds(db, tenantId, [...userIds]),
    integrationClientsOfTenant(db, tenantId, false),
  ]);

  const activity = mergeBuckets(
    snapshots.map((s) => s.activity),
    now,
  );
  const errors = new Map<string, number>();
  for (const bucket of activity) {
    for (const [code, count] of Object.entries(bucket.errors)) errors.set(code, (errors.get(code) ?? 0) + count);
  }

  return {
    at: new Date(now),
    windowSeconds: WINDOW_MS / 1000,
    instances: [...snapshots]
      .sort((a, b) => a.instanceId.localeCompare(b.instanceId))
      .map((s) => ({
        id: s.instanceId,
        connections: s.connections.length,
        subscriptions: sum(s.connections.map((c) => c.subscriptions)),
        reportedAt: new Date(s.at),
      })),
    users: users
      .map((user) => {
        const own = byCaller.get(`user:${user.id}`) ?? [];
        return { user, status: status.get(user.id) ?? 'OFFLINE', connections: own, subscriptions: countOf(own) };
      })
      .sort((a, b) => a.user.name.localeCompare(b.user.name) || a.user.id.localeCompare(b.user.id)),
    integrationClients: clients.map((client) => {
      const own = byCaller.get(`client:${client.id}`) ?? [];
      return { client, lastActiveAt: client.lastUsedAt, connections: own, subscriptions: countOf(own) };
    }),
    latency: activity.map((b) => ({
      start: new Date(b.start),
      deliveries: b.deliveries,
      meanMs: b.deliveries > 0 ? b.latencySumMs / b.deliveries : null,
      maxMs: b.deliveries > 0 ? b.latencyMaxMs : null,
    })),
    slowConsumers: sum(activity.map((b) => b.slowConsumers)),
    errors: [...errors]
      .map(([code, count]) => ({ code, count }))
      .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
  };
}

const callerKey = (c: BoardConnection) => `${c.kind === 'user' ? 'user' : 'client'}:${c.callerId}`;
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const countOf = (connections: ConnectionModel[]) => sum(connections.map((c) => c.subscriptions));
