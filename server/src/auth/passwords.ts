import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { AttemptRefusal, tooManyAttempts } from '../errors.js';

/**
 * log2 of scrypt's N for new hashes (`PASSWORD_HASH_COST`). 2^15 takes ~50-100 ms: slow for a guesser, quick enough
 * for a sign-in. Only the tests go lower (they sign in hundreds of times a run); a hash keeps the cost it was made
 * with.
 */
export const DEFAULT_PASSWORD_HASH_COST = 15;
const PARAMS = { r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const MAX_MEM = 64 * 1024 * 1024;

function derive(password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...params, maxmem: MAX_MEM }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/**
 * `scrypt$N$r$p$salt$hash`, base64url parts: the parameters travel with the hash so they can be raised later. `cost`
 * is log2 of N.
 */
export async function hashPassword(password: string, cost = DEFAULT_PASSWORD_HASH_COST): Promise<string> {
  const salt = randomBytes(16);
  const params = { N: 2 ** cost, ...PARAMS };
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * Spent when the user does not exist, so a wrong email takes as long as a wrong password (of the same `cost` as the
 * instance's new hashes).
 */
const dummyHashes = new Map<number, Promise<string>>();
export function dummyPasswordHash(cost = DEFAULT_PASSWORD_HASH_COST): Promise<string> {
  let hash = dummyHashes.get(cost);
  if (!hash) dummyHashes.set(cost, (hash = hashPassword(randomBytes(16).toString('hex'), cost)));
  return hash;
}

/**
 * A bound on the password checks this instance runs at once (`PASSWORD_HASH_CONCURRENCY`), and on those that may wait
 * for one of them to finish (`PASSWORD_HASH_QUEUE`). Each scrypt derivation holds 32 MiB and one of libuv's four
 * threads for 50-100 ms; those threads also run every token check (jose verifies through WebCrypto, on the same
 * pool), so a flood of sign-ins holding all four would make every request of every live user wait behind it
 * (measured with `npm run bench:guessing`: eight at once took a subscriber's delivery from 23 ms to 0.5-2 s). So two
 * at once by default, the others waiting their turn, and beyond the queue a check is refused at once
 * (TOO_MANY_REQUESTS, reason BUSY) rather than queued without limit. A slot (or a place in the queue) is taken before
 * anything else the check does (the throttle, the database reads), so a refusal costs nothing.
 */
export class PasswordHashing {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly limit: number,
    readonly queueLimit = 0,
    /** log2 of scrypt's N for the hashes this instance makes (`PASSWORD_HASH_COST`). */
    readonly cost = DEFAULT_PASSWORD_HASH_COST,
  ) {}

  /** A new hash of `password` at this instance's cost (no slot taken: see `withSlot`). */
  hash(password: string): Promise<string> {
    return hashPassword(password, this.cost);
  }

  /** What a sign-in for an unknown email checks against, at this instance's cost (`dummyPasswordHash`). */
  dummyHash(): Promise<string> {
    return dummyPasswordHash(this.cost);
  }

  /**
   * Runs `check` holding one slot, or throws `tooManyAttempts('BUSY', 1)` synchronously when slots and queue are full.
   */
  withSlot<T>(check: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) {
      this.running += 1;
      return this.run(check);
    }
    if (this.waiting.length >= this.queueLimit) throw tooManyAttempts(AttemptRefusal.busy, 1);
    // The slot passes straight from the check that ends to the first in line (`running` stays counted).
    return new Promise<void>((resolve) => this.waiting.push(resolve)).then(() => this.run(check));
  }

  private run<T>(check: () => Promise<T>): Promise<T> {
    return check().finally(() => {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    });
  }
}
