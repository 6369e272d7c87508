import { errors, jwtVerify, SignJWT } from 'jose';
import type { Role } from '../db/rows.js';

/** Who is calling: read only from a verified token, never from arguments. */
export interface Viewer {
  userId: string;
  tenantId: string;
  role: Role;
  name: string;
  /** When the token stops being accepted (seconds since the epoch). */
  expiresAt: number;
}

const ISSUER = 'derm-realtime';
const AUDIENCE = 'derm-realtime';
const ALGORITHM = 'HS256';
const ROLES: readonly Role[] = ['ADMIN', 'PROVIDER', 'NURSE', 'FRONT_DESK'];

export class TokenError extends Error {
  override name = 'TokenError';
  constructor(public readonly reason: 'malformed' | 'expired' | 'invalid') {
    super(
      reason === 'expired'
        ? 'The token has expired: sign in again'
        : reason === 'malformed'
          ? 'The token is malformed'
          : 'The token is not valid',
    );
  }
}

export class TokenService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(user: Omit<Viewer, 'expiresAt'>): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.ttlSeconds;
    const token = await new SignJWT({ tid: user.tenantId, role: user.role, name: user.name })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setSubject(user.userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** Verifies signature (HS256 only: `alg: none` and any other algorithm are refused), issuer, audience and expiry. */
  async verify(token: string): Promise<Viewer> {
    if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) throw new TokenError('malformed');
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      const { sub, tid, role, name, exp } = payload;
      if (
        typeof sub !== 'string' ||
        typeof tid !== 'string' ||
        typeof name !== 'string' ||
        typeof exp !== 'number' ||
        !ROLES.includes(role as Role)
      ) {
        throw new TokenError('invalid');
      }
      return { userId: sub, tenantId: tid, role: role as Role, name, expiresAt: exp };
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof errors.JWTExpired) throw new TokenError('expired');
      if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) throw new TokenError('malformed');
      throw new TokenError('invalid');
    }
  }
}

/** Reads `Bearer <token>`; anything else in the header is malformed. */
export function bearerToken(header: string | undefined | null): string | null {
  if (header === undefined || header === null || header === '') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new TokenError('malformed');
  return match[1];
}
