import { getOperationAST, GraphQLError, type DocumentNode } from 'graphql';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ThrottleKey } from './throttle.js';
import type { Viewer } from './tokens.js';
import type { RateLimits } from '../config.js';
import {
  RateLimitReason,
  tooManyRequests,
  tooManyRequestsRefusal,
  tooManySubscriptions,
  type Refusal,
} from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * Who a limit counts: a staff session (every token of one sign-in and its renewals; tokens made by hand, without a
 * session, count as their user) or an integration client (all its tokens).
 */
export function callerKey(viewer: Viewer): string {
  if (viewer.kind === 'integration') return `client:${viewer.clientId}`;
  return viewer.sessionId ? `session:${viewer.sessionId}` : `user:${viewer.userId}`;
}

/**
 * One live subscription's place, let go of by `release()` (idempotent). An object, not a closure: a subscription keeps
 * it for as long as it lives (docs/architecture.md, "Per-connection cost").
 */
export interface Release {
  release(): void;
}

/** A place among a caller's and its clinic's live subscriptions (`CallerLimits.holdSubscription`). */
class HeldSubscription implements Release {
  private held = true;

  constructor(
    private readonly live: Map<string, number>,
    /** Who holds it: its keys are made again on release rather than kept. */
    private readonly viewer: Viewer,
  ) {}

  release(): void {
    if (!this.held) return;
    this.held = false;
    countLive(this.live, liveCallerKey(this.viewer), -1);
    countLive(this.live, liveClinicKey(this.viewer), -1);
  }
}

/** The keys of a caller's and its clinic's live subscriptions in `CallerLimits.live`. */
const liveCallerKey = (viewer: Viewer) => `caller:${callerKey(viewer)}`;
const liveClinicKey = (viewer: Viewer) => `clinic:${viewer.tenantId}`;

function countLive(live: Map<string, number>, key: string, delta: number): void {
  const count = (live.get(key) ?? 0) + delta;
  if (count > 0) live.set(key, count);
  else live.delete(key);
}

const ALLOWED = { waitMs: 0, first: false };

/**
 * One rate (so many operations per window per key): counted in Redis when there is one, so that it holds across
 * instances, else in this process. Redis unreachable: counted in this process meanwhile (each instance then allows the
 * rate on its own), never refused for the outage, never thrown.
 */
class Rate {
  private readonly local: RateLimiterMemory;
  private readonly shared: RateLimiterRedis | null;

  constructor(
    name: string,
    private readonly points: number,
    windowSeconds: number,
    redis: Redis | null,
    namespace: string,
    private readonly store: StoreHealth,
  ) {
    this.local = new RateLimiterMemory({ points, duration: windowSeconds, keyPrefix: name });
    this.shared = redis
      ? new RateLimiterRedis({
          storeClient: redis,
          points,
          duration: windowSeconds,
          keyPrefix: `${namespace}:rate-${name}`,
          // While Redis is disconnected, fail at once instead of trying (the connection has no offline queue anyway).
          rejectIfRedisNotReady: true,
          // A key over its rate is refused in memory until its window ends: a flood costs no Redis round trip.
          inMemoryBlockOnConsumed: points + 1,
        })
      : null;
  }

  /**
   * Counts one operation for `key`: `waitMs` 0 when allowed, else the milliseconds before one will be; `first` on the
   * first refusal of the key's window (counted over every instance), for a log line per flood rather than per request.
   */
  async consume(key: string): Promise<{ waitMs: number; first: boolean }> {
    if (this.shared) {
      try {
        await this.shared.consume(key);
        this.store.up();
        return ALLOWED;
      } catch (res) {
        if (res instanceof RateLimiterRes) return this.refused(res);
        this.store.down(res);
      }
    }
    try {
      await this.local.consume(key);
      return ALLOWED;
    } catch (res) {
      if (res instanceof RateLimiterRes) return this.refused(res);
      throw res;
    }
  }

  private refused(res: RateLimiterRes): { waitMs: number; first: boolean } {
    return { waitMs: Math.max(1, res.msBeforeNext), first: res.consumedPoints === this.points + 1 };
  }
}

/** Logs once when the shared counters become unreachable, and once when they are back. */
class StoreHealth {
  private failing = false;
  constructor(private readonly log: Logger) {}
  down(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.log.warn(
      { err: { message: (err as Error)?.message } },
      'rate limits: Redis unreachable, each instance counts on its own until it is back',
    );
  }
  up(): void {
    if (!this.failing) return;
    this.failing = false;
    this.log.info('rate limits: Redis reachable again, counted across instances');
  }
}

/**
 * Limits per caller and per clinic, the same on every transport (docs/architecture.md, "Limits per caller and
 * clinic"): a rate of operations (each HTTP request, each WebSocket `subscribe`, each SSE request is one), checked once
 * per operation, never per delivered event; and a count of live subscriptions, over WebSocket and SSE.
 *
 * Rates are counted in Redis when configured (they hold across instances), else in this process. Live subscriptions
 * are counted per instance: a count in Redis would have to be given back by an instance that crashed, which only a
 * time to live renewed by every instance would do (as the expiring sets do); behind a load balancer spreading
 * connections, a caller can therefore hold up to the limit on each instance.
 */
export class CallerLimits {
  private readonly callerRate: Rate;
  private readonly clinicRate: Rate;
  private readonly anonymousRate: Rate;
  private readonly live = new Map<string, number>();
  /** Operations refused since start, by reason (`CALLER_RATE`, `CLINIC_RATE`, `CALLER_SUBSCRIPTIONS`, …): /metrics. */
  readonly refusals = new Map<string, number>();

  constructor(
    private readonly limits: RateLimits,
    redis: Redis | null,
    namespace: string,
    private readonly log: Logger,
  ) {
    const store = new StoreHealth(log);
    this.callerRate = new Rate('caller', limits.perCaller, limits.windowSeconds, redis, namespace, store);
    this.clinicRate = new Rate('clinic', limits.perClinic, limits.windowSeconds, redis, namespace, store);
    this.anonymousRate = new Rate(
      'anonymous',
      limits.perAnonymousSource,
      limits.windowSeconds,
      redis,
      namespace,
      store,
    );
  }

  /**
   * Counts one request without a token from `address` (its /64 for IPv6, as sign-in attempts are counted): null when
   * it may go on, else the TOO_MANY_REQUESTS refusal (reason SOURCE_RATE) to answer it with, as plain data. Over its
   * rate, an address is refused in memory until its window ends (Rate's `inMemoryBlockOnConsumed`): a flood costs no
   * Redis round trip. Never rejects.
   */
  async admitAnonymous(address: string): Promise<Refusal | null> {
    try {
      const source = await this.anonymousRate.consume(ThrottleKey.source(address));
      if (source.waitMs === 0) return null;
      this.count(RateLimitReason.source);
      if (source.first) this.log.warn({ source: address, reason: RateLimitReason.source }, 'over its rate');
      return tooManyRequestsRefusal(RateLimitReason.source, Math.ceil(source.waitMs / 1000));
    } catch (err) {
      this.log.error({ err }, 'rate limit check failed; request let through');
      return null;
    }
  }

  /**
   * Counts one operation of `viewer`: null when it may run, else the TOO_MANY_REQUESTS error to answer it with. The
   * caller's rate first: a caller over its own rate does not use up its clinic's. Never rejects (a failure lets the
   * operation through, logged).
   */
  async admit(viewer: Viewer): Promise<GraphQLError | null> {
    return (await this.admitCaller(viewer)) ?? (await this.admitClinic(viewer));
  }

  /**
   * `admit`'s first half, the caller's own rate: what a door may count while it still reads who the caller is
   * (auth/authenticate.ts, `admitRequest`), then `admitClinic` once the caller is allowed. Never rejects.
   */
  admitCaller(viewer: Viewer): Promise<GraphQLError | null> {
    return this.consume(this.callerRate, callerKey(viewer), viewer, RateLimitReason.caller);
  }

  /** `admit`'s second half, the clinic's rate: counted only for a caller `admitCaller` allowed. Never rejects. */
  admitClinic(viewer: Viewer): Promise<GraphQLError | null> {
    return this.consume(this.clinicRate, viewer.tenantId, viewer, RateLimitReason.clinic);
  }

  private async consume(rate: Rate, key: string, viewer: Viewer, reason: RateLimitReason) {
    try {
      const counted = await rate.consume(key);
      return counted.waitMs > 0 ? this.refuse(viewer, reason, counted) : null;
    } catch (err) {
      // A failure lets the operation through, logged.
      this.log.error({ err }, 'rate limit check failed; operation let through');
      return null;
    }
  }

  private refuse(viewer: Viewer, reason: RateLimitReason, { waitMs, first }: { waitMs: number; first: boolean }) {
    this.count(reason);
    // Who is flooding, once per window (ids only).
    if (first) this.log.warn({ caller: callerKey(viewer), tenantId: viewer.tenantId, reason }, 'over its rate');
    return tooManyRequests(reason, Math.ceil(waitMs / 1000));
  }

  private count(reason: string): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }

  /**
   * For an operation that is a subscription: takes one of the caller's and the clinic's places for live
   * subscriptions, given back by the returned `Release` when it ends. Null for queries and mutations; the
   * TOO_MANY_SUBSCRIPTIONS error when either is full.
   */
  holdSubscription(
    viewer: Viewer,
    document: DocumentNode,
    operationName?: string | null,
  ): Release | GraphQLError | null {
    if (getOperationAST(document, operationName)?.operation !== 'subscription') return null;
    const caller = liveCallerKey(viewer);
    const clinic = liveClinicKey(viewer);
    const { subscriptionsPerCaller, subscriptionsPerClinic } = this.limits;
    if ((this.live.get(caller) ?? 0) >= subscriptionsPerCaller) {
      this.count('CALLER_SUBSCRIPTIONS');
      return tooManySubscriptions(
        `At most ${subscriptionsPerCaller} subscriptions may be live at once per caller on one server`,
        'CALLER',
      );
    }
    if ((this.live.get(clinic) ?? 0) >= subscriptionsPerClinic) {
      this.count('CLINIC_SUBSCRIPTIONS');
      return tooManySubscriptions(
        `At most ${subscriptionsPerClinic} subscriptions may be live at once per clinic on one server`,
        'CLINIC',
      );
    }
    countLive(this.live, caller, 1);
    countLive(this.live, clinic, 1);
    return new HeldSubscription(this.live, viewer);
  }

  /** Live subscriptions counted now for a caller and a clinic (tests, metrics). */
  liveCount(viewer: Viewer): { caller: number; clinic: number } {
    return {
      caller: this.live.get(liveCallerKey(viewer)) ?? 0,
      clinic: this.live.get(liveClinicKey(viewer)) ?? 0,
    };
  }
}

/** The `Retry-After` of a TOO_MANY_REQUESTS error, in whole seconds. */
export function retryAfterOf(error: { extensions: { retryAfter?: unknown } }): string {
  return String(error.extensions.retryAfter ?? 1);
}

/**
 * The refusal as Apollo answers it over HTTP: status 429 with `Retry-After` (Apollo reads `extensions.http`, a `Map` of
 * headers, and keeps it from the client).
 */
export function forHttp(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    extensions: {
      ...error.extensions,
      http: { status: 429, headers: new Map([['retry-after', retryAfterOf(error)]]) },
    },
  });
}
