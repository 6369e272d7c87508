import { GraphQLError } from 'graphql';
import { ThrottleKey, type Attempt, type AttemptKeys } from '../../auth/throttle.js';
import type { Context } from '../../context.js';
import { ErrorCode } from '../../errors.js';
import type { UserRow } from '../../db/rows.js';
import { commitChange } from '../../events/outbox.js';
import { createNotifications } from '../notifications/data.js';
import { listStaff } from './data.js';

/**
 * Tells the clinic's admins that a staff member's sign-in was locked after failed password attempts (auth/throttle.ts),
 * with a notification each (the outbox: `notification` subscribers hear it on every instance). Not awaited by the
 * sign-in that failed, so a locked account that exists answers as fast as one that does not; a failure is logged.
 */
export function announceLockout(ctx: Context, user: UserRow): void {
  const { tenantId } = user;
  const write = async () => {
    const admins = await listStaff(ctx.db, tenantId, 'ADMIN');
    await commitChange(ctx, tenantId, (trx, record) =>
      createNotifications(
        trx,
        record,
        tenantId,
        admins.map((admin) => ({
          userId: admin.id,
          kind: 'ACCOUNT_LOCKED' as const,
          priority: 'HIGH' as const,
          title: `Sign-in locked for ${user.name} after repeated failed passwords`,
        })),
      ),
    );
    ctx.log.warn({ lockedUserId: user.id }, 'sign-in locked after failed password attempts; admins notified');
  };
  write().catch((err: unknown) =>
    ctx.log.error({ err, lockedUserId: user.id }, 'could not notify admins of a lockout'),
  );
}

/** What an attempt on a staff account counts: the account as typed (clinic slug and email) and the caller's address. */
export function accountAttemptKeys(ctx: Context, clinicSlug: string, email: string): AttemptKeys {
  return {
    account: ThrottleKey.user(clinicSlug, email),
    source: ctx.sourceAddress ? ThrottleKey.source(ctx.sourceAddress) : undefined,
  };
}

/**
 * Checks a second-factor code as part of an attempt on the account (auth/throttle.ts; docs/architecture.md,
 * "Guessing"): a wrong or reused code is a failure (the one that locks the account tells its admins), any other
 * refusal (no code sent yet, one that does not parse) gives the attempt back, and the right code forgets the
 * account's failures. The same for sign-in's code and for the signed-in user's own (turning the factor off), so a
 * stolen session guesses codes no faster than a sign-in would.
 */
export async function checkCodeInAttempt<T>(
  ctx: Context,
  attempt: Attempt,
  user: UserRow,
  check: () => Promise<T>,
): Promise<T> {
  const { throttle } = ctx.services;
  let result: T;
  try {
    result = await check();
  } catch (err) {
    if (err instanceof GraphQLError && err.extensions.code === ErrorCode.SECOND_FACTOR_INVALID) {
      const { locked } = await throttle.recordFailure(attempt);
      if (locked) announceLockout(ctx, user);
    } else {
      await throttle.release(attempt);
    }
    throw err;
  }
  await throttle.recordSuccess(attempt);
  return result;
}
