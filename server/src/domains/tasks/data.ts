import type { Db, Trx } from '../../db/knex.js';
import type { TaskRow } from '../../db/rows.js';

export async function tasksByIds(db: Db, tenantId: string, ids: string[]): Promise<TaskRow[]> {
  return db<TaskRow>('tasks').where({ tenantId }).whereIn('id', ids);
}

export async function tasksOfAssignee(db: Db, tenantId: string, assigneeId: string, status: TaskRow['status'] | null) {
  const query = db<TaskRow>('tasks')
    .where({ tenantId, assigneeId })
    .orderBy([
      { column: 'createdAt', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
  if (status) query.andWhere({ status });
  return query;
}

/** Tasks `creatorId` assigned to someone other than themselves, newest first. */
export async function tasksAssignedBy(db: Db, tenantId: string, creatorId: string, status: TaskRow['status'] | null) {
  const query = db<TaskRow>('tasks')
    .where({ tenantId, createdBy: creatorId })
    .andWhereNot({ assigneeId: creatorId })
    .orderBy([
      { column: 'createdAt', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
  if (status) query.andWhere({ status });
  return query;
}

export async function insertTask(
  trx: Trx,
  tenantId: string,
  task: Pick<TaskRow, 'title' | 'details' | 'priority' | 'dueAt' | 'patientId' | 'assigneeId' | 'createdBy'>,
): Promise<TaskRow> {
  const [row] = await trx<TaskRow>('tasks')
    .insert({ ...task, tenantId })
    .returning('*');
  return row as TaskRow;
}

export async function lockTask(trx: Trx, tenantId: string, id: string): Promise<TaskRow | undefined> {
  return trx<TaskRow>('tasks').where({ tenantId, id }).forUpdate().first();
}

export async function completeTaskRow(trx: Trx, tenantId: string, id: string): Promise<TaskRow> {
  const [row] = await trx<TaskRow>('tasks')
    .where({ tenantId, id })
    .update({ status: 'COMPLETED', completedAt: trx.fn.now() as unknown as Date })
    .returning('*');
  return row as TaskRow;
}
