import type { Db, Trx } from '../../db/knex.js';
import type { AppointmentRow, UserRow } from '../../db/rows.js';

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

/** Reads an appointment and locks it until the transaction ends. */
export async function lockAppointment(trx: Trx, tenantId: string, id: string): Promise<AppointmentRow | undefined> {
  return trx<AppointmentRow>('appointments').where({ tenantId, id }).forUpdate().first();
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

export async function insertAppointment(
  trx: Trx,
  tenantId: string,
  appointment: Pick<AppointmentRow, 'providerId' | 'patientId' | 'startsAt' | 'endsAt' | 'room' | 'reason'>,
): Promise<AppointmentRow> {
  const [row] = await trx<AppointmentRow>('appointments')
    .insert({ ...appointment, tenantId })
    .returning('*');
  return row as AppointmentRow;
}

export async function updateAppointmentRow(
  trx: Trx,
  tenantId: string,
  id: string,
  changes: Partial<Omit<AppointmentRow, 'id' | 'tenantId' | 'createdAt'>>,
): Promise<AppointmentRow> {
  const [row] = await trx<AppointmentRow>('appointments')
    .where({ tenantId, id })
    .update({ ...changes, updatedAt: trx.fn.now() as unknown as Date })
    .returning('*');
  return row as AppointmentRow;
}
