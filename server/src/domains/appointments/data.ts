import { isPgError, PgError, rowOfJson, type Db, type Trx } from '../../db/knex.js';
import type { Knex } from 'knex';
import type { AppointmentRow, AppointmentStatus, EventRow, PatientRow, UserRow } from '../../db/rows.js';
import { APPEND_EVENTS, type EventKind } from '../../events/eventLog.js';
import type { CommittedRows } from '../../events/outbox.js';

/** Statuses that hold the provider's time: only these can collide with another booking. */
export const BLOCKING_STATUSES = ['SCHEDULED', 'CHECKED_IN', 'IN_PROGRESS', 'COMPLETED'] as const;

const byStart = [{ column: 'startsAt' }, { column: 'id' }];

export async function appointmentsInRange(
  db: Db,
  tenantId: string,
  from: Date,
  to: Date,
  providerId?: string | null,
): Promise<AppointmentRow[]> {
  const query = db<AppointmentRow>('appointments')
    .where({ tenantId })
    .andWhere('startsAt', '>=', from)
    .andWhere('startsAt', '<', to)
    .orderBy(byStart);
  if (providerId) query.andWhere({ providerId });
  return query;
}

/** One schedule day, counted in the clinic's time zone by the database (daylight-saving days included). */
export async function appointmentsOnDay(
  db: Db,
  tenantId: string,
  date: string,
  timeZone: string,
  providerId?: string | null,
): Promise<AppointmentRow[]> {
  const query = db<AppointmentRow>('appointments')
    .where({ tenantId })
    .andWhereRaw('starts_at >= (?::date)::timestamp at time zone ?', [date, timeZone])
    .andWhereRaw('starts_at < (?::date + 1)::timestamp at time zone ?', [date, timeZone])
    .orderBy(byStart);
  if (providerId) query.andWhere({ providerId });
  return query;
}

export async function appointmentsOfPatient(
  db: Db,
  tenantId: string,
  patientId: string,
  from: Date,
  to: Date,
): Promise<AppointmentRow[]> {
  return db<AppointmentRow>('appointments')
    .where({ tenantId, patientId })
    .andWhere('startsAt', '>=', from)
    .andWhere('startsAt', '<', to)
    .orderBy(byStart);
}

export async function appointmentsByIds(db: Db, tenantId: string, ids: string[]): Promise<AppointmentRow[]> {
  return db<AppointmentRow>('appointments').where({ tenantId }).whereIn('id', ids);
}

export async function appointmentById(db: Db | Trx, tenantId: string, id: string): Promise<AppointmentRow | undefined> {
  return db<AppointmentRow>('appointments').where({ tenantId, id }).first();
}

/** An appointment locked by its change, with its provider and patient as the lock's statement read them. */
export interface LockedAppointment {
  appointment: AppointmentRow;
  provider: UserRow | undefined;
  patient: PatientRow | undefined;
}

/**
 * Reads an appointment and locks it until the transaction ends; in the same statement, its provider and patient
 * (not locked), which the change's delivery shows: it then reads nothing back (subscriptions/feedItems.ts). They are
 * the rows the appointment named when the statement started. Should the lock wait on a change that gives the
 * appointment another provider or patient, PostgreSQL rechecks the join of the appointment as that change left it
 * with the rows read before the wait: the joins are left joins, so the appointment is still found (an inner join
 * would drop it: "Appointment not found"), and `partiesOf` hands on only the rows it names now
 * (server/test/realtime/appointment-races.postgres.test.ts).
 */
export async function lockAppointment(trx: Trx, tenantId: string, id: string): Promise<LockedAppointment | undefined> {
  const found = await trx('appointments as a')
    .leftJoin('users as u', { 'u.tenantId': 'a.tenantId', 'u.id': 'a.providerId' })
    .leftJoin('patients as p', { 'p.tenantId': 'a.tenantId', 'p.id': 'a.patientId' })
    .where({ 'a.tenantId': tenantId, 'a.id': id })
    .first<(AppointmentRow & { providerRow: unknown; patientRow: unknown }) | undefined>(
      'a.*',
      trx.raw('to_jsonb(u) as provider_row'),
      trx.raw('to_jsonb(p) as patient_row'),
    )
    .forUpdate('a');
  if (!found) return undefined;
  const { providerRow, patientRow, ...appointment } = found;
  return {
    appointment,
    provider: rowOfJson<UserRow>(providerRow),
    patient: rowOfJson<PatientRow>(patientRow),
  };
}

/**
 * Of the users and patients a change read, the provider and patient its appointment names once changed: the rows its
 * delivery shows, handed to it with the appointment (`CommittedRows`). One the appointment no longer names is left out.
 */
export function partiesOf(
  row: AppointmentRow,
  users: readonly (UserRow | undefined)[],
  patients: readonly (PatientRow | undefined)[],
): Pick<CommittedRows, 'user' | 'patient'> {
  const provider = users.find((u) => u?.id === row.providerId);
  const patient = patients.find((p) => p?.id === row.patientId);
  return { user: provider ? [provider] : [], patient: patient ? [patient] : [] };
}

/**
 * Locks the provider's user row until the transaction ends, so that bookings of one provider take turns: the
 * overlap check that follows then sees every booking committed before it. (NO KEY UPDATE: rows that merely
 * reference the user, such as messages, are not held up.)
 */
export async function lockProvider(trx: Trx, tenantId: string, providerId: string): Promise<UserRow | undefined> {
  return trx<UserRow>('users').where({ tenantId, id: providerId, role: 'PROVIDER' }).forNoKeyUpdate().first();
}

export async function findOverlap(
  trx: Trx,
  tenantId: string,
  providerId: string,
  startsAt: Date,
  endsAt: Date,
  exceptId?: string,
): Promise<AppointmentRow | undefined> {
  const query = trx<AppointmentRow>('appointments')
    .where({ tenantId, providerId })
    .whereIn('status', BLOCKING_STATUSES)
    .andWhere('startsAt', '<', endsAt)
    .andWhere('endsAt', '>', startsAt)
    .first();
  if (exceptId) query.andWhereNot({ id: exceptId });
  return query;
}

/** Statuses as a list of SQL literals, for `status in (…)`: the statuses are the code's own constants. */
function statusList(statuses: readonly AppointmentStatus[]): string {
  return statuses.map((status) => `'${status}'`).join(', ');
}

/**
 * The event of an appointment a statement wrote (`written`, one row), as the relation `e` that `APPEND_EVENTS`
 * appends in that same statement. One binding: the kind.
 */
const EVENT_OF_WRITTEN = `e (ord, topic, kind, entity_id, user_id, thread_id, provider_id, data) as (
       select 1, 'appointment', ?::text, w.id, null::uuid, null::uuid, w.provider_id, '{}'::jsonb from written w
     ),
     ${APPEND_EVENTS}`;

/** A booking's statement: its insert, or the booking in its provider's way (`bookIfFree`). */
const BOOK_IF_FREE = `with overlap as (
       select * from appointments
       where tenant_id = ? and provider_id = ? and status in (${statusList(BLOCKING_STATUSES)})
         and starts_at < ?::timestamptz and ends_at > ?::timestamptz
       limit 1
     ),
     written as (
       insert into appointments (tenant_id, provider_id, patient_id, starts_at, ends_at, room, reason)
       select ?::uuid, ?::uuid, ?::uuid, ?::timestamptz, ?::timestamptz, ?::text, ?::text
       where not exists (select from overlap)
       returning *
     ),
     ${EVENT_OF_WRITTEN}
     select (select to_jsonb(o) from overlap o) as overlap_row, to_jsonb(w) as appointment_row,
       to_jsonb(a) as event_row, to_jsonb(p) as patient_row
     from (select) one
       left join written w on true
       left join appended a on true
       left join patients p on p.tenant_id = w.tenant_id and p.id = w.patient_id`;

/** What a booking's statement did: booked the appointment and appended its event, or found one in its way. */
export type Booking =
  { appointment: AppointmentRow; patient: PatientRow | undefined; event: EventRow } | { overlap: AppointmentRow };

/**
 * Books an appointment unless another of its provider's holds part of its time, in one statement with its event
 * (`APPEND_EVENTS`): the overlap check, the insert, the event and the patient its delivery shows (one round trip
 * where there were three). Run after `lockProvider`, in the same transaction: the statement's snapshot is taken once
 * the provider is held, so it sees every booking of the provider committed before. The patient is not read before:
 * the insert's foreign key checks that it is one of the clinic's and holds it (KEY SHARE) until the transaction ends;
 * a patient of no clinic's or of another fails it with PostgreSQL's foreign-key violation (`isPatientMissing`).
 */
export async function bookIfFree(
  trx: Trx,
  tenantId: string,
  booking: Pick<AppointmentRow, 'providerId' | 'patientId' | 'startsAt' | 'endsAt' | 'room' | 'reason'>,
): Promise<Booking> {
  const { providerId, patientId, startsAt, endsAt, room, reason } = booking;
  const created: EventKind<'appointment'> = 'CREATED';
  const { rows } = (await trx.raw(BOOK_IF_FREE, [
    tenantId,
    providerId,
    endsAt,
    startsAt,
    tenantId,
    providerId,
    patientId,
    startsAt,
    endsAt,
    room,
    reason,
    created,
    tenantId,
  ])) as { rows: { overlapRow: unknown; appointmentRow: unknown; eventRow: unknown; patientRow: unknown }[] };
  const [{ overlapRow, appointmentRow, eventRow, patientRow }] = rows;
  const overlap = rowOfJson<AppointmentRow>(overlapRow);
  if (overlap) return { overlap };
  return {
    appointment: rowOfJson<AppointmentRow>(appointmentRow)!,
    patient: rowOfJson<PatientRow>(patientRow),
    event: rowOfJson<EventRow>(eventRow)!,
  };
}

/**
 * A change of an appointment that claims no time and names no one, as one statement (`changeInPlace`): the columns it
 * sets, the statuses it may change the appointment from, and its event's kind.
 */
export interface PlainChange {
  set: {
    room?: string | null;
    reason?: string | null;
    status?: 'CANCELLED' | 'CHECKED_IN';
    cancellationReason?: string;
    /** The statement's time. */
    checkedInAt?: 'now';
  };
  from: readonly AppointmentStatus[];
  kind: EventKind<'appointment'>;
}

/** What `changeInPlace` wrote: the appointment as it now is, its event, and the provider and patient it names. */
export interface ChangedInPlace {
  appointment: AppointmentRow;
  event: EventRow;
  provider: UserRow | undefined;
  patient: PatientRow | undefined;
}

/** `PlainChange.set` as SQL: the columns are the code's own, every value bound. */
function setClause(set: PlainChange['set']): { sql: string; bindings: Knex.Value[] } {
  const columns: string[] = [];
  const bindings: Knex.Value[] = [];
  const bind = (column: string, value: Knex.Value) => {
    columns.push(`${column} = ?::text`);
    bindings.push(value);
  };
  if (set.room !== undefined) bind('room', set.room);
  if (set.reason !== undefined) bind('reason', set.reason);
  if (set.status !== undefined) bind('status', set.status);
  if (set.cancellationReason !== undefined) bind('cancellation_reason', set.cancellationReason);
  if (set.checkedInAt === 'now') columns.push('checked_in_at = current_timestamp');
  columns.push('updated_at = current_timestamp');
  return { sql: columns.join(', '), bindings };
}

/**
 * Changes an appointment and appends its event in one statement, with no transaction around it (`commitStatement`,
 * events/outbox.ts): one round trip where a change that locks the appointment first takes five (BEGIN, the lock, the
 * update, the event, COMMIT). For a change that claims no time and names no one (a room, a reason, a check-in, a
 * cancellation), which nothing need be checked against but the appointment's status: the update holds the row, waits
 * for a change under way, and writes only if the status is one of `from` as that change left it (PostgreSQL re-reads
 * the row after the wait). Returns undefined when it wrote nothing (no such appointment, or another status: the caller
 * says which). The provider and patient are read by the statement too, for its delivery, as they were when the
 * statement started.
 */
export async function changeInPlace(
  db: Db,
  tenantId: string,
  id: string,
  { set, from, kind }: PlainChange,
): Promise<ChangedInPlace | undefined> {
  const columns = setClause(set);
  const { rows } = (await db.raw(
    `with written as (
       update appointments set ${columns.sql}
       where tenant_id = ? and id = ? and status in (${statusList(from)})
       returning *
     ),
     ${EVENT_OF_WRITTEN}
     select to_jsonb(w) as appointment_row, to_jsonb(a) as event_row, to_jsonb(u) as provider_row,
       to_jsonb(p) as patient_row
     from written w
       cross join appended a
       left join users u on u.tenant_id = w.tenant_id and u.id = w.provider_id
       left join patients p on p.tenant_id = w.tenant_id and p.id = w.patient_id`,
    [...columns.bindings, tenantId, id, kind, tenantId],
  )) as { rows: { appointmentRow: unknown; eventRow: unknown; providerRow: unknown; patientRow: unknown }[] };
  if (rows.length === 0) return undefined;
  const [{ appointmentRow, eventRow, providerRow, patientRow }] = rows;
  return {
    appointment: rowOfJson<AppointmentRow>(appointmentRow)!,
    event: rowOfJson<EventRow>(eventRow)!,
    provider: rowOfJson<UserRow>(providerRow),
    patient: rowOfJson<PatientRow>(patientRow),
  };
}

/** The written appointment's patient, whole, beside the row a statement returns (`rowOfJson` makes it a row). */
const PATIENT_ROW =
  '(select to_jsonb(p) from patients p where p.tenant_id = appointments.tenant_id and p.id = appointments.patient_id) as patient_row';

type WithPatientRow = AppointmentRow & { patientRow?: unknown };

/** The appointment a write returned, apart from the patient `PATIENT_ROW` read beside it (when it was asked for). */
function withPatient({ patientRow, ...appointment }: WithPatientRow) {
  return { appointment, patient: rowOfJson<PatientRow>(patientRow) };
}

/**
 * Whether an appointment's insert or update failed because its patient is none of its clinic's (`bookIfFree`,
 * `updateAppointmentRow`).
 */
export function isPatientMissing(err: unknown): boolean {
  return (
    isPgError(err, PgError.foreignKeyViolation) &&
    String((err as { constraint?: unknown }).constraint).includes('patient')
  );
}

/**
 * Updates an appointment and returns it as it now is. A change of patient also returns the new patient, read by the
 * same statement for the change's delivery, as a booking's insert does: the update's foreign key checks that it is one
 * of the clinic's and holds it until the transaction ends (`isPatientMissing` when it is not).
 */
export async function updateAppointmentRow(
  trx: Trx,
  tenantId: string,
  id: string,
  changes: Partial<Omit<AppointmentRow, 'id' | 'tenantId' | 'createdAt'>>,
): Promise<{ appointment: AppointmentRow; patient: PatientRow | undefined }> {
  const [updated] = (await trx<AppointmentRow>('appointments')
    .where({ tenantId, id })
    .update({ ...changes, updatedAt: trx.fn.now() as unknown as Date })
    .returning(changes.patientId === undefined ? ['*'] : ['*', trx.raw(PATIENT_ROW)])) as WithPatientRow[];
  return withPatient(updated);
}
