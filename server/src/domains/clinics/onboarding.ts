import { randomBytes } from 'node:crypto';
import { requireAcceptablePassword } from '../../auth/passwordRules.js';
import { hashPassword } from '../../auth/passwords.js';
import { isPgError, PgError, type Db } from '../../db/knex.js';
import type { TenantRow, UserRow } from '../../db/rows.js';
import { badInput, conflict } from '../../errors.js';
import { requiredEmail, requiredText } from '../../validation.js';
import { insertUser } from '../identity/data.js';
import { insertTenant } from './data.js';

/** A clinic's slug: what staff type to sign in. Lowercase letters, digits and inner hyphens, as a DNS label. */
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface NewClinic {
  slug: string;
  name: string;
  /** An IANA time zone (`Europe/Paris`): every "today" and time shown to the clinic's staff is in it. */
  timeZone: string;
  adminName: string;
  adminEmail: string;
  /** The first admin's password; without one, a strong one is generated and returned once. */
  adminPassword?: string;
}

export interface CreatedClinic {
  tenant: TenantRow;
  admin: UserRow;
  /** The admin's password, when it was generated here (only its hash is stored): to be handed over once. */
  generatedPassword: string | null;
}

/** The IANA name of a time zone Intl knows (its canonical spelling: `us/eastern` is `America/New_York`). */
export function ianaTimeZone(value: string, field: string): string {
  const zone = value.trim();
  // Intl also takes offsets on newer engines ("+05:00"): a clinic's zone is a named one, with its daylight saving.
  if (/^[+-]/.test(zone) || zone === '')
    throw badInput(`${field} must be an IANA time zone such as Europe/Paris`, field);
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    throw badInput(`${field} "${zone}" is not an IANA time zone (such as America/New_York or Europe/Paris)`, field);
  }
}

/** 24 random bytes, base64url: 32 characters, 192 bits; passes the password rules by construction. */
function generatedPassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Onboards a clinic: the clinic and its first admin, in one transaction (both or neither). Every input is checked
 * before anything is written (BAD_USER_INPUT with the `field`); a slug already taken is CONFLICT `SLUG_TAKEN`. Used by
 * `npm run clinics -- create`.
 */
export async function createClinic(db: Db, input: NewClinic, passwordHashCost?: number): Promise<CreatedClinic> {
  const slug = input.slug.trim().toLowerCase();
  if (!SLUG.test(slug)) {
    throw badInput(
      `slug "${input.slug}" must be 1 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit (such as "lakeside-skin")`,
      'slug',
    );
  }
  const name = requiredText(input.name, 'name', { max: 200 });
  const timeZone = ianaTimeZone(input.timeZone, 'timeZone');
  const adminName = requiredText(input.adminName, 'adminName', { max: 120 });
  const adminEmail = requiredEmail(input.adminEmail, 'adminEmail');
  const password = input.adminPassword ?? generatedPassword();
  if (input.adminPassword !== undefined) {
    await requireAcceptablePassword(password, 'password', { email: adminEmail, clinicSlug: slug });
  }
  const passwordHash = await hashPassword(password, passwordHashCost);
  try {
    return await db.transaction(async (trx) => {
      const tenant = await insertTenant(trx, { slug, name, timeZone });
      const admin = await insertUser(trx, tenant.id, {
        email: adminEmail,
        name: adminName,
        role: 'ADMIN',
        passwordHash,
      });
      return { tenant, admin, generatedPassword: input.adminPassword === undefined ? password : null };
    });
  } catch (err) {
    if (isPgError(err, PgError.uniqueViolation))
      throw conflict(`A clinic with the slug "${slug}" already exists`, 'SLUG_TAKEN', { field: 'slug' });
    throw err;
  }
}
