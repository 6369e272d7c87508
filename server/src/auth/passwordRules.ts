import { badInput } from '../errors.js';

/**
 * What a new password must be (createUser, changePassword), after NIST SP 800-63B §3.1.1.2: long enough, not one of
 * the passwords attackers try first, not made of the account's own name; no rules about character classes, which only
 * make passwords harder to remember. The longest is bounded because every check costs a scrypt derivation.
 */
export const PasswordRules = {
  minLength: 12,
  maxLength: 128,
} as const;

/** Why a password is refused: `extensions.reason` of the BAD_USER_INPUT error. */
export type PasswordProblem =
  'PASSWORD_TOO_SHORT' | 'PASSWORD_TOO_LONG' | 'PASSWORD_TOO_COMMON' | 'PASSWORD_CONTEXTUAL';

/**
 * The ~49,000 most common passwords of public breaches, shipped with zxcvbn-ts (its common dictionary), lower-cased.
 * Loaded when first needed: a server that never sets a password never reads it.
 */
let common: Promise<Set<string>> | undefined;
function commonPasswords(): Promise<Set<string>> {
  common ??= import('@zxcvbn-ts/language-common').then(
    ({ dictionary }) => new Set(dictionary['passwords-common'].map((p) => p.toLowerCase())),
  );
  return common;
}

/** Words of the account a password must not be built on: the email's name part, the clinic's slug. */
export interface PasswordContext {
  email?: string;
  clinicSlug?: string;
}

/** What is wrong with `password` as a new password, or null. */
export async function passwordProblem(
  password: string,
  context: PasswordContext = {},
): Promise<PasswordProblem | null> {
  const length = [...password.normalize('NFKC')].length;
  if (length < PasswordRules.minLength) return 'PASSWORD_TOO_SHORT';
  if (length > PasswordRules.maxLength) return 'PASSWORD_TOO_LONG';
  const lower = password.toLowerCase();
  // As typed, and without the digits and symbols people append to a common word ("password2026!").
  const stem = lower.replace(/[\d\W_]+$/u, '');
  const list = await commonPasswords();
  if (list.has(lower) || (stem.length >= 6 && list.has(stem))) return 'PASSWORD_TOO_COMMON';
  const words = [context.email?.split('@')[0], context.clinicSlug].map((w) => w?.toLowerCase() ?? '');
  if (words.some((word) => word.length >= 4 && lower.includes(word))) return 'PASSWORD_CONTEXTUAL';
  return null;
}

const MESSAGES: Record<PasswordProblem, string> = {
  PASSWORD_TOO_SHORT: `must be at least ${PasswordRules.minLength} characters long (a few words make a good one)`,
  PASSWORD_TOO_LONG: `must be at most ${PasswordRules.maxLength} characters long`,
  PASSWORD_TOO_COMMON: 'is one of the most common passwords, the first ones an attacker tries: choose another',
  PASSWORD_CONTEXTUAL: "must not contain the account's email name or the clinic's short name",
};

/** Throws BAD_USER_INPUT (`field`, and `reason` saying which rule) unless `password` may be set. */
export async function requireAcceptablePassword(
  password: string,
  field: string,
  context: PasswordContext = {},
): Promise<void> {
  const problem = await passwordProblem(password, context);
  if (!problem) return;
  throw badInput(`${field} ${MESSAGES[problem]}`, field, problem);
}
