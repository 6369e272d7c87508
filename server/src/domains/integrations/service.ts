import type { IntegrationViewer } from '../../auth/tokens.js';
import type { Db } from '../../db/knex.js';
import { tenantChannel, type IntegrationRevokedSignal } from '../../events/channels.js';
import type { Logger } from '../../logger.js';
import type { Realtime } from '../../realtime/service.js';
import type { ClinicStanding } from '../clinics/standing.js';
import { inactiveClientIds, integrationClientAtDoor, touchIntegrationClient } from './data.js';

/** A client's last activity is written at most this often per instance (`lastUsedAt`, the connection dashboard). */
const ACTIVITY_WRITE_MS = 60_000;

/** A live connection of an integration client on this instance (a WebSocket or an SSE stream). */
interface LiveConnection {
  viewer: IntegrationViewer;
  close(): void;
}

export interface IntegrationServiceOptions {
  /**
   * How often this instance re-reads, in one query, whether the clients of its live connections are still active: the
   * backstop for a revocation signal that never came (pub/sub outage, a revocation by the operators' script without
   * Redis). @default 5000
   */
  recheckIntervalMs?: number;
}

/**
 * Revocation of integration clients, on every instance: a revoked client's tokens are refused on new requests and
 * connections (`isActive`), and its live connections close within seconds. The instance that revokes publishes a
 * signal on the tenant's channel and each instance closes its matching connections; a periodic re-check catches what
 * a lost signal would leave open.
 */
export class IntegrationService {
  private readonly live = new Set<LiveConnection>();
  private readonly timer: NodeJS.Timeout;
  private checking = false;
  /** When this instance last wrote each client's `lastUsedAt`. */
  private readonly activityWritten = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly realtime: Realtime,
    private readonly log: Logger,
    { recheckIntervalMs = 5000 }: IntegrationServiceOptions = {},
  ) {
    this.timer = setInterval(() => void this.recheck(), recheckIntervalMs).unref();
    realtime.onStop.push(() => clearInterval(this.timer));
  }

  /** Whether the token's client still exists in its tenant and is not revoked. One indexed read. */
  async isActive(viewer: IntegrationViewer): Promise<boolean> {
    return (await this.atDoor(viewer)).active;
  }

  /**
   * `isActive`, and the standing of the client's clinic (null when the client is not active), in the same one read:
   * what the door checks (auth/authenticate.ts).
   */
  async atDoor(viewer: IntegrationViewer): Promise<{ active: boolean; clinic: ClinicStanding | null }> {
    const client = await integrationClientAtDoor(this.db, viewer.clientId);
    const active = client !== undefined && client.tenantId === viewer.tenantId && client.revokedAt === null;
    if (active) this.noteActivity(viewer.clientId);
    return { active, clinic: active ? client : null };
  }

  /**
   * Closes `close` when the client is revoked, from now on. Returns the function that stops watching (call it when
   * the connection ends). Checks the client once more after listening, so a revocation between the token check and
   * now is not missed.
   */
  async track(viewer: IntegrationViewer, close: () => void): Promise<() => void> {
    const connection: LiveConnection = { viewer, close };
    const unsubscribe = await this.realtime.hub.subscribe<IntegrationRevokedSignal>(
      tenantChannel(viewer, 'integrations'),
      (signal) => {
        if (signal.clientId === viewer.clientId) this.end(connection, 'revocation signal');
      },
    );
    this.live.add(connection);
    const stop = () => {
      this.live.delete(connection);
      unsubscribe();
    };
    if (!(await this.isActive(viewer))) this.end(connection, 'revoked before tracking');
    return stop;
  }

  /** Tells every instance that a client was revoked. */
  async announceRevocation(tenantId: string, clientId: string): Promise<void> {
    const signal: IntegrationRevokedSignal = { clientId };
    await this.realtime.hub.publish(tenantChannel({ tenantId }, 'integrations'), signal);
  }

  /** The client called the API: its `lastUsedAt` is written, at most once a minute (never awaited, never thrown). */
  private noteActivity(clientId: string): void {
    const now = Date.now();
    if (now - (this.activityWritten.get(clientId) ?? 0) < ACTIVITY_WRITE_MS) return;
    if (this.activityWritten.size >= 10_000) {
      for (const [id, at] of this.activityWritten) if (now - at >= ACTIVITY_WRITE_MS) this.activityWritten.delete(id);
    }
    this.activityWritten.set(clientId, now);
    touchIntegrationClient(this.db, clientId).catch((err: Error) =>
      this.log.warn({ err: { message: err.message } }, "could not record the client's last activity"),
    );
  }

  private end(connection: LiveConnection, why: string): void {
    if (!this.live.delete(connection)) return;
    this.log.info(
      { clientId: connection.viewer.clientId, tenantId: connection.viewer.tenantId, why },
      'closing a revoked integration client connection',
    );
    connection.close();
  }

  private async recheck(): Promise<void> {
    if (this.checking || this.live.size === 0) return;
    this.checking = true;
    try {
      const ids = [...new Set([...this.live].map((c) => c.viewer.clientId))];
      const inactive = await inactiveClientIds(this.db, ids);
      for (const connection of [...this.live])
        if (inactive.has(connection.viewer.clientId)) this.end(connection, 'periodic check');
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'integration client re-check failed');
    } finally {
      this.checking = false;
    }
  }
}
