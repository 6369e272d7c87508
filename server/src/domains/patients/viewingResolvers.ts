import { requireViewer } from '../../auth/roles.js';
import type { Context } from '../../context.js';
import type { PatientRow, UserRow } from '../../db/rows.js';
import type { Resolvers, SubscriptionPatientViewersChangedArgs } from '../../__generated__/resolvers-types.js';
import { notFound } from '../../errors.js';
import type { ViewingSignal } from '../../events/channels.js';
import { signalField } from '../../subscriptions/signalField.js';
import { mustLoad } from '../../loaders.js';

/** A patient of the viewer's clinic; anything else (another clinic's, none, not an id) is the same NOT_FOUND. */
async function requirePatient(ctx: Context, patientId: string): Promise<PatientRow> {
  requireViewer(ctx.viewer);
  const patient = await ctx.loaders.patient.load(patientId);
  if (!patient) throw notFound('Patient');
  return patient;
}

/** The users of these ids, ordered by name. */
async function usersByName(ctx: Context, ids: string[]): Promise<UserRow[]> {
  const users = await ctx.loaders.user.loadMany(ids);
  return users
    .filter((u): u is UserRow => u !== null && !(u instanceof Error))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

export const viewingResolvers: Resolvers = {
  Query: {
    patientViewers: async (_parent, { patientId }, ctx) => {
      const patient = await requirePatient(ctx, patientId);
      return usersByName(ctx, await ctx.services.viewing.viewers(patient.tenantId, patient.id));
    },
  },
  Mutation: {
    viewPatient: async (_parent, { patientId }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const patient = await requirePatient(ctx, patientId);
      return usersByName(ctx, await ctx.services.viewing.view(viewer, patient.id));
    },
    leavePatient: async (_parent, { patientId }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const patient = await requirePatient(ctx, patientId);
      return ctx.services.viewing.leave(viewer, patient.id);
    },
  },
  Subscription: {
    patientViewersChanged: signalField<ViewingSignal, SubscriptionPatientViewersChangedArgs>(
      'viewing',
      async ({ patientId }, ctx) => {
        // Checked before the stream starts: a chart of another clinic is NOT_FOUND here as everywhere.
        const patient = await requirePatient(ctx, patientId);
        return {
          accept: (signal) => signal.patientId === patient.id,
          // Subscribed is viewing: the subscriber is among the chart's viewers until the stream ends.
          whileOpen: (caller) => ctx.services.viewing.hold(requireViewer(caller), patient.id),
        };
      },
    ),
  },
  PatientViewersEvent: {
    patient: ({ patientId }, _args, ctx) => mustLoad(ctx.loaders.patient, patientId, 'patient'),
    viewers: ({ userIds }, _args, ctx) => usersByName(ctx, userIds),
  },
};
