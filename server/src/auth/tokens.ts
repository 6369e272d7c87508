import { randomUUID, webcrypto } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Role } from '../db/rows.js';
import { isScope, type Scope } from './scopes.js';

/** A signed-in staff member, read only from a verified token, never from arguments. */
export interface UserViewer {
  kind: 'user';
  userId: string;
  tenantId: string;
  role: Role;
  name: string;
  /** When the token stops being accepted (seconds since the epoch). */
  expiresAt: number;
  /**
   * The sign-in this token belongs to (`sid`): made at `login`, carried by every renewal, ended by signing out. Absent
   * only from tokens made by hand (tests).
   */
  sessionId?: string;
  /**
   * When that sign-in happened (`sat`, milliseconds since the epoch; renewals keep it): "sign out everywhere" ends
   * every session that started before it.
   */
  sessionStartedAt?: number;
}

/** An integration client of one clinic (OAuth 2.0 client credentials), read only from a verified token. */
export interface IntegrationViewer {
  kind: 'integration';
  clientId: string;
  tenantId: string;
  /** The client's name, for logs. */
  name: string;
  /** What this token may do: the scopes asked for at the token endpoint, within those granted to the client. */
  scopes: readonly Scope[];
  expiresAt: number;
  /** Each token of the token endpoint is a session of its own. */
  sessionId?: string;
  sessionStartedAt?: number;
}

/**
 * Who is calling. Staff hold every scope their role allows (`scopesOf`); an integration holds the scopes of its token.
 * The tenant of either comes only from the verified token.
 */
export type Viewer = UserViewer | IntegrationViewer;

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
  /**
   * The secret as a WebCrypto key, imported once: given the bytes, jose imports them again for every token it signs or
   * verifies (a few percent of a mutation's CPU, measured with perf).
   */
  private readonly key: Promise<webcrypto.CryptoKey>;

  /**
   * Tokens verified already, until they expire: a caller's next request or connection costs a lookup instead of the
   * signature and claims checks (~3% of a mutation's CPU). Expiry, the only check that changes with time, is made again
   * on every use, as jose makes it; what else refuses a valid token (sign-out, revocation) is checked after.
   */
  private readonly verified = new LRUCache<string, Viewer>({ max: 10_000 });

  /**
   * @param ttlSeconds lifetime of staff tokens (`JWT_TTL`)
   * @param integrationTtlSeconds lifetime of integration tokens (`OAUTH_TOKEN_TTL`): short, since a client asks again
   */
  constructor(
    secret: string,
    private readonly ttlSeconds: number,
    readonly integrationTtlSeconds: number = 900,
  ) {
    this.key = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
  }

  private jwt(claims: Record<string, unknown>, subject: string, ttlSeconds: number) {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + ttlSeconds;
    return {
      exp,
      signed: this.key.then((key) =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
          .setSubject(subject)
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt(now)
          .setExpirationTime(exp)
          // Each token its own, even two of one session issued in the same second (a renewal).
          .setJti(randomUUID())
          .sign(key),
      ),
    };
  }

  /**
   * A staff token. Without `sessionId` it starts a new sign-in session (`login`); with one, it renews that session
   * (`renewToken`), so signing out ends every token the session was given.
   */
  async sign(
    user: Omit<UserViewer, 'expiresAt' | 'kind'>,
  ): Promise<{ token: string; expiresAt: Date; viewer: UserViewer }> {
    const renewing = user.sessionId !== undefined && user.sessionStartedAt !== undefined;
    const sessionId = renewing ? user.sessionId! : randomUUID();
    const sessionStartedAt = renewing ? user.sessionStartedAt! : Date.now();
    const { exp, signed } = this.jwt(
      { tid: user.tenantId, role: user.role, name: user.name, sid: sessionId, sat: sessionStartedAt },
      user.userId,
      this.ttlSeconds,
    );
    const viewer: UserViewer = {
      kind: 'user',
      userId: user.userId,
      tenantId: user.tenantId,
      role: user.role,
      name: user.name,
      expiresAt: exp,
      sessionId,
      sessionStartedAt,
    };
    return { token: await signed, expiresAt: new Date(exp * 1000), viewer };
  }

  /** An access token of an integration client (claims after RFC 9068: `client_id`, space-separated `scope`). */
  async signIntegration(
    client: Omit<IntegrationViewer, 'expiresAt' | 'kind' | 'sessionId' | 'sessionStartedAt'>,
  ): Promise<{ token: string; expiresAt: Date }> {
    const claims = {
      tid: client.tenantId,
      client_id: client.clientId,
      scope: client.scopes.join(' '),
      name: client.name,
      sid: randomUUID(),
      sat: Date.now(),
    };
    const { exp, signed } = this.jwt(claims, client.clientId, this.integrationTtlSeconds);
    return { token: await signed, expiresAt: new Date(exp * 1000) };
  }

  /** Verifies signature (HS256 only: `alg: none` and any other algorithm are refused), issuer, audience and expiry. */
  async verify(token: string): Promise<Viewer> {
    const known = this.verified.get(token);
    if (known) {
      // jose's test: expired once `exp` is at or before the current whole second.
      if (known.expiresAt > Math.floor(Date.now() / 1000)) return known;
      this.verified.delete(token);
      throw new TokenError('expired');
    }
    const viewer = Object.freeze(await this.verifyAnew(token));
    this.verified.set(token, viewer);
    return viewer;
  }

  private async verifyAnew(token: string): Promise<Viewer> {
    if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) throw new TokenError('malformed');
    try {
      const { payload } = await jwtVerify(token, await this.key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      const { sub, tid, role, name, exp, sid, sat, client_id: clientId, scope } = payload;
      if (typeof sub !== 'string' || typeof tid !== 'string' || typeof name !== 'string' || typeof exp !== 'number') {
        throw new TokenError('invalid');
      }
      // A session is both or neither (tokens made by hand in tests have none).
      if ((sid === undefined) !== (sat === undefined)) throw new TokenError('invalid');
      if (sid !== undefined && (typeof sid !== 'string' || typeof sat !== 'number')) throw new TokenError('invalid');
      const session = typeof sid === 'string' ? { sessionId: sid, sessionStartedAt: sat as number } : {};
      if (clientId !== undefined) {
        // An integration token: no role, and only scopes this server knows.
        const scopes = typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
        if (clientId !== sub || role !== undefined || typeof scope !== 'string' || !scopes.every(isScope))
          throw new TokenError('invalid');
        return {
          kind: 'integration',
          clientId,
          tenantId: tid,
          name,
          scopes: scopes as Scope[],
          expiresAt: exp,
          ...session,
        };
      }
      if (!ROLES.includes(role as Role) || scope !== undefined) throw new TokenError('invalid');
      return { kind: 'user', userId: sub, tenantId: tid, role: role as Role, name, expiresAt: exp, ...session };
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
