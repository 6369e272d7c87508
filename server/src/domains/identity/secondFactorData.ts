import type { Db } from '../../db/knex.js';
import type { SecondFactorRow, TenantRow } from '../../db/rows.js';
import { isPgError, PgError } from '../../db/knex.js';

/** Every read and write here takes the tenant first and filters by it (docs/architecture.md, invariant 1). */

export async function secondFactorOf(db: Db, tenantId: string, userId: string): Promise<SecondFactorRow | undefined> {
  const row = await db<SecondFactorRow>('secondFactors').where({ tenantId, userId }).first();
  // bigint: PGlite and pg may hand it back as a string.
  return row && { ...row, lastUsedStep: row.lastUsedStep === null ? null : Number(row.lastUsedStep) };
}

/**
 * Replaces the user's pending enrolment (if any) with a new secret. Undefined when a confirmed factor exists: that one
 * is left alone.
 */
export async function replacePendingFactor(
  db: Db,
  tenantId: string,
  userId: string,
  secret: string,
): Promise<SecondFactorRow | undefined> {
  try {
    return await db.transaction(async (trx) => {
      await trx('secondFactors').where({ tenantId, userId }).whereNull('confirmedAt').delete();
      const [row] = await trx<SecondFactorRow>('secondFactors').insert({ tenantId, userId, secret }).returning('*');
      return row;
    });
  } catch (err) {
    if (isPgError(err, PgError.uniqueViolation)) return undefined;
    throw err;
  }
}

/** The user's factor, creating a pending one with `secret` when there is none (two callers at once get the same). */
export async function ensureFactor(db: Db, tenantId: string, userId: string, secret: string): Promise<SecondFactorRow> {
  await db('secondFactors').insert({ tenantId, userId, secret }).onConflict(['tenantId', 'userId']).ignore();
  const row = await secondFactorOf(db, tenantId, userId);
  if (!row) throw new Error('second factor row vanished right after it was written');
  return row;
}

/**
 * Records that a code of `step` was accepted, unless a code of that step or a later one was accepted first (or the
 * factor was replaced meanwhile): false then, and the code counts as used already.
 */
export async function advanceLastUsedStep(db: Db, factor: SecondFactorRow, step: number): Promise<boolean> {
  const updated = await db('secondFactors')
    .where({ tenantId: factor.tenantId, userId: factor.userId, secret: factor.secret })
    .andWhere((q) => q.whereNull('lastUsedStep').orWhere('lastUsedStep', '<', step))
    .update({ lastUsedStep: step });
  return updated === 1;
}

/**
 * Activates a pending factor and gives it a new set of recovery codes (hashes), in one transaction. False when the
 * factor is no longer that pending one (confirmed or replaced meanwhile).
 */
export async function confirmFactor(db: Db, factor: SecondFactorRow, recoveryCodeHashes: string[]): Promise<boolean> {
  const { tenantId, userId } = factor;
  return db.transaction(async (trx) => {
    const updated = await trx('secondFactors')
      .where({ tenantId, userId, secret: factor.secret })
      .whereNull('confirmedAt')
      .update({ confirmedAt: trx.fn.now() });
    if (updated !== 1) return false;
    await trx('recoveryCodes').where({ tenantId, userId }).delete();
    await trx('recoveryCodes').insert(recoveryCodeHashes.map((codeHash) => ({ tenantId, userId, codeHash })));
    return true;
  });
}

/** Marks an unused recovery code used: 'used' now, 'usedBefore' if it was, 'unknown' if the user has no such code. */
export async function useRecoveryCode(
  db: Db,
  tenantId: string,
  userId: string,
  codeHash: string,
): Promise<'used' | 'usedBefore' | 'unknown'> {
  const updated = await db('recoveryCodes')
    .where({ tenantId, userId, codeHash })
    .whereNull('usedAt')
    .update({ usedAt: db.fn.now() });
  if (updated === 1) return 'used';
  const known = await db('recoveryCodes').where({ tenantId, userId, codeHash }).first('id');
  return known ? 'usedBefore' : 'unknown';
}

export async function unusedRecoveryCodeCount(db: Db, tenantId: string, userId: string): Promise<number> {
  const row = await db('recoveryCodes').where({ tenantId, userId }).whereNull('usedAt').count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

/** Removes the user's factor, pending or confirmed, and their recovery codes. True when there was a factor. */
export async function removeFactor(db: Db, tenantId: string, userId: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    await trx('recoveryCodes').where({ tenantId, userId }).delete();
    return (await trx('secondFactors').where({ tenantId, userId }).delete()) > 0;
  });
}

export async function setSecondFactorRequired(db: Db, tenantId: string, required: boolean): Promise<TenantRow> {
  const [row] = await db<TenantRow>('tenants')
    .where({ id: tenantId })
    .update({ secondFactorRequired: required })
    .returning('*');
  return row as TenantRow;
}
