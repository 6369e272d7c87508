import type { Context } from '../../context.js';
import type { UserRow } from '../../db/rows.js';
import { commitChange } from '../../db/transaction.js';
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
