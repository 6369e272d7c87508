import type { GraphQLResolveInfo } from 'graphql';
import type { Viewer } from './auth/tokens.js';
import type { Config } from './config.js';
import type { Db } from './db/knex.js';
import type { EventsCommitted } from './events/outbox.js';
import { unauthenticated } from './errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { createLoaders, type Loaders, type TenantLoaders } from './loaders.js';
import type { TokenService } from './auth/tokens.js';
import type { CallerLimits } from './auth/callerLimits.js';
import type { PasswordHashing } from './auth/passwords.js';
import type { AttemptThrottle } from './auth/throttle.js';
import type { IntegrationService } from './domains/integrations/service.js';
import type { SessionService } from './domains/identity/sessions.js';
import type { EventPruner } from './events/retention.js';
import type { Deadlines } from './realtime/deadlines.js';
import type { ConnectionBoard } from './realtime/connectionBoard.js';
import type { Realtime } from './realtime/service.js';
import type { PresenceService } from './domains/presence/service.js';
import type { ViewingService } from './domains/patients/viewing.js';
import type { AccessTransport } from './db/rows.js';
import { PatientReads, type AccessAuditWriter } from './domains/patients/accessAudit.js';
import type { SubscriberTransport } from './subscriptions/sink.js';
import type { DurableStreamOptions, SignalSource } from './subscriptions/sources.js';

/** Long-lived pieces shared by every request and connection of one server. */
export interface Services {
  config: Config;
  db: Db;
  log: Logger;
  tokens: TokenService;
  /** Pub/sub, the event feed and the hooks of the WebSocket side. */
  realtime: Realtime;
  /** Who is online, over all instances. */
  presence: PresenceService;
  /** Who has which patient's chart open. */
  viewing: ViewingService;
  /** Integration clients: revocation, and closing a revoked client's connections. */
  integrations: IntegrationService;
  /** Sign-outs: refused sessions, and closing their connections on every instance. */
  sessions: SessionService;
  /** Password and client-secret guessing: slow-down and lock-out per account and per source address. */
  throttle: AttemptThrottle;
  /** The bound on password hashes derived at once on this instance (`PASSWORD_HASH_CONCURRENCY`). */
  passwordHashing: PasswordHashing;
  /** Delivery groups of durable and signal subscriptions: one execution and one serialisation per group and event. */
  delivery: Delivery;
  /** Rates of operations and counts of live subscriptions per caller and per clinic, on every transport. */
  limits: CallerLimits;
  /** One timer for the deadlines of every connection (token expiry). */
  deadlines: Deadlines;
  /** Prunes the event log of what is older than `EVENT_RETENTION`, in small batches, every 10 minutes. */
  pruner: EventPruner;
  /** Writes the access audit's entries in batches (docs/architecture.md, "Access audit"). */
  audit: AccessAuditWriter;
  /** What the instance observes for Prometheus as it happens (metrics.ts; served at /metrics by http/metrics.ts). */
  metrics: Metrics;
  /** This instance's connections per clinic, shared with the instances whose admins watch the dashboard. */
  board: ConnectionBoard;
  /** Called after a transaction that appended events has committed (the real-time pipeline listens here). */
  onEventsCommitted: EventsCommitted[];
}

/**
 * What operations and metrics reach of this instance's delivery groups: `SubscriberGroups` (subscriptions/groups.ts) is
 * it. Named here, so that the context, which the groups make for each execution, does not import them
 * (docs/architecture.md, "Layers").
 */
export interface Delivery {
  /** Groups on this instance, and their members (/metrics, tests). */
  readonly groupCount: number;
  readonly memberCount: number;
  /** The most events any durable group has yet to deliver of those its tenant's feed has heard (`newestHeard`). */
  deliveryLag(newestHeard: (tenantId: string) => number | undefined): number;
  /**
   * Subscribes the caller of `ctx` to a durable field through its group; the stream it resolves with never yields
   * (frames go through the transport's sink) and ends when the subscriber does.
   */
  join(
    ctx: Context,
    info: GraphQLResolveInfo,
    transport: SubscriberTransport,
    options: DurableStreamOptions,
  ): Promise<AsyncIterableIterator<never>>;
  /** The same for a signal field (presence, typing, viewing). */
  joinSignal<S, R>(
    ctx: Context,
    info: GraphQLResolveInfo,
    transport: SubscriberTransport,
    source: SignalSource<S, R>,
  ): Promise<AsyncIterableIterator<never>>;
}

/** The context of one GraphQL operation, over HTTP or WebSocket alike. */
export interface Context {
  services: Services;
  db: Db;
  readonly log: Logger;
  requestId: string;
  /**
   * The address the request came from (HTTP: the peer of the connection), which password attempts are also counted
   * against; absent on WebSocket and SSE operations, whose callers signed in already.
   */
  readonly sourceAddress?: string;
  /**
   * Who is calling (staff or integration client), from a verified token; null for anonymous calls (only `login` accepts
   * those).
   */
  viewer: Viewer | null;
  /** Per-operation batch loaders bound to the viewer's tenant; reading them anonymously is UNAUTHENTICATED. */
  readonly loaders: Loaders;
  /** The transport the operation came on, which the access audit records. */
  readonly via: AccessTransport;
  /**
   * The patient records this operation's execution gave out (the `Patient` fields note them, schema.ts), written to
   * the access audit when the operation ends (docs/architecture.md, "Access audit").
   */
  readonly patientReads: PatientReads;
  /** Subscriptions over WebSocket and SSE: where the operation's frames go (the delivery groups write there). */
  transport?: SubscriberTransport;
  /**
   * The lasting connection the operation came on (a WebSocket), which `renewConnection` moves to a newer token; absent
   * over HTTP.
   */
  connection?: { renew(viewer: Viewer): void };
  /** After `login` succeeds, the rest of that operation (its selection of the payload) runs as the new user. */
  signIn(viewer: Viewer): void;
  /**
   * Subscriptions: resolve the next event with the tenant loaders shared by every subscriber of that event, so a
   * field they all select is read once per event, not once per subscriber. Viewer-specific loaders start fresh.
   */
  useSharedLoaders(shared: TenantLoaders): void;
  /**
   * Subscriptions handed to a delivery group: the operation's context lives as long as the subscription (its sink and
   * masking read it), but the loaders and logger its subscribe resolver made are let go (made again if read) rather
   * than kept for the subscription's life (docs/architecture.md, "Per-connection cost").
   */
  letGoOfStart(): void;
}

/**
 * A class, not an object literal: Apollo Server copies the context of each operation with
 * `Object.assign(Object.create(prototype), context)`, which would run an own getter once at copy time; a getter on
 * the prototype survives the copy and stays lazy.
 */
class OperationContext implements Context {
  readonly db: Db;
  /** Made when first used: a subscription that logs nothing keeps no logger of its own for as long as it runs. */
  private logOfOperation: Logger | undefined;
  private loadersOfOperation: Loaders | undefined;
  private sharedLoaders: TenantLoaders | undefined;
  readonly patientReads = new PatientReads();
  // Declared here, though most operations never set them, so that a subscription's context, which lives as long as
  // the subscription, keeps them in itself rather than in a separate property store.
  transport: SubscriberTransport | undefined = undefined;
  connection: Context['connection'] = undefined;

  constructor(
    readonly services: Services,
    public viewer: Viewer | null,
    readonly requestId: string,
    readonly via: AccessTransport,
    readonly sourceAddress?: string,
  ) {
    this.db = services.db;
  }

  get log(): Logger {
    this.logOfOperation ??= this.services.log.child({
      requestId: this.requestId,
      ...(this.viewer ? logFields(this.viewer) : {}),
    });
    return this.logOfOperation;
  }

  signIn(viewer: Viewer): void {
    if (this.viewer) throw new Error('signIn on an operation that already has a viewer');
    this.viewer = viewer;
    if (this.logOfOperation) this.logOfOperation = this.logOfOperation.child(logFields(viewer));
  }

  useSharedLoaders(shared: TenantLoaders): void {
    if (!this.viewer) throw unauthenticated();
    if (this.sharedLoaders === shared) return;
    this.sharedLoaders = shared;
    this.loadersOfOperation = createLoaders(this.db, this.viewer, shared);
  }

  get loaders(): Loaders {
    if (!this.viewer) throw unauthenticated();
    this.loadersOfOperation ??= createLoaders(this.db, this.viewer);
    return this.loadersOfOperation;
  }

  letGoOfStart(): void {
    // Set to undefined, not deleted: the context keeps its shape (V8's fast mode).
    this.loadersOfOperation = undefined;
    this.sharedLoaders = undefined;
    this.logOfOperation = undefined;
  }
}

/** Who a log line is about: ids only, never names. */
export function logFields(viewer: Viewer): Record<string, string> {
  return viewer.kind === 'user'
    ? { userId: viewer.userId, tenantId: viewer.tenantId }
    : { clientId: viewer.clientId, tenantId: viewer.tenantId };
}

export function createContext(
  services: Services,
  viewer: Viewer | null,
  requestId: string,
  via: AccessTransport,
  sourceAddress?: string,
): Context {
  return new OperationContext(services, viewer, requestId, via, sourceAddress);
}
