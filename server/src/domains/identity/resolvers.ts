import { clinicToday } from '../../clinicTime.js';
import { verifyPassword } from '../../auth/passwords.js';
import { requireAcceptablePassword } from '../../auth/passwordRules.js';
import { requireCaller, requirePermission, requireViewer } from '../../auth/roles.js';
import { isPgError, PgError } from '../../db/knex.js';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { GraphQLError } from 'graphql';
import { authenticateCaller } from '../../auth/authenticate.js';
import { badInput, badRequest, conflict, notFound, SessionEndReason, unauthenticated } from '../../errors.js';
import { CLINIC_DISABLED_MESSAGE } from '../clinics/standing.js';
import { isUuid, requiredEmail, requiredText } from '../../validation.js';
import { ThrottleKey } from '../../auth/throttle.js';
import { accountAttemptKeys, announceLockout, checkCodeInAttempt } from './lockouts.js';
import { mustLoad } from '../../loaders.js';
import { passSecondFactor } from './secondFactor.js';
import { insertUser, isUserOfTenant, listStaff, setPasswordHash, tenantBySlug, userByEmail } from './data.js';

export const identityResolvers: Resolvers = {
  Query: {
    me: async (_parent, _args, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const user = await ctx.loaders.user.load(viewer.userId);
      // A token outliving its user (account removed) is no longer a valid identity.
      if (!user) throw unauthenticated('The signed-in user no longer exists');
      return user;
    },
    staff: (_parent, { role }, ctx) => listStaff(ctx.db, requireCaller(ctx.viewer).tenantId, role),
    user: (_parent, { id }, ctx) => {
      requireCaller(ctx.viewer);
      return ctx.loaders.user.load(id);
    },
  },
  Mutation: {
    login: async (_parent, { tenant: slug, email, password, code }, ctx) => {
      const { throttle, passwordHashing } = ctx.services;
      // Counted against the clinic and email as typed, existing or not, and the caller's address.
      const keys = accountAttemptKeys(ctx, slug, email);
      // The slot first: a busy server refuses before it reads or counts anything.
      const { tenant, user, valid, attempt } = await passwordHashing.withSlot(async () => {
        const attempt = await throttle.check(keys);
        const tenant = await tenantBySlug(ctx.db, slug.trim().toLowerCase());
        const user = tenant ? await userByEmail(ctx.db, tenant.id, email.trim()) : undefined;
        // Always spend one password hash, so timing does not tell which clinics and emails exist.
        const valid = await verifyPassword(password, user?.passwordHash ?? (await passwordHashing.dummyHash()));
        return { tenant, user, valid, attempt };
      });
      if (!tenant || !user || !valid) {
        const { locked } = await throttle.recordFailure(attempt);
        if (locked && user) announceLockout(ctx, user);
        throw unauthenticated('Unknown clinic, email or password');
      }
      // Told only to whoever knows a password of the clinic: to anyone else it answers like any refused sign-in. The
      // password was right: not a failure.
      if (tenant.disabledAt) {
        await throttle.release(attempt);
        throw unauthenticated(CLINIC_DISABLED_MESSAGE, SessionEndReason.clinicDisabled);
      }
      // The second factor is part of the same attempt.
      const recoveryCodes = await checkCodeInAttempt(ctx, attempt, user, () =>
        passSecondFactor(ctx.db, tenant, user, code),
      );
      const identity = { userId: user.id, tenantId: tenant.id, role: user.role, name: user.name };
      const { token, expiresAt, viewer } = await ctx.services.tokens.sign(identity);
      // The new session's idle clock starts now, on every instance.
      await ctx.services.sessions.started(viewer);
      if (!ctx.viewer) ctx.signIn(viewer);
      ctx.log.info('user signed in');
      return {
        token,
        expiresAt,
        user,
        idleTimeoutSeconds: ctx.services.config.sessionIdleTimeoutSeconds,
        recoveryCodes,
      };
    },
    changePassword: async (_parent, { currentPassword, newPassword }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const { throttle, passwordHashing } = ctx.services;
      // One slot for the three derivations below, taken before anything is read.
      const user = await passwordHashing.withSlot(async () => {
        const user = await ctx.loaders.user.load(viewer.userId);
        if (!user) throw unauthenticated('The signed-in user no longer exists');
        const tenant = await mustLoad(ctx.loaders.tenant, user.tenantId, 'tenant');
        // The same count as the account's sign-ins: a stolen session cannot guess the password faster than a sign-in.
        const attempt = await throttle.check(accountAttemptKeys(ctx, tenant.slug, user.email));
        if (!(await verifyPassword(currentPassword, user.passwordHash))) {
          const { locked } = await throttle.recordFailure(attempt);
          if (locked) announceLockout(ctx, user);
          // Not UNAUTHENTICATED: the session is still good (clients sign out on that code).
          throw badInput('currentPassword is not your current password', 'currentPassword', 'WRONG_PASSWORD');
        }
        await throttle.recordSuccess(attempt);
        await requireAcceptablePassword(newPassword, 'newPassword', { email: user.email, clinicSlug: tenant.slug });
        if (await verifyPassword(newPassword, user.passwordHash))
          throw badInput('newPassword is the current password: choose another', 'newPassword', 'PASSWORD_UNCHANGED');
        await setPasswordHash(ctx.db, user.tenantId, user.id, await passwordHashing.hash(newPassword));
        return user;
      });
      // Whoever knew the old password is signed out everywhere; this caller carries on in a new session.
      await ctx.services.sessions.signOutUser(user.tenantId, user.id);
      const identity = { userId: user.id, tenantId: user.tenantId, role: user.role, name: user.name };
      const { token, expiresAt, viewer: renewed } = await ctx.services.tokens.sign(identity);
      await ctx.services.sessions.started(renewed);
      ctx.log.info('user changed their password; their other sessions were ended');
      return { token, expiresAt, user, idleTimeoutSeconds: ctx.services.config.sessionIdleTimeoutSeconds };
    },
    renewToken: async (_parent, _args, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      // The user as they are now: a renamed user or a changed role shows in the new token.
      const user = await ctx.loaders.user.load(viewer.userId);
      if (!user) throw unauthenticated('The signed-in user no longer exists');
      const { token, expiresAt } = await ctx.services.tokens.sign({
        userId: user.id,
        tenantId: user.tenantId,
        role: user.role,
        name: user.name,
        sessionId: viewer.sessionId,
        sessionStartedAt: viewer.sessionStartedAt,
      });
      return { token, expiresAt, user, idleTimeoutSeconds: ctx.services.config.sessionIdleTimeoutSeconds };
    },
    renewConnection: async (_parent, { token }, ctx) => {
      if (!ctx.connection) {
        throw badRequest(
          'renewConnection renews the WebSocket it is sent on; over HTTP, send the new token with each request',
        );
      }
      requireCaller(ctx.viewer);
      // Checked as at connection_init: signature, expiry, sign-out, revocation, membership. A bad one is bad input,
      // not UNAUTHENTICATED: the connection's own token is still good (clients sign out on UNAUTHENTICATED).
      const next = await authenticateCaller(ctx.services, `Bearer ${token}`).catch((err: unknown) => {
        throw err instanceof GraphQLError ? badInput(err.message, 'token') : err;
      });
      if (!next) throw badInput('token is empty', 'token');
      ctx.connection.renew(next);
      return { expiresAt: new Date(next.expiresAt * 1000) };
    },
    renewStream: async (_parent, { streamId }, ctx) => {
      const viewer = requireCaller(ctx.viewer);
      await ctx.services.sessions.renewStream(viewer, streamId);
      return { expiresAt: new Date(viewer.expiresAt * 1000) };
    },
    signOut: async (_parent, _args, ctx) => {
      await ctx.services.sessions.signOut(requireViewer(ctx.viewer));
      ctx.log.info('user signed out');
      return true;
    },
    signOutEverywhere: async (_parent, _args, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      await ctx.services.sessions.signOutUser(viewer.tenantId, viewer.userId);
      ctx.log.info('user signed out everywhere');
      return true;
    },
    endUserSessions: async (_parent, { userId }, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'manageStaff');
      if (!(await isUserOfTenant(ctx.db, viewer.tenantId, userId))) throw notFound('User');
      await ctx.services.sessions.signOutUser(viewer.tenantId, userId);
      ctx.log.info({ endedUserId: userId }, "an admin ended a user's sessions");
      return true;
    },
    unlockAccount: async (_parent, { userId }, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'manageStaff');
      // The loader reads the viewer's clinic only: another clinic's user is not found, like one that does not exist.
      const user = isUuid(userId) ? await ctx.loaders.user.load(userId) : null;
      if (!user) throw notFound('User');
      const tenant = await mustLoad(ctx.loaders.tenant, viewer.tenantId, 'tenant');
      await ctx.services.throttle.unlock(ThrottleKey.user(tenant.slug, user.email));
      ctx.log.info({ unlockedUserId: user.id }, "an admin unlocked a user's sign-in");
      return user;
    },
    createUser: async (_parent, { input }, ctx) => {
      const viewer = requirePermission(ctx.viewer, 'manageStaff');
      const email = requiredEmail(input.email, 'email');
      const name = requiredText(input.name, 'name', { max: 120 });
      const tenant = await mustLoad(ctx.loaders.tenant, viewer.tenantId, 'tenant');
      await requireAcceptablePassword(input.password, 'password', { email, clinicSlug: tenant.slug });
      const passwordHash = await ctx.services.passwordHashing.withSlot(() =>
        ctx.services.passwordHashing.hash(input.password),
      );
      try {
        return await insertUser(ctx.db, viewer.tenantId, { email, name, role: input.role, passwordHash });
      } catch (err) {
        if (isPgError(err, PgError.uniqueViolation))
          throw conflict(`A user with email ${email} already exists`, 'EMAIL_TAKEN');
        throw err;
      }
    },
  },
  User: {
    tenant: (user, _args, ctx) => mustLoad(ctx.loaders.tenant, user.tenantId, 'tenant'),
  },
  Tenant: {
    today: (tenant) => clinicToday(tenant.timeZone),
  },
};
