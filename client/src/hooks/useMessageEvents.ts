import {
  MessageAddedDocument,
  ReadReceiptAddedDocument,
  TypingChangedDocument,
  type MessageAddedSubscription,
  type ReadReceiptAddedSubscription,
  type TypingChangedSubscription,
} from '../__generated__/graphql';
import { addMessage } from '../apollo/updates/messages';
import { useLiveSubscription } from './useLiveSubscription';

export type MessageEvent = MessageAddedSubscription['messageAdded'];
export type LiveMessage = MessageEvent['message'];
export type ReadReceiptEvent = ReadReceiptAddedSubscription['readReceipt'];
export type TypingEvent = TypingChangedSubscription['typing'];

export interface MessageEventHandlers {
  /** One thread's events, or (left out) those of every thread the user takes part in. */
  threadId?: string;
  onNewMessage?(message: LiveMessage, event: MessageEvent): void;
  onMessageRead?(event: ReadReceiptEvent): void;
  /** Someone started or stopped typing; needs `threadId` (typing is followed one thread at a time). */
  onTyping?(event: TypingEvent): void;
  skip?: boolean;
}

/**
 * New messages and read receipts (durable: resumed without a gap) and, in one thread, typing signals (transient: not
 * cached). A new message joins its thread in the cache and moves the thread up; a read receipt updates the thread's
 * read states in place. Subscribing to one thread is what tells the server the thread is open, so its messages raise
 * no notification for this user.
 */
export function useMessageEvents({
  threadId,
  onNewMessage,
  onMessageRead,
  onTyping,
  skip = false,
}: MessageEventHandlers = {}): void {
  const variables = threadId ? { threadId } : {};
  useLiveSubscription(MessageAddedDocument, {
    variables,
    skip,
    onData: ({ messageAdded }, client) => {
      addMessage(client.cache, messageAdded.message);
      onNewMessage?.(messageAdded.message, messageAdded);
    },
  });
  useLiveSubscription(ReadReceiptAddedDocument, {
    variables,
    // Over all threads only when someone listens: unread badges follow the unreadCounts stream.
    skip: skip || (!threadId && !onMessageRead),
    onData: ({ readReceipt }) => onMessageRead?.(readReceipt),
  });
  useLiveSubscription(TypingChangedDocument, {
    variables: { threadId: threadId ?? '' },
    skip: skip || !threadId || !onTyping,
    fetchPolicy: 'no-cache',
    onData: ({ typing }) => onTyping?.(typing),
  });
}
