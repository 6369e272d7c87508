import type { Db } from '../../db/knex.js';
import type { PatientRow } from '../../db/rows.js';

export async function patientsByIds(db: Db, tenantId: string, ids: string[]): Promise<PatientRow[]> {
  return db<PatientRow>('patients').where({ tenantId }).whereIn('id', ids);
}

export interface PatientPageQuery {
  search: string | null;
  /** How many rows to read (the caller asks for one more than the page to learn whether another page follows). */
  limit: number;
  /** Position of the last row already seen: [lastName, firstName, id]. */
  after: [string, string, string] | null;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export async function searchPatients(db: Db, tenantId: string, q: PatientPageQuery): Promise<PatientRow[]> {
  const query = db<PatientRow>('patients')
    .where({ tenantId })
    .orderBy([{ column: 'lastName' }, { column: 'firstName' }, { column: 'id' }])
    .limit(q.limit);
  if (q.search) {
    const prefix = `${escapeLike(q.search.toLowerCase())}%`;
    query.andWhere((w) =>
      w
        .whereRaw('lower(first_name) like ?', [prefix])
        .orWhereRaw('lower(last_name) like ?', [prefix])
        .orWhereRaw('lower(mrn) like ?', [prefix]),
    );
  }
  if (q.after) query.andWhereRaw('(last_name, first_name, id) > (?, ?, ?)', q.after);
  return query;
}

export async function insertPatient(
  db: Db,
  tenantId: string,
  patient: Omit<PatientRow, 'id' | 'tenantId' | 'createdAt'>,
): Promise<PatientRow> {
  const [row] = await db<PatientRow>('patients')
    .insert({ ...patient, tenantId })
    .returning('*');
  return row as PatientRow;
}

/** Changes a patient's details; undefined when there is no such patient in the clinic. */
export async function updatePatientRow(
  db: Db,
  tenantId: string,
  id: string,
  changes: Partial<Omit<PatientRow, 'id' | 'tenantId' | 'createdAt'>>,
): Promise<PatientRow | undefined> {
  const query = db<PatientRow>('patients').where({ tenantId, id });
  if (Object.keys(changes).length === 0) return query.first();
  const [row] = await query.update(changes).returning('*');
  return row as PatientRow | undefined;
}
