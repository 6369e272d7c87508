import type { Collected } from './ws.js';

/** The admin connection dashboard, with what the tests look at. */
export const CONNECTION_DASHBOARD = `subscription {
  connectionDashboard {
    at windowSeconds slowConsumers
    instances { id connections subscriptions reportedAt }
    users { status subscriptions user { id name } connections { id instanceId transport subscriptions openedAt } }
    integrationClients { lastActiveAt subscriptions client { id name } connections { id transport subscriptions } }
    latency { start deliveries meanMs maxMs }
    errors { code count }
  }
}`;

export interface DashboardConnection {
  id: string;
  instanceId: string;
  transport: 'WEBSOCKET' | 'SSE';
  subscriptions: number;
}

export interface Dashboard {
  windowSeconds: number;
  slowConsumers: number;
  instances: Array<{ id: string; connections: number; subscriptions: number }>;
  users: Array<{ status: string; subscriptions: number; user: { id: string }; connections: DashboardConnection[] }>;
  integrationClients: Array<{
    lastActiveAt: string | null;
    subscriptions: number;
    client: { id: string };
    connections: DashboardConnection[];
  }>;
  latency: Array<{ start: string; deliveries: number; meanMs: number | null; maxMs: number | null }>;
  errors: Array<{ code: string; count: number }>;
}

/** The newest snapshot a dashboard subscription received (throws when none yet, for `vi.waitFor`). */
export function latestDashboard(seen: Collected): Dashboard {
  const last = seen.results[seen.results.length - 1];
  if (!last?.data) throw new Error(`no dashboard yet: ${JSON.stringify(seen.results)}`);
  return last.data.connectionDashboard as Dashboard;
}

/** A user's row on the dashboard, if shown. */
export const rowOf = (dashboard: Dashboard, userId: string) => dashboard.users.find((u) => u.user.id === userId);
