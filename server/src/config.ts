import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_PASSWORD_HASH_COST } from './auth/passwords.js';

/** Every setting the server reads from its environment, parsed and defaulted in this one place. */
export interface Config {
  /** `development`, `test` or `production` (`NODE_ENV`). @default 'development' */
  env: 'development' | 'test' | 'production';
  /** TCP port (`PORT`); 0 picks a free one. @default 4000 */
  port: number;
  /** Interface to listen on (`HOST`). @default '0.0.0.0' */
  host: string;
  /** PostgreSQL connection string (`DATABASE_URL`); unset means the embedded database under `dataDir`. */
  databaseUrl: string | undefined;
  /** Redis connection string (`REDIS_URL`); unset means an in-process pub/sub. */
  redisUrl: string | undefined;
  /** Prefix of this deployment's keys in a shared Redis (`REDIS_NAMESPACE`). @default 'derm' */
  redisNamespace: string;
  /** Where the embedded database and the development JWT secret live (`DATA_DIR`). @default './data' */
  dataDir: string;
  /** HS256 signing key for access tokens (`JWT_SECRET`, at least 32 characters). */
  jwtSecret: string;
  /** Access token lifetime in seconds (`JWT_TTL`, e.g. `3600`, `45m`, `8h`). @default 8h */
  jwtTtlSeconds: number;
  /** pino log level (`LOG_LEVEL`). @default 'info' ('silent' under test) */
  logLevel: string;
  /**
   * Browser origins allowed by CORS (`CORS_ORIGINS`, comma-separated, or `FRONTEND_URL`). @default
   * ['http://localhost:5173']
   */
  corsOrigins: string[];
  /** Load the demo clinics when the database is empty (`SEED_DEMO`). @default true outside production */
  seedDemo: boolean;
  /**
   * Seconds a WebSocket connection counts as present without renewal (`PRESENCE_TTL`, 2 to 3600). Each instance renews
   * its own every third of it, so a crashed instance's users go offline within this plus the sweep interval. @default
   * 30
   */
  presenceTtlSeconds: number;
  /**
   * Seconds a chart or thread viewer lasts unless renewed (`VIEWING_TTL`, 2 to 3600): a crashed instance's viewers
   * leave within this plus the sweep interval. Instances renew the viewers of their subscriptions on their heartbeat;
   * the deprecated `viewPatient` is renewed by its client (every 20 s in old clients, so keep it above that outside
   * tests). @default 30
   */
  viewingTtlSeconds: number;
  /**
   * Seconds a typing signal (`setTyping(true)`) lasts unless renewed (`TYPING_TTL`, 1 to 60); at most one `true` per
   * user and thread is passed on per third of it. Clients renew every 2.5 s, so keep it above that outside tests.
   * @default 6
   */
  typingTtlSeconds: number;
  /**
   * Seconds between the server's keep-alive rounds over its WebSocket connections (`WS_KEEPALIVE`, 1 to 300): a
   * connection not heard from since the last round is pinged, and one that left that ping unanswered is cut, so a
   * peer that vanished without closing (Wi-Fi lost, laptop shut) is let go, and goes offline, within two rounds.
   * @default 12
   */
  keepAliveSeconds: number;
  /**
   * Seconds between an instance's re-reads of the clinics and integration clients of its live connections
   * (`RECHECK_INTERVAL`, 1 to 3600): the backstop that closes the connections of a clinic disabled or a client revoked
   * without its signal reaching this instance (no Redis, an outage, a change made in SQL). One query each, and only
   * while the instance has such connections; a signal closes them at once whatever this says.
   * @default 5
   */
  recheckSeconds: number;
  /**
   * Seconds an idle HTTP keep-alive connection stays open (`HTTP_KEEPALIVE`, 1 to 3600). Longer than any client or
   * proxy in front keeps one idle (AWS load balancers and nginx: 60 s; Node's fetch: what the server announces, less
   * a second or two), so the server is never the side that closes a connection a client is reusing at that moment:
   * the request written on it would fail with "socket hang up" (a 502 behind a proxy). Node's default is 5 s.
   * docs/architecture.md, "When a dependency fails". @default 65
   */
  httpKeepAliveSeconds: number;
  /**
   * Seconds a new WebSocket connection has to send `connection_init` (`WS_INIT_TIMEOUT`, 1 to 60) before it is closed
   * with 4408. Counted on the instance's one deadline timer, so up to a second late. Not graphql-ws's default of 3 s:
   * a server whose event loop was busy for that long (a burst of writes on the embedded database, which runs in
   * process) read a client's init only after the timer had closed a client that sent it at once.
   * @default 10
   */
  wsInitTimeoutSeconds: number;
  /**
   * Kibibytes a subscriber's connection may hold unsent (`SLOW_CONSUMER_KIB`, 16 to 65536) before its subscription is
   * ended with `SLOW_CONSUMER` and its last cursor, so a client that stops reading delays nobody.
   * @default 1024
   */
  slowConsumerBytes: number;
  /**
   * Lifetime of the tokens `POST /oauth/token` gives integration clients (`OAUTH_TOKEN_TTL`, 60 s to 1 h): short, so a
   * stolen token is worth little; clients simply ask again. @default 15m
   */
  oauthTokenTtlSeconds: number;
  /**
   * Days the event log keeps each event (`EVENT_RETENTION`: whole days, `30` or `30d`, 1 to 3650). Every instance
   * prunes older events in small batches every 10 minutes; a resume cursor older than what is kept is answered with
   * `CURSOR_EXPIRED` (docs/integrators.md, "Retention"). @default 30
   */
  eventRetentionDays: number;
  /**
   * Seconds a staff session may go without user activity before it ends (`SESSION_IDLE_TIMEOUT`, like `JWT_TTL`: `900`,
   * `15m`; 1 minute to 12 hours): automatic logoff (HIPAA 45 CFR 164.312(a)(2)(iii)). Activity is a query or mutation
   * the client sends, not keep-alives nor token renewals; the web app locks its screen after the same time without
   * input, and the server refuses the session's tokens (`SESSION_IDLE`) and closes its connections. Integration clients
   * are exempt. @default 15m
   */
  sessionIdleTimeoutSeconds: number;
  /** Serve the offline GraphQL explorer at /explorer (`EXPLORER_ENABLED`). @default true outside production */
  explorerEnabled: boolean;
  /** Password and client-secret guessing: when answers slow down and accounts lock (auth/throttle.ts). */
  throttle: ThrottleConfig;
  /**
   * Password hashes (scrypt, ~32 MiB and 50-100 ms each) this instance derives at once (`PASSWORD_HASH_CONCURRENCY`, 1
   * to 256). Few: each holds one of libuv's four threads, which every token check needs too (auth/passwords.ts).
   * @default 2
   */
  passwordHashConcurrency: number;
  /**
   * Password checks that may wait for one of those to finish (`PASSWORD_HASH_QUEUE`, 0 to 1024); a sign-in beyond
   * them is refused at once with `TOO_MANY_REQUESTS` (reason `BUSY`). @default 16
   */
  passwordHashQueue: number;
  /**
   * log2 of scrypt's N for the password hashes this instance makes (`PASSWORD_HASH_COST`, 10 to 20): memory and time
   * double with each step. Hashes keep the cost they were made with. Lower it for tests only. @default 15
   */
  passwordHashCost: number;
  /**
   * Proxies in front of the server whose `X-Forwarded-For` is believed (`TRUST_PROXY`, 0 to 10 hops): the source
   * address password attempts are counted against is the client's as the nearest of them saw it. With 0, it is the
   * connection's peer, so behind a load balancer every attempt would come from its address. @default 0
   */
  trustProxyHops: number;
  /**
   * How many operations and live subscriptions one caller (a staff session, an integration client) and one clinic may
   * have (docs/architecture.md, "Limits per caller and clinic"; defaults and why in README.md).
   */
  rateLimits: RateLimits;
}

/**
 * Counted per account (clinic and email, or integration client id; emails that do not exist too) and per source
 * address, over `failureWindowSeconds` from the first failure; shared by every instance through Redis when configured.
 */
export interface ThrottleConfig {
  /**
   * Failed attempts on one account after which each further failure makes it wait before the next try, 1 s doubling
   * up to the lock duration (`LOGIN_SLOW_AFTER`, 1 to 1000). @default 5
   */
  slowAfter: number;
  /** Failed attempts on one account that lock it for `lockSeconds` (`LOGIN_LOCK_AFTER`, 1 to 1000). @default 10 */
  lockAfter: number;
  /** How long a locked account or source stays locked (`LOGIN_LOCK_DURATION`, 1 s to 1 d). @default 15m */
  lockSeconds: number;
  /** Failures are counted over this window from the first one (`LOGIN_FAILURE_WINDOW`, 1 s to 1 d). @default 1h */
  failureWindowSeconds: number;
  /**
   * Failed attempts from one source address, whatever the account, that lock that address (`LOGIN_SOURCE_LOCK_AFTER`,
   * 1 to 100000): high, since a clinic's staff often share one address. @default 100
   */
  sourceLockAfter: number;
}

/**
 * Request rates and live subscriptions per caller and per clinic, and requests per address without a token
 * (auth/callerLimits.ts).
 */
export interface RateLimits {
  /** Seconds of one counting window (`RATE_LIMIT_WINDOW`, 1 to 3600). @default 10 */
  windowSeconds: number;
  /** Operations one caller may send per window, over every transport (`RATE_LIMIT_CALLER`). @default 300 */
  perCaller: number;
  /**
   * Operations all callers of one clinic may send per window (`RATE_LIMIT_CLINIC`, at least the caller's). @default
   * 2000
   */
  perClinic: number;
  /**
   * Requests without a token (sign-in, `POST /oauth/token`, anything else sent without `Authorization: Bearer`) one
   * source address may send per window, refused at the door before the body is read (`RATE_LIMIT_ANONYMOUS`). A
   * clinic's staff often share one address: enough for all of them to sign in at the start of a day. @default 100
   */
  perAnonymousSource: number;
  /** Live subscriptions one caller may hold at once, WebSocket and SSE (`SUBSCRIPTION_LIMIT_CALLER`). @default 200 */
  subscriptionsPerCaller: number;
  /**
   * Live subscriptions one clinic may hold at once (`SUBSCRIPTION_LIMIT_CLINIC`, at least the caller's). @default 2000
   */
  subscriptionsPerClinic: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parsePort(env: Env): number {
  const raw = env.PORT ?? '4000';
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535)
    throw new ConfigError(`PORT must be an integer from 0 to 65535, got "${raw}"`);
  return port;
}

/** Accepts plain seconds or a number with s, m, h or d. */
export function parseDuration(name: string, raw: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(raw.trim());
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 } as const;
  const seconds = match ? Number(match[1]) * unit[match[2] as keyof typeof unit] : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 60 || seconds > 30 * 86400) {
    throw new ConfigError(`${name} must be a duration from 60s to 30d such as "3600", "45m" or "8h", got "${raw}"`);
  }
  return seconds;
}

function parseUrl(name: string, raw: string | undefined, protocols: string[]): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw;
}

function parseOrigins(env: Env): string[] {
  const raw = env.CORS_ORIGINS ?? env.FRONTEND_URL ?? 'http://localhost:5173';
  const origins = raw
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (!url || url.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError(
        `${env.CORS_ORIGINS ? 'CORS_ORIGINS' : 'FRONTEND_URL'} must list origins like https://app.example.com, got "${origin}"`,
      );
    }
  }
  return origins.map((o) => o.replace(/\/$/, ''));
}

/** In development a missing JWT_SECRET is generated once and kept under the data folder, so restarts keep sessions. */
function resolveJwtSecret(env: Env, nodeEnv: Config['env'], dataDir: string): string {
  const given = env.JWT_SECRET;
  if (given !== undefined && given !== '') {
    if (given.length < 32) throw new ConfigError('JWT_SECRET must be at least 32 characters long');
    return given;
  }
  if (nodeEnv === 'production') throw new ConfigError('JWT_SECRET is required when NODE_ENV=production');
  if (nodeEnv === 'test') return randomBytes(32).toString('base64url');
  const file = path.join(dataDir, 'jwt-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(48).toString('base64url');
    writeFileSync(file, secret + '\n', { mode: 0o600 });
    return secret;
  }
}

function parseName(name: string, raw: string): string {
  if (!/^[\w-]{1,40}$/.test(raw))
    throw new ConfigError(`${name} must be 1 to 40 letters, digits, - or _, got "${raw}"`);
  return raw;
}

function parseSeconds(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  return parseWhole(name, raw, fallback, min, max, 'seconds');
}

function parseWhole(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
  unit: string,
): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number of ${unit} from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** Whole days: `30` or `30d`. */
function parseDays(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d+)\s*d?$/.exec(raw.trim());
  const days = match ? Number(match[1]) : NaN;
  if (!Number.isSafeInteger(days) || days < min || days > max) {
    throw new ConfigError(
      `${name} must be a whole number of days from ${min} to ${max}, such as "30" or "30d", got "${raw}"`,
    );
  }
  return days;
}

function parseBoolean(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** A span of time like `parseDuration`'s, within bounds of its own (seconds). */
function parseSpan(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d+)\s*([smhd]?)$/.exec(raw.trim());
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 } as const;
  const seconds = match ? Number(match[1]) * unit[match[2] as keyof typeof unit] : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < min || seconds > max) {
    throw new ConfigError(
      `${name} must be a duration from ${min}s to ${max}s such as "90", "15m" or "1h", got "${raw}"`,
    );
  }
  return seconds;
}

function parseThrottle(env: Env): ThrottleConfig {
  const slowAfter = parseWhole('LOGIN_SLOW_AFTER', env.LOGIN_SLOW_AFTER, 5, 1, 1000, 'failures');
  const lockAfter = parseWhole('LOGIN_LOCK_AFTER', env.LOGIN_LOCK_AFTER, 10, 1, 1000, 'failures');
  if (slowAfter > lockAfter)
    throw new ConfigError(
      `LOGIN_SLOW_AFTER (${slowAfter}) must not exceed LOGIN_LOCK_AFTER (${lockAfter}): answers slow down before the lock`,
    );
  return {
    slowAfter,
    lockAfter,
    lockSeconds: parseSpan('LOGIN_LOCK_DURATION', env.LOGIN_LOCK_DURATION, 15 * 60, 1, 86400),
    failureWindowSeconds: parseSpan('LOGIN_FAILURE_WINDOW', env.LOGIN_FAILURE_WINDOW, 3600, 1, 86400),
    sourceLockAfter: parseWhole('LOGIN_SOURCE_LOCK_AFTER', env.LOGIN_SOURCE_LOCK_AFTER, 100, 1, 100000, 'failures'),
  };
}

function parseIdleTimeout(raw: string): number {
  const seconds = parseDuration('SESSION_IDLE_TIMEOUT', raw);
  if (seconds > 12 * 3600)
    throw new ConfigError(`SESSION_IDLE_TIMEOUT must be at most 12h: it is an automatic logoff, got "${raw}"`);
  return seconds;
}

function parseOAuthTokenTtl(raw: string): number {
  const seconds = parseDuration('OAUTH_TOKEN_TTL', raw);
  if (seconds > 3600)
    throw new ConfigError(`OAUTH_TOKEN_TTL must be at most 1h: integration tokens are short-lived, got "${raw}"`);
  return seconds;
}

const MAX_LIMIT = 1_000_000;

function parseRateLimits(env: Env): RateLimits {
  const count = (name: string, fallback: number) => parseWhole(name, env[name], fallback, 1, MAX_LIMIT, 'operations');
  const limits: RateLimits = {
    windowSeconds: parseSeconds('RATE_LIMIT_WINDOW', env.RATE_LIMIT_WINDOW, 10, 1, 3600),
    perCaller: count('RATE_LIMIT_CALLER', 300),
    perClinic: count('RATE_LIMIT_CLINIC', 2000),
    perAnonymousSource: count('RATE_LIMIT_ANONYMOUS', 100),
    subscriptionsPerCaller: parseWhole(
      'SUBSCRIPTION_LIMIT_CALLER',
      env.SUBSCRIPTION_LIMIT_CALLER,
      200,
      1,
      MAX_LIMIT,
      'subscriptions',
    ),
    subscriptionsPerClinic: parseWhole(
      'SUBSCRIPTION_LIMIT_CLINIC',
      env.SUBSCRIPTION_LIMIT_CLINIC,
      2000,
      1,
      MAX_LIMIT,
      'subscriptions',
    ),
  };
  // A clinic's limit below one caller's would make the caller's meaningless, and one caller could use up its clinic's.
  if (limits.perClinic < limits.perCaller)
    throw new ConfigError(
      `RATE_LIMIT_CLINIC (${limits.perClinic}) must be at least RATE_LIMIT_CALLER (${limits.perCaller})`,
    );
  if (limits.subscriptionsPerClinic < limits.subscriptionsPerCaller)
    throw new ConfigError(
      `SUBSCRIPTION_LIMIT_CLINIC (${limits.subscriptionsPerClinic}) must be at least SUBSCRIPTION_LIMIT_CALLER (${limits.subscriptionsPerCaller})`,
    );
  return limits;
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV ?? 'development';
  if (nodeEnv !== 'development' && nodeEnv !== 'test' && nodeEnv !== 'production') {
    throw new ConfigError(`NODE_ENV must be development, test or production, got "${nodeEnv}"`);
  }
  const logLevel = env.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info');
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const dataDir = path.resolve(env.DATA_DIR ?? './data');
  return {
    env: nodeEnv,
    port: parsePort(env),
    host: env.HOST ?? '0.0.0.0',
    databaseUrl: parseUrl('DATABASE_URL', env.DATABASE_URL, ['postgres:', 'postgresql:']),
    redisUrl: parseUrl('REDIS_URL', env.REDIS_URL, ['redis:', 'rediss:']),
    redisNamespace: parseName('REDIS_NAMESPACE', env.REDIS_NAMESPACE ?? 'derm'),
    dataDir,
    jwtSecret: resolveJwtSecret(env, nodeEnv, dataDir),
    jwtTtlSeconds: parseDuration('JWT_TTL', env.JWT_TTL ?? '8h'),
    logLevel,
    corsOrigins: parseOrigins(env),
    seedDemo: parseBoolean('SEED_DEMO', env.SEED_DEMO, nodeEnv !== 'production'),
    presenceTtlSeconds: parseSeconds('PRESENCE_TTL', env.PRESENCE_TTL, 30, 2, 3600),
    viewingTtlSeconds: parseSeconds('VIEWING_TTL', env.VIEWING_TTL, 30, 2, 3600),
    typingTtlSeconds: parseSeconds('TYPING_TTL', env.TYPING_TTL, 6, 1, 60),
    keepAliveSeconds: parseSeconds('WS_KEEPALIVE', env.WS_KEEPALIVE, 12, 1, 300),
    httpKeepAliveSeconds: parseSeconds('HTTP_KEEPALIVE', env.HTTP_KEEPALIVE, 65, 1, 3600),
    recheckSeconds: parseSeconds('RECHECK_INTERVAL', env.RECHECK_INTERVAL, 5, 1, 3600),
    wsInitTimeoutSeconds: parseSeconds('WS_INIT_TIMEOUT', env.WS_INIT_TIMEOUT, 10, 1, 60),
    slowConsumerBytes: parseWhole('SLOW_CONSUMER_KIB', env.SLOW_CONSUMER_KIB, 1024, 16, 65536, 'KiB') * 1024,
    oauthTokenTtlSeconds: parseOAuthTokenTtl(env.OAUTH_TOKEN_TTL ?? '15m'),
    eventRetentionDays: parseDays('EVENT_RETENTION', env.EVENT_RETENTION, 30, 1, 3650),
    sessionIdleTimeoutSeconds: parseIdleTimeout(env.SESSION_IDLE_TIMEOUT ?? '15m'),
    explorerEnabled: parseBoolean('EXPLORER_ENABLED', env.EXPLORER_ENABLED, nodeEnv !== 'production'),
    throttle: parseThrottle(env),
    passwordHashConcurrency: parseWhole(
      'PASSWORD_HASH_CONCURRENCY',
      env.PASSWORD_HASH_CONCURRENCY,
      2,
      1,
      256,
      'derivations',
    ),
    passwordHashQueue: parseWhole('PASSWORD_HASH_QUEUE', env.PASSWORD_HASH_QUEUE, 16, 0, 1024, 'checks'),
    passwordHashCost: parseWhole(
      'PASSWORD_HASH_COST',
      env.PASSWORD_HASH_COST,
      DEFAULT_PASSWORD_HASH_COST,
      10,
      20,
      'steps (log2 of scrypt N)',
    ),
    trustProxyHops: parseWhole('TRUST_PROXY', env.TRUST_PROXY, 0, 0, 10, 'proxies'),
    rateLimits: parseRateLimits(env),
  };
}
