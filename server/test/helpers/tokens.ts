import { SignJWT } from 'jose';
import type { Role } from '../../src/db/rows.js';

export interface TokenClaims {
  userId: string;
  tenantId: string;
  role: Role;
  name: string;
}

/**
 * Signs a token the way the server does (HS256, iss/aud `derm-realtime`), with a lifetime of our choosing: tokens that
 * expire in two seconds, tokens for users created straight in SQL, tokens signed with the wrong key.
 */
export async function signToken(
  secret: string,
  claims: TokenClaims,
  expiresInSeconds = 3600,
  issuedAt = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({ tid: claims.tenantId, role: claims.role, name: claims.name })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.userId)
    .setIssuer('derm-realtime')
    .setAudience('derm-realtime')
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + expiresInSeconds)
    .sign(new TextEncoder().encode(secret));
}

/** An unsigned token (`alg: none`) with otherwise valid claims: what a forger sends. */
export function unsignedToken(claims: TokenClaims, expiresInSeconds = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const payload = {
    sub: claims.userId,
    tid: claims.tenantId,
    role: claims.role,
    name: claims.name,
    iss: 'derm-realtime',
    aud: 'derm-realtime',
    iat: now,
    exp: now + expiresInSeconds,
  };
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
}
