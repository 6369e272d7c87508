import type { Resolvers, SecondFactorStatus } from '../../__generated__/resolvers-types.js';
import { requirePermission, requireViewer } from '../../auth/roles.js';
import type { UserViewer } from '../../auth/tokens.js';
import type { Context } from '../../context.js';
import { conflict, notFound, unauthenticated } from '../../errors.js';
import { mustLoad } from '../../loaders.js';
import { isUserOfTenant } from './data.js';
import { accountAttemptKeys, checkCodeInAttempt } from './lockouts.js';
import { checkSecondFactorCode, confirmEnrolment, parseSecondFactorCode, startEnrolment } from './secondFactor.js';
import { removeFactor, secondFactorOf, setSecondFactorRequired, unusedRecoveryCodeCount } from './secondFactorData.js';

/** The signed-in user and their clinic, as they are now. */
async function me(ctx: Context, viewer: UserViewer) {
  const user = await ctx.loaders.user.load(viewer.userId);
  if (!user) throw unauthenticated('The signed-in user no longer exists');
  const tenant = await mustLoad(ctx.loaders.tenant, user.tenantId, 'tenant');
  return { user, tenant };
}

async function statusOf(ctx: Context, viewer: UserViewer): Promise<SecondFactorStatus> {
  const { tenant } = await me(ctx, viewer);
  const factor = await secondFactorOf(ctx.db, viewer.tenantId, viewer.userId);
  const enabledAt = factor?.confirmedAt ?? null;
  return {
    enabled: enabledAt !== null,
    enabledAt,
    recoveryCodesLeft: enabledAt ? await unusedRecoveryCodeCount(ctx.db, viewer.tenantId, viewer.userId) : 0,
    requiredByClinic: tenant.secondFactorRequired,
  };
}

/** Second factor of staff (docs/architecture.md, "Second factor"); sign-in's step is in secondFactor.ts. */
export const secondFactorResolvers: Resolvers = {
  Query: {
    secondFactor: (_parent, _args, ctx) => statusOf(ctx, requireViewer(ctx.viewer)),
  },
  Mutation: {
    startTotpEnrolment: async (_parent, _args, ctx) => {
      const { user, tenant } = await me(ctx, requireViewer(ctx.viewer));
      const enrolment = await startEnrolment(ctx.db, tenant, user);
      ctx.log.info('user started a second-factor enrolment');
      return enrolment;
    },
    confirmTotpEnrolment: async (_parent, { code }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const parsed = parseSecondFactorCode(code);
      const factor = await secondFactorOf(ctx.db, viewer.tenantId, viewer.userId);
      if (!factor) throw conflict('No second factor is being set up: start an enrolment first', 'NO_ENROLMENT');
      const recoveryCodes = await confirmEnrolment(ctx.db, factor, parsed);
      ctx.log.info('user turned their second factor on');
      return { recoveryCodes, status: await statusOf(ctx, viewer) };
    },
    disableSecondFactor: async (_parent, { code }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const parsed = parseSecondFactorCode(code);
      const factor = await secondFactorOf(ctx.db, viewer.tenantId, viewer.userId);
      if (!factor?.confirmedAt) throw conflict('No second factor is on for this account', 'SECOND_FACTOR_NOT_ENABLED');
      // Counted with the account's sign-ins (TOO_MANY_REQUESTS, SLOWED or LOCKED, before the code is looked at).
      const { user, tenant } = await me(ctx, viewer);
      const attempt = await ctx.services.throttle.check(accountAttemptKeys(ctx, tenant.slug, user.email));
      await checkCodeInAttempt(ctx, attempt, user, () => checkSecondFactorCode(ctx.db, factor, parsed));
      await removeFactor(ctx.db, viewer.tenantId, viewer.userId);
      ctx.log.info('user turned their second factor off');
      return statusOf(ctx, viewer);
    },
    resetSecondFactor: async (_parent, { userId }, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'manageStaff');
      if (!(await isUserOfTenant(ctx.db, viewer.tenantId, userId))) throw notFound('User');
      const removed = await removeFactor(ctx.db, viewer.tenantId, userId);
      ctx.log.info({ resetUserId: userId, removed }, "an admin reset a user's second factor");
      return true;
    },
    requireSecondFactor: async (_parent, { required }, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'manageStaff');
      const tenant = await setSecondFactorRequired(ctx.db, viewer.tenantId, required);
      ctx.log.info({ required }, 'an admin changed whether the clinic requires a second factor');
      return tenant;
    },
  },
};
