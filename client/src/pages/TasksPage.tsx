import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { TasksPageDocument } from '../__generated__/graphql';
import { AssignTaskDialog } from '../components/tasks/AssignTaskDialog';
import { TaskRow } from '../components/tasks/TaskRow';
import { useToasts } from '../components/notifications/Toasts';
import { Empty, ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';

/** The signed-in user's open tasks (new assignments join live) and assigning tasks to colleagues. */
export function TasksPage() {
  const { data, loading, error } = useQuery(TasksPageDocument, { fetchPolicy: 'cache-and-network' });
  const [assigning, setAssigning] = useState(false);
  const toasts = useToasts();
  const tasks = data?.tasks ?? [];
  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Tasks</h1>
          <p className="page-sub">{tasks.length ? `${tasks.length} open` : 'Nothing open'}</p>
        </div>
        <button type="button" className="button button-primary" onClick={() => setAssigning(true)} disabled={!data}>
          Assign a task
        </button>
      </header>
      {error && !data && <ErrorNotice>{errorMessage(error)}</ErrorNotice>}
      {loading && !data ? (
        <Loading />
      ) : tasks.length === 0 ? (
        <Empty title="You are all caught up">Tasks assigned to you appear here as they come in.</Empty>
      ) : (
        <ul className="card-list" aria-label="Open tasks">
          {tasks.map((t) => (
            <TaskRow key={t.id} task={t} />
          ))}
        </ul>
      )}
      {assigning && data && (
        <AssignTaskDialog
          staff={data.staff}
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
