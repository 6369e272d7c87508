import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { ThreadsDocument } from '../__generated__/graphql';
import { NewThreadDialog } from '../components/messages/NewThreadDialog';
import { ThreadListItem } from '../components/messages/ThreadListItem';
import { ThreadView } from '../components/messages/ThreadView';
import { Empty, ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';

/** Conversations on the left (most recent first, unread badges live), the open one on the right. */
export function MessagesPage() {
  const { threadId } = useParams();
  const navigate = useNavigate();
  const { data, loading, error } = useQuery(ThreadsDocument, { fetchPolicy: 'cache-and-network' });
  const [composing, setComposing] = useState(false);
  const threads = data?.threads ?? [];

  return (
    <div className="page page-messages">
      <div className={`messages-layout ${threadId ? 'has-thread' : ''}`}>
        <aside className="thread-list-pane" aria-label="Conversations">
          <header className="pane-header">
            <h1>Messages</h1>
            <button type="button" className="button button-primary button-small" onClick={() => setComposing(true)}>
              New conversation
            </button>
          </header>
          {error && !data && <ErrorNotice>{errorMessage(error)}</ErrorNotice>}
          {loading && !data ? (
            <Loading />
          ) : threads.length === 0 ? (
            <Empty title="No conversations yet" />
          ) : (
            <ul className="thread-list">
              {threads.map((t) => (
                <ThreadListItem key={t.id} thread={t} />
              ))}
            </ul>
          )}
        </aside>
        <div className="thread-pane">
          {threadId ? (
            <ThreadView key={threadId} threadId={threadId} />
          ) : (
            <Empty title="Choose a conversation">Messages, typing and read receipts update live.</Empty>
          )}
        </div>
      </div>
      {composing && (
        <NewThreadDialog
          onClose={() => setComposing(false)}
          onCreated={(id) => {
            setComposing(false);
            navigate(`/messages/${id}`);
          }}
        />
      )}
    </div>
  );
}
