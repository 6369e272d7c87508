import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { TasksAssignedByMeDocument, TasksPageDocument } from '../__generated__/graphql';
import { AssignTaskDialog } from '../components/tasks/AssignTaskDialog';
import { TaskRow } from '../components/tasks/TaskRow';
import { useToasts } from '../components/notifications/Toasts';
import { Empty, ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';

/**
 * The signed-in user's open tasks (new assignments join live), the open tasks they assigned to colleagues, and
 * assigning tasks.
 */
export function TasksPage() {
  const [params, setParams] = useSearchParams();
  const byMe = params.get('view') === 'assigned';
  const mine = useQuery(TasksPageDocument, { fetchPolicy: 'cache-and-network' });
  const assigned = useQuery(TasksAssignedByMeDocument, { fetchPolicy: 'cache-and-network', skip: !byMe });
  const [assigning, setAssigning] = useState(false);
  const toasts = useToasts();
  const { data, loading, error } = byMe ? assigned : mine;
  const tasks = (byMe ? assigned.data?.tasksAssignedByMe : mine.data?.tasks) ?? [];
  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Tasks</h1>
          <p className="page-sub">
            {data ? (tasks.length ? `${tasks.length} open` : 'Nothing open') : ' '}
            {byMe && data ? ', assigned by you' : ''}
          </p>
        </div>
        <div className="toolbar">
          <div className="segmented" role="group" aria-label="Whose tasks">
            <button type="button" className="button" aria-pressed={!byMe} onClick={() => setParams({})}>
              For me
            </button>
            <button
              type="button"
              className="button"
              aria-pressed={byMe}
              onClick={() => setParams({ view: 'assigned' })}
            >
              Assigned by me
            </button>
          </div>
          <button
            type="button"
            className="button button-primary"
            onClick={() => setAssigning(true)}
            disabled={!mine.data}
          >
            Assign a task
          </button>
        </div>
      </header>
      {error && !data && <ErrorNotice>{errorMessage(error)}</ErrorNotice>}
      {error && !data ? null : loading && !data ? (
        <Loading />
      ) : tasks.length === 0 ? (
        byMe ? (
          <Empty title="Nothing open that you assigned">Tasks you give colleagues are listed here until done.</Empty>
        ) : (
          <Empty title="You are all caught up">Tasks assigned to you appear here as they come in.</Empty>
        )
      ) : (
        <ul className="card-list" aria-label={byMe ? 'Open tasks assigned by me' : 'Open tasks'}>
          {tasks.map((t) => (
            <TaskRow key={t.id} task={t} />
          ))}
        </ul>
      )}
      {assigning && mine.data && (
        <AssignTaskDialog
          staff={mine.data.staff}
          onClose={() => setAssigning(false)}
          onAssigned={() => {
            setAssigning(false);
            toasts.push({ id: `assigned-${Date.now()}`, title: 'Task assigned', priority: 'LOW' });
          }}
        />
      )}
    </div>
  );
}
