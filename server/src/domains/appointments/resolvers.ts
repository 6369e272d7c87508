import { requireCaller } from '../../auth/roles.js';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { clinicToday } from '../../clinicTime.js';
import { mustLoad } from '../../loaders.js';
import { appointmentById, appointmentsInRange, appointmentsOnDay } from './data.js';
import { cancelAppointment, checkInAppointment, createAppointment, updateAppointment } from './mutations.js';
import { isUuid, timeRange } from '../../validation.js';

const MAX_RANGE_MS = 31 * 24 * 3600 * 1000;

export const appointmentResolvers: Resolvers = {
  Query: {
    appointments: (_parent, { from, to, providerId }, ctx) => {
      const viewer = requireCaller(ctx.viewer);
      timeRange(from, to, ['from', 'to'], MAX_RANGE_MS);
      if (providerId && !isUuid(providerId)) return [];
      return appointmentsInRange(ctx.db, viewer.tenantId, from, to, providerId);
    },
    schedule: async (_parent, { date, providerId }, ctx) => {
      const viewer = requireCaller(ctx.viewer);
      if (providerId && !isUuid(providerId)) return [];
      const { timeZone } = await mustLoad(ctx.loaders.tenant, viewer.tenantId, 'tenant');
      return appointmentsOnDay(ctx.db, viewer.tenantId, date ?? clinicToday(timeZone), timeZone, providerId);
    },
    appointment: async (_parent, { id }, ctx) => {
      const viewer = requireCaller(ctx.viewer);
      if (!isUuid(id)) return null;
      return (await appointmentById(ctx.db, viewer.tenantId, id)) ?? null;
    },
  },
  Mutation: {
    createAppointment: (_parent, { input }, ctx) => createAppointment(ctx, input),
    updateAppointment: (_parent, { id, input }, ctx) => updateAppointment(ctx, id, input),
    cancelAppointment: (_parent, { id, reason }, ctx) => cancelAppointment(ctx, id, reason),
    checkInAppointment: (_parent, { id }, ctx) => checkInAppointment(ctx, id),
  },
  Appointment: {
    provider: (a, _args, ctx) => mustLoad(ctx.loaders.user, a.providerId, 'provider'),
    patient: (a, _args, ctx) => mustLoad(ctx.loaders.patient, a.patientId, 'patient'),
  },
};
