import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Client secrets are 256 random bits, shown once and stored as their SHA-256. A slow password hash (scrypt, as for
 * staff passwords) defends low-entropy secrets against guessing; a 256-bit random secret cannot be guessed whatever
 * the hash, and scrypt's ~50-100 ms and 32 MiB per check would only make the token endpoint a cheap way to burn
 * CPU. The `dcs_` prefix lets secret scanners and humans recognise one in a log or a repository.
 */
const PREFIX = 'dcs_';

export function newClientSecret(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

export function hashClientSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Compares in constant time (for equal lengths, which SHA-256 digests always have). */
export function secretMatches(secret: string, storedHash: string): boolean {
  const given = Buffer.from(hashClientSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/** Compared against when the client does not exist, so that an unknown id costs what a wrong secret costs. */
export const DUMMY_SECRET_HASH = hashClientSecret(newClientSecret());
