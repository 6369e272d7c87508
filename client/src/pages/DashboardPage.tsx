import { useSubscription } from '@apollo/client/react';
import {
  ConnectionDashboardDocument,
  type ConnectionDashboardSubscription,
  type DashboardConnectionRowFragment,
} from '../__generated__/graphql';
import { LatencyChart } from '../components/dashboard/LatencyChart';
import { Avatar } from '../components/ui/Avatar';
import { Empty, ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';
import { formatRelative, formatTime } from '../lib/time';
import { useCurrentUser } from '../session/SessionContext';

type Dashboard = ConnectionDashboardSubscription['connectionDashboard'];

const TRANSPORT = { WEBSOCKET: 'WebSocket', SSE: 'SSE' } as const;
const STATUS = { ONLINE: 'Online', AWAY: 'Away', BUSY: 'Busy', OFFLINE: 'Offline' } as const;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
/** Instances are told apart by the start of their id: enough among the few that serve one clinic. */
const shortId = (id: string) => id.slice(0, 8);

function Connections({ connections, timeZone }: { connections: DashboardConnectionRowFragment[]; timeZone: string }) {
  if (connections.length === 0) return <span className="dash-muted">No open connection</span>;
  return (
    <ul className="dash-connections">
      {connections.map((c) => (
        <li key={c.id}>
          {TRANSPORT[c.transport]} on <span className="mono">{shortId(c.instanceId)}</span> ·{' '}
          {plural(c.subscriptions, 'subscription')} · since {formatTime(c.openedAt, timeZone)}
        </li>
      ))}
    </ul>
  );
}

function Users({ dashboard, timeZone }: { dashboard: Dashboard; timeZone: string }) {
  if (dashboard.users.length === 0) return <p className="panel-muted">Nobody is connected.</p>;
  return (
    <ul className="dash-rows" aria-label="Staff connections">
      {dashboard.users.map(({ user, status, subscriptions, connections }) => (
        <li key={user.id} className="dash-row" data-user-id={user.id}>
          <Avatar id={user.id} name={user.name} size={32} status={status === 'OFFLINE' ? undefined : status} />
          <div className="dash-row-main">
            <p className="dash-row-title">
              {user.name} <span className={`dash-status dash-status-${status.toLowerCase()}`}>{STATUS[status]}</span>
            </p>
            <Connections connections={connections} timeZone={timeZone} />
          </div>
          <p className="dash-row-count">
            {plural(connections.length, 'connection')}
            <br />
            {plural(subscriptions, 'subscription')}
          </p>
        </li>
      ))}
    </ul>
  );
}

function Clients({ dashboard, timeZone }: { dashboard: Dashboard; timeZone: string }) {
  if (dashboard.integrationClients.length === 0) return <p className="panel-muted">No integration client.</p>;
  return (
    <ul className="dash-rows" aria-label="Integration clients">
      {dashboard.integrationClients.map(({ client, lastActiveAt, subscriptions, connections }) => (
        <li key={client.id} className="dash-row">
          <div className="dash-row-main">
            <p className="dash-row-title">{client.name}</p>
            <p className="dash-muted">
              Last active{' '}
              {lastActiveAt ? <time dateTime={lastActiveAt}>{formatRelative(lastActiveAt, timeZone)}</time> : 'never'}
            </p>
            <Connections connections={connections} timeZone={timeZone} />
          </div>
          <p className="dash-row-count">
            {plural(connections.length, 'connection')}
            <br />
            {plural(subscriptions, 'subscription')}
          </p>
        </li>
      ))}
    </ul>
  );
}

/**
 * The admin connection dashboard (docs/architecture.md, "Connection dashboard"): the clinic's connections on every
 * server instance, who is online, delivery latency and errors over the last minutes, kept live by one subscription.
 * Transient: it stays out of the normalized cache.
 */
export function DashboardPage() {
  const me = useCurrentUser();
  const timeZone = me.tenant.timeZone;
  const { data, error } = useSubscription(ConnectionDashboardDocument, {
    skip: me.role !== 'ADMIN',
    fetchPolicy: 'no-cache',
  });
  if (me.role !== 'ADMIN') {
    return (
      <div className="page">
        <Empty title="Administrators only">The connection dashboard is for the clinic's administrators.</Empty>
      </div>
    );
  }
  const dashboard = data?.connectionDashboard;
  const minutes = dashboard ? Math.round(dashboard.windowSeconds / 60) : 5;
  return (
    // Focusable: the page scrolls, and holds nothing else a keyboard could reach it by.
    <div className="page dashboard" tabIndex={0} role="region" aria-labelledby="dash-title">
      <header className="page-header">
        <div>
          <h1 id="dash-title">Connections</h1>
          <p className="page-sub">
            {dashboard
              ? `Live · updated ${formatTime(dashboard.at, timeZone)} · ${plural(dashboard.instances.length, 'server instance')}`
              : 'Connecting…'}
          </p>
        </div>
      </header>
      {error && <ErrorNotice>{errorMessage(error)}</ErrorNotice>}
      {!dashboard ? (
        !error && <Loading />
      ) : (
        <div className="dash-grid">
          <section className="panel dash-wide" aria-labelledby="dash-users">
            <div className="panel-header">
              <h2 id="dash-users">Staff</h2>
              <span className="dash-muted">
                {plural(dashboard.users.filter((u) => u.status !== 'OFFLINE').length, 'online', 'online')}
              </span>
            </div>
            <Users dashboard={dashboard} timeZone={timeZone} />
          </section>
          <section className="panel dash-wide" aria-labelledby="dash-latency">
            <div className="panel-header">
              <h2 id="dash-latency">Delivery latency, last {minutes} minutes</h2>
            </div>
            <LatencyChart points={dashboard.latency} timeZone={timeZone} />
          </section>
          <section className="panel" aria-labelledby="dash-errors">
            <div className="panel-header">
              <h2 id="dash-errors">Errors, last {minutes} minutes</h2>
            </div>
            <ul className="dash-list">
              <li>
                <span>Slow consumers ended</span>
                <strong>{dashboard.slowConsumers}</strong>
              </li>
              {dashboard.errors.map((e) => (
                <li key={e.code}>
                  <span className="mono">{e.code}</span>
                  <strong>{e.count}</strong>
                </li>
              ))}
            </ul>
            {dashboard.errors.length === 0 && <p className="panel-muted">No errors.</p>}
          </section>
          <section className="panel" aria-labelledby="dash-instances">
            <div className="panel-header">
              <h2 id="dash-instances">Server instances</h2>
            </div>
            <ul className="dash-list" aria-label="Server instances">
              {dashboard.instances.map((i) => (
                <li key={i.id}>
                  <span className="mono">{shortId(i.id)}</span>
                  <span>
                    {plural(i.connections, 'connection')}, {plural(i.subscriptions, 'subscription')}
                  </span>
                </li>
              ))}
            </ul>
          </section>
          <section className="panel dash-wide" aria-labelledby="dash-clients">
            <div className="panel-header">
              <h2 id="dash-clients">Integration clients</h2>
            </div>
            <Clients dashboard={dashboard} timeZone={timeZone} />
          </section>
        </div>
      )}
    </div>
  );
}
