import { createHash, randomInt } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import type { Db } from '../../db/knex.js';
import type { SecondFactorRow, TenantRow, UserRow } from '../../db/rows.js';
import { badInput, conflict, secondFactorInvalid, secondFactorRequired } from '../../errors.js';
import {
  advanceLastUsedStep,
  confirmFactor,
  ensureFactor,
  replacePendingFactor,
  secondFactorOf,
  useRecoveryCode,
} from './secondFactorData.js';

/**
 * Staff second factor: TOTP (RFC 6238) and one-time recovery codes (docs/architecture.md, "Second factor").
 *
 * Codes are SHA-1, 6 digits, 30-second steps: what every authenticator app reads from an otpauth URI without asking.
 * A code of the step before or after the server's is accepted too (clock drift), and a code is accepted once: the
 * newest accepted step is stored, and a code of that step or an earlier one is refused.
 */
export const SecondFactorRules = {
  issuer: 'Derm Realtime',
  periodSeconds: 30,
  driftSteps: 1,
  recoveryCodeCount: 10,
} as const;

/** A code as typed, sorted by kind. */
export type SecondFactorCode = { kind: 'totp'; digits: string } | { kind: 'recovery'; code: string };

/** Crockford's base32 (no i, l, o, u), lower case: 16 characters of it are 80 random bits. */
const RECOVERY_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const RECOVERY_CODE = /^[0-9a-hjkmnp-tv-z]{16}$/;

/**
 * Reads a code as typed: 6 digits (spaces allowed, "123 456"), or a recovery code in any case with or without its
 * dashes. Anything else is BAD_USER_INPUT (`reason` `CODE_MALFORMED`), before any code is checked.
 */
export function parseSecondFactorCode(raw: string, field = 'code'): SecondFactorCode {
  const compact = raw.replace(/[\s-]/g, '').toLowerCase();
  if (/^\d{6}$/.test(compact)) return { kind: 'totp', digits: compact };
  // Crockford's reading of the letters people mistake for digits.
  const recovery = compact.replace(/[il]/g, '1').replace(/o/g, '0');
  if (RECOVERY_CODE.test(recovery)) return { kind: 'recovery', code: recovery };
  throw badInput(
    `${field} must be the 6 digits your authenticator app shows, or a recovery code (xxxx-xxxx-xxxx-xxxx)`,
    field,
    'CODE_MALFORMED',
  );
}

function newRecoveryCode(): string {
  return Array.from({ length: 16 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
}

/** As shown to the user: four groups of four. */
function formatRecoveryCode(code: string): string {
  return code.match(/.{4}/g)!.join('-');
}

/** Recovery codes are 80 random bits: SHA-256 is enough (a slow hash guards guessable secrets, not these). */
function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/** What an authenticator app needs: the secret as text, and the otpauth URI a QR code carries. */
export interface TotpEnrolment {
  secret: string;
  otpauthUri: string;
}

export function enrolmentOf(tenant: TenantRow, user: UserRow, factor: SecondFactorRow): TotpEnrolment {
  return {
    secret: factor.secret,
    otpauthUri: generateURI({
      issuer: `${SecondFactorRules.issuer} (${tenant.name})`,
      label: user.email,
      secret: factor.secret,
      period: SecondFactorRules.periodSeconds,
    }),
  };
}

/** A new secret: 20 random bytes (160 bits, RFC 4226's recommended length), base32. */
function newSecret(): string {
  return generateSecret({ length: 20 });
}

/**
 * Checks a code against a user's factor and spends it: the one place a second-factor code is checked (sign-in,
 * confirming an enrolment, turning the factor off), so a limit on attempts wraps this function. A TOTP code moves
 * the factor's last used step; a recovery code (of a confirmed factor only) is marked used. Throws
 * SECOND_FACTOR_INVALID (`CODE_WRONG`, `CODE_ALREADY_USED`) otherwise.
 */
export async function checkSecondFactorCode(
  db: Db,
  factor: SecondFactorRow,
  code: SecondFactorCode,
  now = Date.now(),
): Promise<void> {
  if (code.kind === 'recovery') {
    if (!factor.confirmedAt) throw secondFactorInvalid('CODE_WRONG');
    const outcome = await useRecoveryCode(db, factor.tenantId, factor.userId, hashRecoveryCode(code.code));
    if (outcome === 'used') return;
    throw secondFactorInvalid(outcome === 'usedBefore' ? 'CODE_ALREADY_USED' : 'CODE_WRONG');
  }
  const result = await verify({
    secret: factor.secret,
    token: code.digits,
    period: SecondFactorRules.periodSeconds,
    epoch: Math.floor(now / 1000),
    epochTolerance: SecondFactorRules.periodSeconds * SecondFactorRules.driftSteps,
  });
  if (!result.valid || !('timeStep' in result)) throw secondFactorInvalid('CODE_WRONG');
  if (factor.lastUsedStep !== null && result.timeStep <= factor.lastUsedStep)
    throw secondFactorInvalid('CODE_ALREADY_USED');
  // Conditional on the stored step, so two requests racing with one code cannot both pass.
  if (!(await advanceLastUsedStep(db, factor, result.timeStep))) throw secondFactorInvalid('CODE_ALREADY_USED');
}

/**
 * Starts (or starts again) the signed-in user's enrolment: a new secret, not active until confirmed. A user whose
 * factor is active must turn it off first (with a code), so a stolen session cannot move the factor to another phone.
 */
export async function startEnrolment(db: Db, tenant: TenantRow, user: UserRow): Promise<TotpEnrolment> {
  const factor = await replacePendingFactor(db, tenant.id, user.id, newSecret());
  if (!factor)
    throw conflict(
      'A second factor is active on this account: turn it off with a current code before setting up another',
      'SECOND_FACTOR_ENABLED',
    );
  return enrolmentOf(tenant, user, factor);
}

/** Confirms a pending factor with a first code: it is active from now on. Answers the recovery codes, shown once. */
export async function confirmEnrolment(db: Db, factor: SecondFactorRow, code: SecondFactorCode): Promise<string[]> {
  if (factor.confirmedAt)
    throw conflict('The second factor is set up already: nothing to confirm', 'SECOND_FACTOR_ENABLED');
  if (code.kind !== 'totp')
    throw badInput('code must be the 6 digits your authenticator app shows', 'code', 'CODE_MALFORMED');
  await checkSecondFactorCode(db, factor, code);
  const codes = Array.from({ length: SecondFactorRules.recoveryCodeCount }, newRecoveryCode);
  if (!(await confirmFactor(db, factor, codes.map(hashRecoveryCode))))
    throw conflict('This enrolment was replaced or confirmed meanwhile: start again', 'ENROLMENT_REPLACED');
  return codes.map(formatRecoveryCode);
}

/**
 * The second step of `login`, once the password is right. Returns the recovery codes when this sign-in completed an
 * enrolment (shown once), else null.
 *
 * - The user has an active factor: `code` (TOTP or recovery) is needed; SECOND_FACTOR_REQUIRED `CODE_NEEDED` without.
 * - The clinic requires a second factor and the user has none: they enrol here. SECOND_FACTOR_REQUIRED
 *   `ENROLMENT_NEEDED` carries a pending secret (the same one on each attempt, so a scanned QR code stays good), and a
 *   `login` with a code of it confirms the factor and signs in.
 * - Otherwise the password is enough; a well-formed `code` is ignored.
 */
export async function passSecondFactor(
  db: Db,
  tenant: TenantRow,
  user: UserRow,
  rawCode: string | null | undefined,
): Promise<string[] | null> {
  const code = rawCode === null || rawCode === undefined ? null : parseSecondFactorCode(rawCode);
  const existing = await secondFactorOf(db, tenant.id, user.id);
  if (existing?.confirmedAt) {
    if (!code) throw secondFactorRequired('CODE_NEEDED');
    await checkSecondFactorCode(db, existing, code);
    return null;
  }
  if (!tenant.secondFactorRequired) return null;
  const pending = existing ?? (await ensureFactor(db, tenant.id, user.id, newSecret()));
  if (!code) throw secondFactorRequired('ENROLMENT_NEEDED', { enrolment: enrolmentOf(tenant, user, pending) });
  return confirmEnrolment(db, pending, code);
}
