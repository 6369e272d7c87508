import { clinicToday } from '../../clinicTime.js';
import { mustLoad } from '../../loaders.js';
import { requireCaller, requireGrant } from '../../auth/roles.js';
import type { PatientRow } from '../../db/rows.js';
import type { Context } from '../../context.js';
import { isPgError, PgError } from '../../db/knex.js';
import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { badInput, conflict, notFound } from '../../errors.js';
import {
  decodeCursor,
  encodeCursor,
  isUuid,
  optionalEmail,
  optionalText,
  pageSize,
  requiredText,
  timeRange,
} from '../../validation.js';
import { appointmentsOfPatient } from '../appointments/data.js';
import { recordPatientChange } from './accessAudit.js';
import { insertPatient, searchPatients, updatePatientRow } from './data.js';

const YEAR_MS = 366 * 24 * 3600 * 1000;

/** "The future" starts tomorrow in the clinic, not in UTC: a baby born this evening in New York is not refused. */
async function checkDateOfBirth(ctx: Context, tenantId: string, dateOfBirth: string): Promise<string> {
  const tenant = await mustLoad(ctx.loaders.tenant, tenantId, 'tenant');
  if (dateOfBirth > clinicToday(tenant.timeZone)) throw badInput('dateOfBirth cannot be in the future', 'dateOfBirth');
  return dateOfBirth;
}

/** A field that may be left out but not cleared: null is refused, naming the field. */
function notNull<T>(value: T | null | undefined, field: string): T | undefined {
  if (value === null) throw badInput(`${field} cannot be null; leave it out to keep it`, field);
  return value;
}

export const patientResolvers: Resolvers = {
  Query: {
    patients: async (_parent, { search, first, after }, ctx) => {
      const viewer = requireCaller(ctx.viewer);
      const size = pageSize(first, 'first', 25);
      const position = after !== null && after !== undefined ? decodeCursor(after, 'after', 3) : null;
      // The id is compared as a uuid in SQL: a forged cursor with another id would fail there as a server error.
      if (position && !(position.every((v) => typeof v === 'string') && isUuid(position[2]))) {
        throw badInput('after is not a cursor this API gave out', 'after');
      }
      const term = search?.trim() || null;
      if (term && term.length > 100) throw badInput('search must be at most 100 characters long', 'search');
      const rows = await searchPatients(ctx.db, viewer.tenantId, {
        search: term,
        limit: size + 1,
        after: position as [string, string, string] | null,
      });
      const page = rows.slice(0, size);
      const edges = page.map((node) => ({ node, cursor: encodeCursor([node.lastName, node.firstName, node.id]) }));
      return {
        edges,
        pageInfo: {
          hasNextPage: rows.length > size,
          hasPreviousPage: position !== null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
    // Audited where a Patient is given out, as every path is (auditedFields.ts).
    patient: (_parent, { id }, ctx) => {
      requireCaller(ctx.viewer);
      return ctx.loaders.patient.load(id);
    },
  },
  Mutation: {
    createPatient: async (_parent, { input }, ctx) => {
      const viewer = requireGrant(ctx.viewer, 'createPatient');
      const dateOfBirth = await checkDateOfBirth(ctx, viewer.tenantId, input.dateOfBirth);
      const patient = {
        mrn: requiredText(input.mrn, 'mrn', { max: 40 }),
        firstName: requiredText(input.firstName, 'firstName', { max: 100 }),
        lastName: requiredText(input.lastName, 'lastName', { max: 100 }),
        dateOfBirth,
        phone: optionalText(input.phone, 'phone', 40),
        email: optionalEmail(input.email, 'email'),
      };
      try {
        return await ctx.db.transaction(async (trx) => {
          const row = await insertPatient(trx, viewer.tenantId, patient);
          await recordPatientChange(trx, row.id, viewer, 'CREATE', ctx.via, 'Mutation.createPatient', ctx.requestId);
          return row;
        });
      } catch (err) {
        if (isPgError(err, PgError.uniqueViolation))
          throw conflict(`MRN ${patient.mrn} is already in use`, 'MRN_TAKEN');
        throw err;
      }
    },
    updatePatient: async (_parent, { id, input }, ctx) => {
      const viewer = requireGrant(ctx.viewer, 'createPatient');
      const changes: Partial<PatientRow> = {};
      const mrn = notNull(input.mrn, 'mrn');
      if (mrn !== undefined) changes.mrn = requiredText(mrn, 'mrn', { max: 40 });
      const firstName = notNull(input.firstName, 'firstName');
      if (firstName !== undefined) changes.firstName = requiredText(firstName, 'firstName', { max: 100 });
      const lastName = notNull(input.lastName, 'lastName');
      if (lastName !== undefined) changes.lastName = requiredText(lastName, 'lastName', { max: 100 });
      const dateOfBirth = notNull(input.dateOfBirth, 'dateOfBirth');
      if (dateOfBirth !== undefined) changes.dateOfBirth = await checkDateOfBirth(ctx, viewer.tenantId, dateOfBirth);
      if (input.phone !== undefined) changes.phone = optionalText(input.phone, 'phone', 40);
      if (input.email !== undefined) changes.email = optionalEmail(input.email, 'email');
      if (!isUuid(id)) throw notFound('Patient');
      try {
        return await ctx.db.transaction(async (trx) => {
          const row = await updatePatientRow(trx, viewer.tenantId, id, changes);
          if (!row) throw notFound('Patient');
          await recordPatientChange(trx, row.id, viewer, 'UPDATE', ctx.via, 'Mutation.updatePatient', ctx.requestId);
          return row;
        });
      } catch (err) {
        if (isPgError(err, PgError.uniqueViolation))
          throw conflict(`MRN ${changes.mrn ?? ''} is already in use`, 'MRN_TAKEN');
        throw err;
      }
    },
  },
  Patient: {
    displayName: (p) => `${p.firstName} ${p.lastName}`,
    appointments: (p, { from, to }, ctx) => {
      timeRange(from, to, ['from', 'to'], YEAR_MS);
      return appointmentsOfPatient(ctx.db, p.tenantId, p.id, from, to);
    },
  },
};
