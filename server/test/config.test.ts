import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../src/auth/passwords.js';
import { ConfigError, loadConfig } from '../src/config.js';

const secret = 'x'.repeat(40);

describe('configuration', () => {
  it('starts on the embedded defaults with nothing set', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'derm-config-'));
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config).toMatchObject({
      env: 'development',
      port: 4000,
      databaseUrl: undefined,
      redisUrl: undefined,
      jwtTtlSeconds: 8 * 3600,
      seedDemo: true,
      eventRetentionDays: 30,
      sessionIdleTimeoutSeconds: 15 * 60,
      recheckSeconds: 5,
      rateLimits: {
        windowSeconds: 10,
        perCaller: 300,
        perClinic: 2000,
        perAnonymousSource: 100,
        subscriptionsPerCaller: 200,
        subscriptionsPerClinic: 2000,
      },
    });
    expect(loadConfig({ DATA_DIR: dataDir, SESSION_IDLE_TIMEOUT: '5m' }).sessionIdleTimeoutSeconds).toBe(300);
    expect(loadConfig({ DATA_DIR: dataDir, SESSION_IDLE_TIMEOUT: '600' }).sessionIdleTimeoutSeconds).toBe(600);
    expect(loadConfig({ DATA_DIR: dataDir, EVENT_RETENTION: '7' }).eventRetentionDays).toBe(7);
    expect(config.corsOrigins).toEqual(['http://localhost:5173']);
    expect(config.throttle).toEqual({
      slowAfter: 5,
      lockAfter: 10,
      lockSeconds: 15 * 60,
      failureWindowSeconds: 3600,
      sourceLockAfter: 100,
    });
    expect(config).toMatchObject({ passwordHashConcurrency: 2, passwordHashQueue: 16, trustProxyHops: 0 });
  });

  it('reads the guessing limits, the hashing bound and the trusted proxies', () => {
    const config = loadConfig({
      JWT_SECRET: secret,
      LOGIN_SLOW_AFTER: '3',
      LOGIN_LOCK_AFTER: '6',
      LOGIN_LOCK_DURATION: '30m',
      LOGIN_FAILURE_WINDOW: '90',
      LOGIN_SOURCE_LOCK_AFTER: '500',
      PASSWORD_HASH_CONCURRENCY: '2',
      TRUST_PROXY: '1',
    });
    expect(config.throttle).toEqual({
      slowAfter: 3,
      lockAfter: 6,
      lockSeconds: 1800,
      failureWindowSeconds: 90,
      sourceLockAfter: 500,
    });
    expect(config).toMatchObject({ passwordHashConcurrency: 2, trustProxyHops: 1 });
  });

  it('keeps a generated development JWT secret under the data folder so restarts keep sessions', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'derm-config-'));
    const first = loadConfig({ DATA_DIR: dataDir }).jwtSecret;
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(path.join(dataDir, 'jwt-secret'), 'utf8').trim()).toBe(first);
    expect(loadConfig({ DATA_DIR: dataDir }).jwtSecret).toBe(first);
  });

  it('refuses to start in production without JWT_SECRET', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET is required/);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL/],
    [{ REDIS_URL: 'http://localhost' }, /REDIS_URL/],
    [{ JWT_SECRET: 'short' }, /JWT_SECRET/],
    [{ JWT_TTL: '10' }, /JWT_TTL/],
    [{ JWT_TTL: 'forever' }, /JWT_TTL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ CORS_ORIGINS: 'localhost:3000' }, /CORS_ORIGINS/],
    [{ FRONTEND_URL: 'https://app.example.com/path' }, /FRONTEND_URL/],
    [{ NODE_ENV: 'staging' }, /NODE_ENV/],
    [{ SEED_DEMO: 'maybe' }, /SEED_DEMO/],
    [{ SLOW_CONSUMER_KIB: '8' }, /SLOW_CONSUMER_KIB must be a whole number of KiB from 16 to 65536/],
    [{ SLOW_CONSUMER_KIB: '1.5' }, /SLOW_CONSUMER_KIB/],
    [{ WS_KEEPALIVE: '0' }, /WS_KEEPALIVE/],
    [{ WS_KEEPALIVE: 'often' }, /WS_KEEPALIVE/],
    [{ HTTP_KEEPALIVE: '0' }, /HTTP_KEEPALIVE must be a whole number of seconds from 1 to 3600/],
    [{ HTTP_KEEPALIVE: '1m' }, /HTTP_KEEPALIVE/],
    [{ RECHECK_INTERVAL: '0' }, /RECHECK_INTERVAL must be a whole number of seconds from 1 to 3600/],
    [{ RECHECK_INTERVAL: '2.5' }, /RECHECK_INTERVAL/],
    [{ WS_INIT_TIMEOUT: '0' }, /WS_INIT_TIMEOUT/],
    [{ WS_INIT_TIMEOUT: '61' }, /WS_INIT_TIMEOUT/],
    [
      { EVENT_RETENTION: 'abc' },
      /EVENT_RETENTION must be a whole number of days from 1 to 3650, such as "30" or "30d"/,
    ],
    [{ EVENT_RETENTION: '0' }, /EVENT_RETENTION/],
    [{ EVENT_RETENTION: '-5' }, /EVENT_RETENTION/],
    [{ EVENT_RETENTION: '1.5' }, /EVENT_RETENTION/],
    [{ EVENT_RETENTION: '12h' }, /EVENT_RETENTION/],
    [{ EVENT_RETENTION: '4000d' }, /EVENT_RETENTION/],
    [{ SESSION_IDLE_TIMEOUT: 'soon' }, /SESSION_IDLE_TIMEOUT must be a duration from 60s/],
    [{ SESSION_IDLE_TIMEOUT: '30' }, /SESSION_IDLE_TIMEOUT/],
    [{ SESSION_IDLE_TIMEOUT: '0' }, /SESSION_IDLE_TIMEOUT/],
    [{ SESSION_IDLE_TIMEOUT: '-15m' }, /SESSION_IDLE_TIMEOUT/],
    [{ SESSION_IDLE_TIMEOUT: '1d' }, /SESSION_IDLE_TIMEOUT must be at most 12h/],
    [{ LOGIN_SLOW_AFTER: '0' }, /LOGIN_SLOW_AFTER must be a whole number of failures from 1 to 1000/],
    [{ LOGIN_LOCK_AFTER: 'ten' }, /LOGIN_LOCK_AFTER/],
    [{ LOGIN_SLOW_AFTER: '8', LOGIN_LOCK_AFTER: '6' }, /LOGIN_SLOW_AFTER \(8\) must not exceed LOGIN_LOCK_AFTER \(6\)/],
    [{ LOGIN_LOCK_DURATION: '0' }, /LOGIN_LOCK_DURATION must be a duration from 1s to 86400s/],
    [{ LOGIN_LOCK_DURATION: '2d' }, /LOGIN_LOCK_DURATION/],
    [{ LOGIN_FAILURE_WINDOW: 'a while' }, /LOGIN_FAILURE_WINDOW/],
    [{ LOGIN_SOURCE_LOCK_AFTER: '-1' }, /LOGIN_SOURCE_LOCK_AFTER/],
    [
      { PASSWORD_HASH_CONCURRENCY: '0' },
      /PASSWORD_HASH_CONCURRENCY must be a whole number of derivations from 1 to 256/,
    ],
    [{ PASSWORD_HASH_QUEUE: '-1' }, /PASSWORD_HASH_QUEUE must be a whole number of checks from 0 to 1024/],
    [{ TRUST_PROXY: 'yes' }, /TRUST_PROXY/],
    [{ RATE_LIMIT_WINDOW: '0' }, /RATE_LIMIT_WINDOW must be a whole number of seconds from 1 to 3600/],
    [{ RATE_LIMIT_WINDOW: '1m' }, /RATE_LIMIT_WINDOW/],
    [{ RATE_LIMIT_CALLER: '0' }, /RATE_LIMIT_CALLER must be a whole number of operations from 1 to 1000000/],
    [{ RATE_LIMIT_CALLER: 'lots' }, /RATE_LIMIT_CALLER/],
    [{ RATE_LIMIT_CLINIC: '2.5' }, /RATE_LIMIT_CLINIC/],
    [{ RATE_LIMIT_ANONYMOUS: '0' }, /RATE_LIMIT_ANONYMOUS must be a whole number of operations from 1 to 1000000/],
    [{ RATE_LIMIT_CLINIC: '100' }, /RATE_LIMIT_CLINIC \(100\) must be at least RATE_LIMIT_CALLER \(300\)/],
    [{ SUBSCRIPTION_LIMIT_CALLER: '-1' }, /SUBSCRIPTION_LIMIT_CALLER must be a whole number of subscriptions/],
    [{ SUBSCRIPTION_LIMIT_CLINIC: '2000000' }, /SUBSCRIPTION_LIMIT_CLINIC/],
    [
      { SUBSCRIPTION_LIMIT_CALLER: '50', SUBSCRIPTION_LIMIT_CLINIC: '10' },
      /SUBSCRIPTION_LIMIT_CLINIC \(10\) must be at least SUBSCRIPTION_LIMIT_CALLER \(50\)/,
    ],
  ])('stops on an invalid value and names the variable: %o', (env, name) => {
    expect(() => loadConfig({ JWT_SECRET: secret, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ JWT_SECRET: secret, ...env })).toThrow(name);
  });

  it('reads durations, origins and URLs', () => {
    const config = loadConfig({
      JWT_SECRET: secret,
      JWT_TTL: '45m',
      CORS_ORIGINS: 'https://a.example.com, https://b.example.com/',
      DATABASE_URL: 'postgres://u@db:5432/derm',
      REDIS_URL: 'redis://cache:6379',
      PORT: '8080',
      NODE_ENV: 'production',
      SLOW_CONSUMER_KIB: '256',
      WS_KEEPALIVE: '20',
      HTTP_KEEPALIVE: '120',
      RECHECK_INTERVAL: '30',
      WS_INIT_TIMEOUT: '5',
      EVENT_RETENTION: '90d',
      RATE_LIMIT_WINDOW: '60',
      RATE_LIMIT_CALLER: '1200',
      RATE_LIMIT_CLINIC: '12000',
      RATE_LIMIT_ANONYMOUS: '40',
      SUBSCRIPTION_LIMIT_CALLER: '20',
      SUBSCRIPTION_LIMIT_CLINIC: '500',
    });
    expect(config).toMatchObject({
      eventRetentionDays: 90,
      jwtTtlSeconds: 2700,
      slowConsumerBytes: 256 * 1024,
      keepAliveSeconds: 20,
      httpKeepAliveSeconds: 120,
      recheckSeconds: 30,
      wsInitTimeoutSeconds: 5,
      corsOrigins: ['https://a.example.com', 'https://b.example.com'],
      databaseUrl: 'postgres://u@db:5432/derm',
      redisUrl: 'redis://cache:6379',
      port: 8080,
      seedDemo: false,
      rateLimits: {
        windowSeconds: 60,
        perCaller: 1200,
        perClinic: 12000,
        perAnonymousSource: 40,
        subscriptionsPerCaller: 20,
        subscriptionsPerClinic: 500,
      },
    });
  });

  it("hashes passwords at production's cost (scrypt N=2^15) unless PASSWORD_HASH_COST says otherwise", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'derm-config-'));
    expect(loadConfig({ DATA_DIR: dataDir }).passwordHashCost).toBe(15);
    expect(loadConfig({ DATA_DIR: dataDir, PASSWORD_HASH_COST: '12' }).passwordHashCost).toBe(12);
    for (const value of ['9', '21', '15.5', 'high'])
      expect(() => loadConfig({ DATA_DIR: dataDir, PASSWORD_HASH_COST: value })).toThrow(/PASSWORD_HASH_COST/);
    // The tests' servers hash at 2^10 (helpers/services.ts); this one is the cost that ships.
    const hash = await hashPassword('violet-harbour-lantern-42');
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('violet-harbour-lantern-42', hash)).toBe(true);
    expect(await verifyPassword('violet-harbour-lantern-43', hash)).toBe(false);
    expect(await hashPassword('violet-harbour-lantern-42', 10)).toMatch(/^scrypt\$1024\$8\$1\$/);
  });
});
