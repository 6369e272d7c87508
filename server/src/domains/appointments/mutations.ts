import { formatClinicSpan } from '../../clinicTime.js';
import type { TenantRow } from '../../db/rows.js';
import { requireGrant } from '../../auth/roles.js';
import type { Context } from '../../context.js';
import type { Trx } from '../../db/knex.js';
import type { AppointmentRow, UserRow } from '../../db/rows.js';
import { commitChange, commitStatement } from '../../events/outbox.js';
import type { CreateAppointmentInput, UpdateAppointmentInput } from '../../__generated__/resolvers-types.js';
import { badInput, conflict, notFound } from '../../errors.js';
import { isUuid, optionalText, requiredText, timeRange } from '../../validation.js';
import {
  BLOCKING_STATUSES,
  bookIfFree,
  changeInPlace,
  findOverlap,
  isPatientMissing,
  lockAppointment,
  lockProvider,
  partiesOf,
  updateAppointmentRow,
  type PlainChange,
  type LockedAppointment,
} from './data.js';

const MAX_LENGTH_MS = 12 * 3600 * 1000;
const NOT_A_PATIENT = 'patientId does not name a patient of your clinic';

/**
 * A booking's or a move's write that its patient's foreign key refused (no patient of the clinic's) is the caller's
 * bad input; anything else fails as it failed.
 */
function patientRefused(err: unknown): never {
  throw isPatientMissing(err) ? badInput(NOT_A_PATIENT, 'patientId') : err;
}

function checkTimes(startsAt: Date, endsAt: Date): void {
  timeRange(startsAt, endsAt, ['startsAt', 'endsAt'], MAX_LENGTH_MS, 'appointment');
}

/** The provider locked by a booking or a move (`lockProvider`); bad input when it names no provider of the clinic. */
async function requireProvider(trx: Trx, tenantId: string, providerId: string): Promise<UserRow> {
  const provider = isUuid(providerId) ? await lockProvider(trx, tenantId, providerId) : undefined;
  if (!provider) throw badInput('providerId does not name a provider of your clinic', 'providerId');
  return provider;
}

/** The conflict of a booking or move that `overlap` is in the way of. */
async function doubleBooked(trx: Trx, tenantId: string, provider: UserRow, overlap: AppointmentRow): Promise<never> {
  // Said in the clinic's time; the instants travel in extensions for clients that render times themselves.
  const tenant = await trx<TenantRow>('tenants').where({ id: tenantId }).first('timeZone');
  const span = formatClinicSpan(overlap.startsAt, overlap.endsAt, tenant?.timeZone ?? 'UTC');
  throw conflict(`${provider.name} is already booked ${span}`, 'PROVIDER_DOUBLE_BOOKED', {
    startsAt: overlap.startsAt.toISOString(),
    endsAt: overlap.endsAt.toISOString(),
  });
}

async function requireProviderFree(
  trx: Trx,
  tenantId: string,
  providerId: string,
  startsAt: Date,
  endsAt: Date,
  exceptId: string,
): Promise<UserRow> {
  const provider = await requireProvider(trx, tenantId, providerId);
  const overlap = await findOverlap(trx, tenantId, providerId, startsAt, endsAt, exceptId);
  if (overlap) await doubleBooked(trx, tenantId, provider, overlap);
  return provider;
}

/**
 * Locks the appointment for the rest of the transaction, read with its provider and patient; a cancelled one cannot
 * change any more.
 */
async function lockChangeable(trx: Trx, tenantId: string, id: string): Promise<LockedAppointment> {
  const locked = isUuid(id) ? await lockAppointment(trx, tenantId, id) : undefined;
  if (!locked) throw notFound('Appointment');
  if (locked.appointment.status === 'CANCELLED')
    throw conflict('A cancelled appointment cannot be changed', 'APPOINTMENT_CANCELLED');
  return locked;
}

/** Every status but CANCELLED: a cancelled appointment cannot change any more. */
const NOT_CANCELLED = ['SCHEDULED', 'CHECKED_IN', 'IN_PROGRESS', 'COMPLETED', 'NO_SHOW'] as const;

/**
 * A change of an appointment that claims no time and names no one (`PlainChange`) as one statement with its event, no
 * transaction around it (`changeInPlace`, domains/appointments/data.ts). Undefined when it wrote nothing: no such
 * appointment, or one whose status the change does not apply to; the caller's path that locks the appointment first
 * then says which (or makes the change, should the status have changed meanwhile).
 */
async function changedInPlace(
  ctx: Context,
  tenantId: string,
  id: string,
  change: PlainChange,
): Promise<AppointmentRow | undefined> {
  if (!isUuid(id)) return undefined;
  return commitStatement(ctx, tenantId, async (db) => {
    const written = await changeInPlace(db, tenantId, id, change);
    if (!written) return undefined;
    const { appointment: row, event, provider, patient } = written;
    return { result: row, events: [event], rows: { appointment: [row], ...partiesOf(row, [provider], [patient]) } };
  });
}

/** An update's changes when they are the appointment's room or reason only, which `changedInPlace` makes. */
function roomOrReason(input: UpdateAppointmentInput, changes: Partial<AppointmentRow>): PlainChange | undefined {
  const { room, reason, ...others } = input;
  if (Object.values(others).some((value) => value !== undefined)) return undefined;
  if (room === undefined && reason === undefined) return undefined;
  const set: PlainChange['set'] = {};
  if (room !== undefined) set.room = changes.room ?? null;
  if (reason !== undefined) set.reason = changes.reason ?? null;
  return { set, from: NOT_CANCELLED, kind: 'UPDATED' };
}

export async function createAppointment(ctx: Context, input: CreateAppointmentInput): Promise<AppointmentRow> {
  const viewer = requireGrant(ctx.viewer, 'bookAppointment');
  const { startsAt, endsAt } = input;
  checkTimes(startsAt, endsAt);
  const room = optionalText(input.room, 'room', 40);
  const reason = optionalText(input.reason, 'reason', 500);
  if (!isUuid(input.patientId)) throw badInput(NOT_A_PATIENT, 'patientId');

  // Two statements between BEGIN and COMMIT: the provider's lock, then the overlap check, the insert and its event in
  // one (`bookIfFree`).
  return commitChange(ctx, viewer.tenantId, async (trx, _record, appended) => {
    const provider = await requireProvider(trx, viewer.tenantId, input.providerId);
    const booked = await bookIfFree(trx, viewer.tenantId, {
      providerId: input.providerId,
      patientId: input.patientId,
      startsAt,
      endsAt,
      room,
      reason,
    }).catch(patientRefused);
    if ('overlap' in booked) return doubleBooked(trx, viewer.tenantId, provider, booked.overlap);
    const { appointment: row, patient, event } = booked;
    appended([event], { appointment: [row], ...partiesOf(row, [provider], [patient]) });
    return row;
  });
}

export async function updateAppointment(
  ctx: Context,
  id: string,
  input: UpdateAppointmentInput,
): Promise<AppointmentRow> {
  const viewer = requireGrant(ctx.viewer, 'bookAppointment');
  if (input.status === 'CANCELLED') throw badInput('use cancelAppointment to cancel, with a reason', 'status');
  if (input.status === 'CHECKED_IN') throw badInput('use checkInAppointment to check a patient in', 'status');
  const changes: Partial<AppointmentRow> = {};
  if (input.room !== undefined) changes.room = optionalText(input.room, 'room', 40);
  if (input.reason !== undefined) changes.reason = optionalText(input.reason, 'reason', 500);
  if (input.status) changes.status = input.status;
  else if (input.status === null) throw badInput('status cannot be null; leave it out to keep it', 'status');
  if (input.patientId === null) throw badInput('patientId cannot be null; leave it out to keep it', 'patientId');
  if (input.patientId !== undefined) {
    // Whether it names a patient of the clinic is the update's foreign key's to say (`updateAppointmentRow`).
    if (!isUuid(input.patientId)) throw badInput(NOT_A_PATIENT, 'patientId');
    changes.patientId = input.patientId;
  }

  const plain = roomOrReason(input, changes);
  const changed = plain && (await changedInPlace(ctx, viewer.tenantId, id, plain));
  if (changed) return changed;

  return commitChange(ctx, viewer.tenantId, async (trx, record) => {
    const locked = await lockChangeable(trx, viewer.tenantId, id);
    const current = locked.appointment;
    const providerId = input.providerId ?? current.providerId;
    const startsAt = input.startsAt ?? current.startsAt;
    const endsAt = input.endsAt ?? current.endsAt;
    const moved =
      providerId !== current.providerId ||
      startsAt.getTime() !== current.startsAt.getTime() ||
      endsAt.getTime() !== current.endsAt.getTime();
    const holdsTime = (status: string) => (BLOCKING_STATUSES as readonly string[]).includes(status);
    const claimsTime = holdsTime(changes.status ?? current.status) && (moved || !holdsTime(current.status));
    if (moved) checkTimes(startsAt, endsAt);
    // A move, or a no-show put back on the schedule, must find the provider free.
    let provider: UserRow | undefined;
    if (claimsTime)
      provider = await requireProviderFree(trx, viewer.tenantId, providerId, startsAt, endsAt, current.id);
    else if (providerId !== current.providerId) provider = await requireProvider(trx, viewer.tenantId, providerId);
    if (moved) Object.assign(changes, { providerId, startsAt, endsAt });
    if (changes.patientId === current.patientId) delete changes.patientId;
    if (Object.keys(changes).length === 0) return current;
    const { appointment: row, patient } = await updateAppointmentRow(trx, viewer.tenantId, current.id, changes).catch(
      patientRefused,
    );
    record(
      [
        {
          topic: 'appointment',
          kind: 'UPDATED',
          entityId: row.id,
          providerId: row.providerId,
          data: moved && providerId !== current.providerId ? { previousProviderId: current.providerId } : {},
        },
      ],
      { appointment: [row], ...partiesOf(row, [provider, locked.provider], [patient, locked.patient]) },
    );
    return row;
  });
}

export async function cancelAppointment(ctx: Context, id: string, reasonInput: string): Promise<AppointmentRow> {
  const viewer = requireGrant(ctx.viewer, 'bookAppointment');
  const reason = requiredText(reasonInput, 'reason', { max: 500 });
  const cancelled = await changedInPlace(ctx, viewer.tenantId, id, {
    set: { status: 'CANCELLED', cancellationReason: reason },
    from: ['SCHEDULED', 'CHECKED_IN', 'IN_PROGRESS', 'NO_SHOW'],
    kind: 'CANCELLED',
  });
  if (cancelled) return cancelled;
  return commitChange(ctx, viewer.tenantId, async (trx, record) => {
    const locked = await lockChangeable(trx, viewer.tenantId, id);
    const current = locked.appointment;
    if (current.status === 'COMPLETED')
      throw conflict('A completed appointment cannot be cancelled', 'APPOINTMENT_COMPLETED');
    const { appointment: row } = await updateAppointmentRow(trx, viewer.tenantId, current.id, {
      status: 'CANCELLED',
      cancellationReason: reason,
    });
    record([{ topic: 'appointment', kind: 'CANCELLED', entityId: row.id, providerId: row.providerId }], {
      appointment: [row],
      ...partiesOf(row, [locked.provider], [locked.patient]),
    });
    return row;
  });
}

export async function checkInAppointment(ctx: Context, id: string): Promise<AppointmentRow> {
  const viewer = requireGrant(ctx.viewer, 'checkIn');
  const checkedIn = await changedInPlace(ctx, viewer.tenantId, id, {
    set: { status: 'CHECKED_IN', checkedInAt: 'now' },
    from: ['SCHEDULED'],
    kind: 'CHECKED_IN',
  });
  if (checkedIn) return checkedIn;
  return commitChange(ctx, viewer.tenantId, async (trx, record) => {
    const locked = await lockChangeable(trx, viewer.tenantId, id);
    const current = locked.appointment;
    if (current.status !== 'SCHEDULED') {
      throw conflict(`Only a scheduled appointment can be checked in; this one is ${current.status}`, 'NOT_SCHEDULED');
    }
    const { appointment: row } = await updateAppointmentRow(trx, viewer.tenantId, current.id, {
      status: 'CHECKED_IN',
      checkedInAt: trx.fn.now() as unknown as Date,
    });
    record([{ topic: 'appointment', kind: 'CHECKED_IN', entityId: row.id, providerId: row.providerId }], {
      appointment: [row],
      ...partiesOf(row, [locked.provider], [locked.patient]),
    });
    return row;
  });
}
