import { useState } from 'react';
import { Link } from 'react-router';
import type { TaskRow_TaskFragment } from '../../__generated__/graphql';
import { formatRelative } from '../../lib/time';
import { useCompleteTaskMutation } from '../../mutations/useCompleteTaskMutation';
import { useCurrentUser } from '../../session/SessionContext';
import { errorMessage } from '../ui/errors';
import { FormError } from '../ui/FormError';

export function TaskRow({ task }: { task: TaskRow_TaskFragment }) {
  const { tenant, id: myId } = useCurrentUser();
  const mine = task.assignee.id === myId;
  const [complete, { loading }] = useCompleteTaskMutation();
  const [error, setError] = useState<string | null>(null);
  return (
    <li className="task-row">
      <span
        className={`priority-mark priority-${task.priority.toLowerCase()}`}
        title={`${task.priority.toLowerCase()} priority`}
      />
      <div className="task-main">
        <p className="task-title">{task.title}</p>
        <p className="task-meta">
          {mine ? `From ${task.createdBy.name}` : `For ${task.assignee.name}`} ·{' '}
          {formatRelative(task.createdAt, tenant.timeZone)}
          {task.dueAt && (
            <>
              {' '}
              · due{' '}
              {new Date(task.dueAt).toLocaleString('en-US', {
                timeZone: tenant.timeZone,
                month: 'short',
                day: 'numeric',
                hour: 'numeric',
                minute: '2-digit',
              })}
            </>
          )}
          {task.patient && (
            <>
              {' · '}
              <Link to={`/patients/${task.patient.id}`}>{task.patient.displayName}</Link>
            </>
          )}
        </p>
        {task.details && <p className="task-details">{task.details}</p>}
        <FormError error={error} />
      </div>
      <button
        type="button"
        className="button button-small"
        disabled={loading}
        onClick={() => complete(task.id).catch((err: unknown) => setError(errorMessage(err)))}
      >
        Done<span className="visually-hidden">: {task.title}</span>
      </button>
    </li>
  );
}
