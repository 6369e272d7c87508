import type { MessageBubble_MessageFragment } from '../../__generated__/graphql';
import { formatTime } from '../../lib/time';
import { Avatar } from '../ui/Avatar';

interface MessageBubbleProps {
  message: MessageBubble_MessageFragment;
  mine: boolean;
  /** Same sender as the message before: no name or avatar again. */
  continued: boolean;
  timeZone: string;
  /** "Seen by …" under this message. */
  seenBy?: readonly string[];
}

export function MessageBubble({ message, mine, continued, timeZone, seenBy }: MessageBubbleProps) {
  const pending = message.id.startsWith('optimistic-');
  return (
    <li className={`message ${mine ? 'is-mine' : ''} ${continued ? 'is-continued' : ''}`} data-message-id={message.id}>
      {!mine && (
        <div className="message-avatar">
          {!continued && <Avatar id={message.sender.id} name={message.sender.name} size={28} />}
        </div>
      )}
      <div className="message-column">
        {!continued && !mine && <span className="message-sender">{message.sender.name}</span>}
        <div className={`bubble ${pending ? 'is-pending' : ''}`}>
          <p>{message.body}</p>
          <time dateTime={message.createdAt}>{pending ? 'Sending…' : formatTime(message.createdAt, timeZone)}</time>
        </div>
        {seenBy && seenBy.length > 0 && <span className="seen-by">Seen by {seenBy.join(', ')}</span>}
      </div>
    </li>
  );
}
