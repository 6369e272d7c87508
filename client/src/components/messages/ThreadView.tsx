import { useQuery } from '@apollo/client/react';
import { useEffect, useLayoutEffect, useMemo, useRef, useSyncExternalStore } from 'react';
import { Link } from 'react-router';
import { ThreadViewDocument } from '../../__generated__/graphql';
import { useMessageEvents } from '../../hooks/useMessageEvents';
import { useTypingIndicator } from '../../hooks/useTypingIndicator';
import { useMarkThreadReadMutation } from '../../mutations/useMarkThreadReadMutation';
import { useSendMessageMutation } from '../../mutations/useSendMessageMutation';
import { useCurrentUser } from '../../session/SessionContext';
import { Empty, ErrorNotice, Loading } from '../ui/Empty';
import { errorMessage } from '../ui/errors';
import { Composer } from './Composer';
import { MessageBubble } from './MessageBubble';
import { seenByMessage } from './ReadReceipts';
import { TypingIndicator } from './TypingIndicator';

const subscribeVisibility = (onChange: () => void) => {
  document.addEventListener('visibilitychange', onChange);
  return () => document.removeEventListener('visibilitychange', onChange);
};

/** Whether the page is on screen (a message is only "read" when it could be). */
function useDocumentVisible(): boolean {
  return useSyncExternalStore(subscribeVisibility, () => document.visibilityState !== 'hidden');
}

/** One conversation: live messages, who is typing, who has read what; reading it marks it read. */
export function ThreadView({ threadId }: { threadId: string }) {
  const me = useCurrentUser();
  const { data, loading, error, fetchMore } = useQuery(ThreadViewDocument, {
    variables: { threadId },
    fetchPolicy: 'cache-and-network',
  });
  const [send] = useSendMessageMutation();
  const [markRead] = useMarkThreadReadMutation();
  const typing = useTypingIndicator(threadId);
  const visible = useDocumentVisible();
  // Following this thread live is also what tells the server it is open (no "new message" notifications for it).
  useMessageEvents({ threadId });

  const edges = data?.messages.edges;
  const messages = useMemo(() => (edges ?? []).map((e) => e.node), [edges]);
  const thread = data?.thread;
  const newest = messages[messages.length - 1];
  const seen = useMemo(
    () => (thread ? seenByMessage(thread, messages, me.id) : new Map<string, string[]>()),
    [thread, messages, me.id],
  );

  // Read what is on screen: when the newest message is someone else's and the thread still counts it unread.
  const lastMarked = useRef<string | null>(null);
  useEffect(() => {
    if (!thread || !newest || newest.id.startsWith('optimistic-') || !visible) return;
    if (thread.unreadCount === 0 || lastMarked.current === newest.id) return;
    lastMarked.current = newest.id;
    markRead(threadId, newest.id).catch(() => {
      lastMarked.current = null;
    });
  }, [thread, newest, threadId, markRead, visible]);

  // Stay at the bottom as messages arrive (unless reading older ones).
  const list = useRef<HTMLOListElement>(null);
  const pinned = useRef(true);
  useLayoutEffect(() => {
    const el = list.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [messages.length, typing.label]);

  if (error && !data) return <ErrorNotice>{errorMessage(error)}</ErrorNotice>;
  if (loading && !data) return <Loading label="Loading the conversation…" />;
  if (!thread)
    return (
      <Empty title="This conversation is not available">It may have been removed, or you do not take part in it.</Empty>
    );

  const participants = thread.participants.filter((p) => p.id !== me.id);
  return (
    <section className="thread-view" aria-labelledby="thread-heading">
      <header className="thread-header">
        <Link to="/messages" className="back-link">
          ‹ Conversations
        </Link>
        <div>
          <h2 id="thread-heading">{thread.subject}</h2>
          <p className="thread-participants">
            With {participants.map((p) => p.name).join(', ')}
            {thread.patient && (
              <>
                {' · '}
                <Link to={`/patients/${thread.patient.id}`}>Patient: {thread.patient.displayName}</Link>
              </>
            )}
          </p>
        </div>
      </header>
      <ol
        className="message-list"
        ref={list}
        aria-label="Messages"
        onScroll={(e) => {
          const el = e.currentTarget;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
      >
        {data?.messages.pageInfo.hasPreviousPage && (
          <li className="load-earlier">
            <button
              type="button"
              className="button button-ghost button-small"
              onClick={() => {
                pinned.current = false;
                void fetchMore({ variables: { before: data.messages.pageInfo.startCursor } });
              }}
            >
              Load earlier messages
            </button>
          </li>
        )}
        {messages.length === 0 && <li className="panel-muted">No messages yet. Say hello.</li>}
        {messages.map((m, i) => (
          <MessageBubble
            key={m.id}
            message={m}
            mine={m.sender.id === me.id}
            continued={i > 0 && messages[i - 1].sender.id === m.sender.id}
            timeZone={me.tenant.timeZone}
            seenBy={seen.get(m.id)}
          />
        ))}
      </ol>
      <TypingIndicator label={typing.label} />
      <Composer
        onSend={(body) => {
          pinned.current = true;
          return send(threadId, body);
        }}
        onTyping={typing.start}
        onStopTyping={typing.stop}
      />
    </section>
  );
}
