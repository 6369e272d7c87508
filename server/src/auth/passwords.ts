import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { AttemptRefusal, tooManyAttempts } from '../errors.js';

// scrypt with N=2^15 takes ~50-100 ms: slow for a guesser, quick enough for a sign-in.
const PARAMS = { N: 1 << 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const MAX_MEM = 64 * 1024 * 1024;

function derive(password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...params, maxmem: MAX_MEM }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$salt$hash`, base64url parts: the parameters travel with the hash so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** Spent when the user does not exist, so a wrong email takes as long as a wrong password. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

/**
 * A bound on the password checks this instance runs at once (`PASSWORD_HASH_CONCURRENCY`). Each scrypt derivation holds
 * 32 MiB and a libuv thread for 50-100 ms; a flood of sign-ins would otherwise queue them without limit, and every
 * sign-in, the honest ones too, would wait behind it. Beyond the bound a check is refused at once (TOO_MANY_REQUESTS,
 * reason BUSY) rather than queued. A slot is taken before anything else the check does (the throttle, the database
 * reads), so a refusal costs nothing and depends on nothing but the checks already running.
 */
export class PasswordHashing {
  private running = 0;

  constructor(readonly limit: number) {}

  /** Runs `check` holding one slot, or throws `tooManyAttempts('BUSY', 1)` synchronously when all are taken. */
  withSlot<T>(check: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) throw tooManyAttempts(AttemptRefusal.busy, 1);
    this.running += 1;
    return check().finally(() => {
      this.running -= 1;
    });
  }
}
