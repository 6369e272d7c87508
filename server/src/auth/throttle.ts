import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Redis } from 'ioredis';
import { GraphQLError } from 'graphql';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { ThrottleConfig } from '../config.js';
import { AttemptRefusal, tooManyAttempts } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * What an attempt is counted against: the account it names (whether or not it exists), and the address it comes from
 * when known. Make them with `ThrottleKey`.
 */
export interface AttemptKeys {
  account: string;
  source?: string | undefined;
}

/**
 * Counter keys. Digests, so neither emails nor addresses are written to Redis, and a key's length does not depend on
 * what a client sent.
 */
export const ThrottleKey = {
  /** A staff account: the clinic's slug and the email as typed (trimmed, lower-cased), whether or not either exists. */
  user: (clinicSlug: string, email: string): string =>
    digest(`user:${clinicSlug.trim().toLowerCase()}:${email.trim().toLowerCase()}`),
  /** An integration client (`POST /oauth/token`), by the id it sent. */
  client: (clientId: string): string => digest(`client:${clientId}`),
  /**
   * A source address. An IPv4 address mapped into IPv6 (`::ffff:1.2.3.4`) counts as that IPv4 address; an IPv6 address
   * counts as its /64, the block one subscriber is usually given (rotating within it would dodge a per-address count).
   */
  source: (address: string): string => {
    const mapped = address.startsWith('::ffff:') ? address.slice(7) : address;
    if (isIPv4(mapped)) return digest(`source:${mapped}`);
    return digest(`source:${isIPv6(address) ? ipv6Prefix64(address) : address}`);
  },
};

/** The first four groups of an IPv6 address, written out (`2001:db8::1` → `2001:db8:0:0`). */
function ipv6Prefix64(address: string): string {
  const [head, tail] = address.split('%')[0].toLowerCase().split('::');
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const [before, after] = [groups(head), groups(tail)];
  const full =
    tail === undefined ? before : [...before, ...Array(8 - before.length - after.length).fill('0'), ...after];
  return full
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':');
}

function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url');
}

type Kind = 'account' | 'source';

/** One attempt, counted: hand it back to `recordFailure` or `recordSuccess` once the check is made. */
export interface Attempt {
  /** This attempt's number among the failures counted on each key in the window (1 for the first). */
  readonly counted: ReadonlyArray<{ kind: Kind; key: string; n: number }>;
}

/**
 * Slows down and locks out password guessing (docs/architecture.md, "Guessing"), for any secret a person or a client
 * presents: `login` and `changePassword` (staff passwords), `POST /oauth/token` (client secrets), and any later step
 * such as a second factor's code. The use is always:
 *
 * ```ts
 * const attempt = await throttle.check(keys); // TOO_MANY_REQUESTS (SLOWED or LOCKED) before anything is checked
 * if (!ok) await throttle.recordFailure(attempt); // { locked: true } once, when this failure locked the account
 * else await throttle.recordSuccess(attempt); // or release(attempt) when nothing was checked after all
 * ```
 *
 * Per key, failures are counted over `failureWindowSeconds` from the first. From `slowAfter` failures on an account,
 * each failure makes the next attempt wait (1 s, doubling, at most the lock duration); at `lockAfter` the account is
 * locked for `lockSeconds` or until an admin unlocks it; a source address is locked at `sourceLockAfter`. Refused
 * attempts are not counted (nothing was checked). `check` counts the attempt before the secret is checked, so parallel
 * guesses cannot all slip under the limit: at most `lockAfter` are ever checked. A success forgets the account's
 * failures and takes the attempt back from the source's.
 *
 * Counters live in Redis when configured, so every instance sees the same; else in this process. rate-limiter-flexible
 * does the counting (its Redis limiter is one Lua script per change, so concurrent instances never lose a count); when
 * Redis fails a command, each counter carries on in this process's memory (its `insuranceLimiter`) until Redis
 * answers again, so an outage weakens the limits to one instance's count and never refuses or crashes a sign-in.
 */
export class AttemptThrottle {
  private readonly failures: Record<Kind, RateLimiterAbstract>;
  /** A key blocked here is slowed down: its next attempt must wait until the block lapses. */
  private readonly cooldown: RateLimiterAbstract;
  private readonly lockAfter: Record<Kind, number>;

  constructor(
    private readonly config: ThrottleConfig,
    redis: Redis | null,
    namespace: string,
    private readonly log: Logger,
  ) {
    const limiter = (name: string, points: number, duration: number): RateLimiterAbstract => {
      const options = { keyPrefix: `${namespace}:throttle:${name}`, points, duration };
      const memory = new RateLimiterMemory(options);
      if (!redis) return memory;
      // The realtime command connection fails fast while disconnected (no offline queue); so does this, then.
      return new RateLimiterRedis({
        ...options,
        storeClient: redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: memory,
      });
    };
    this.failures = {
      account: limiter('account', config.lockAfter, config.failureWindowSeconds),
      source: limiter('source', config.sourceLockAfter, config.failureWindowSeconds),
    };
    this.cooldown = limiter('cooldown', 1, 1);
    this.lockAfter = { account: config.lockAfter, source: config.sourceLockAfter };
  }

  /**
   * Throws TOO_MANY_REQUESTS (reason `LOCKED` or `SLOWED`, with `retryAfter` seconds) when an attempt on these keys
   * must not be checked now; else counts it and hands it back. The same answer for every account in the same state,
   * existing or not.
   */
  async check(keys: AttemptKeys): Promise<Attempt> {
    const parts = this.parts(keys);
    try {
      const [failures, cooldown] = await Promise.all([
        Promise.all(parts.map(({ kind, key }) => this.failures[kind].get(key))),
        this.cooldown.get(keys.account),
      ]);
      parts.forEach(({ kind }, i) => {
        const res = failures[i];
        if (res && res.consumedPoints > this.lockAfter[kind])
          throw tooManyAttempts(AttemptRefusal.locked, res.msBeforeNext / 1000);
      });
      if (cooldown && cooldown.consumedPoints > 1)
        throw tooManyAttempts(AttemptRefusal.slowed, cooldown.msBeforeNext / 1000);
      const counted = await Promise.all(parts.map(({ kind, key }) => this.failures[kind].penalty(key)));
      // Attempts made at once, beyond the lock: the one that reached it locks the key if it fails.
      parts.forEach(({ kind }, i) => {
        if (counted[i].consumedPoints > this.lockAfter[kind])
          throw tooManyAttempts(AttemptRefusal.locked, this.config.lockSeconds);
      });
      return { counted: parts.map((part, i) => ({ ...part, n: counted[i].consumedPoints })) };
    } catch (err) {
      if (err instanceof GraphQLError) throw err;
      return this.failOpen(err);
    }
  }

  /**
   * The attempt failed: slows the account down or locks it, and the source. `locked` is true for the one failure that
   * locked the account (the clinic's admins are told of it), false for every other.
   */
  async recordFailure(attempt: Attempt): Promise<{ locked: boolean }> {
    let locked = false;
    try {
      await Promise.all(
        attempt.counted.map(async ({ kind, key, n }) => {
          if (n >= this.lockAfter[kind]) {
            await this.failures[kind].block(key, this.config.lockSeconds);
            if (kind === 'account' && n === this.lockAfter.account) locked = true;
          } else if (kind === 'account' && n >= this.config.slowAfter) {
            await this.cooldown.block(key, this.delaySeconds(n));
          }
        }),
      );
    } catch (err) {
      this.failOpen(err);
    }
    return { locked };
  }

  /** The attempt succeeded: the account's failures are forgotten, and the source's count takes this attempt back. */
  async recordSuccess(attempt: Attempt): Promise<void> {
    try {
      await Promise.all(
        attempt.counted.map(({ kind, key }) =>
          kind === 'account' ? this.forget(key) : this.failures.source.reward(key),
        ),
      );
    } catch (err) {
      this.failOpen(err);
    }
  }

  /**
   * The attempt checked nothing after all (a second step that is still to come, input that did not parse): it is taken
   * back from every count, and the failures before it are kept.
   */
  async release(attempt: Attempt): Promise<void> {
    try {
      await Promise.all(attempt.counted.map(({ kind, key }) => this.failures[kind].reward(key)));
    } catch (err) {
      this.failOpen(err);
    }
  }

  /** Lifts an account's lock and slow-down (an admin's `unlockAccount`): its next attempt is checked at once. */
  async unlock(account: string): Promise<void> {
    await this.forget(account);
  }

  /** How long the n-th failure makes the next attempt wait: 1 s at `slowAfter`, doubling, at most the lock. */
  private delaySeconds(n: number): number {
    return Math.min(2 ** Math.min(n - this.config.slowAfter, 30), this.config.lockSeconds);
  }

  private async forget(account: string): Promise<void> {
    await Promise.all([this.failures.account.delete(account), this.cooldown.delete(account)]);
  }

  private parts(keys: AttemptKeys): Array<{ kind: Kind; key: string }> {
    const parts: Array<{ kind: Kind; key: string }> = [{ kind: 'account', key: keys.account }];
    if (keys.source) parts.push({ kind: 'source', key: keys.source });
    return parts;
  }

  /**
   * Neither Redis nor memory could count (never seen; the insurance limiter catches Redis failures): let it through.
   */
  private failOpen(err: unknown): Attempt {
    this.log.warn({ err: { message: (err as Error)?.message } }, 'attempt throttle failed; not throttling this one');
    return { counted: [] };
  }
}
