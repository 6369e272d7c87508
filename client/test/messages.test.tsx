import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NavCountsDocument, ThreadViewDocument, ThreadsDocument } from '../src/__generated__/graphql';
import { AppRoutes } from '../src/App';
import {
  clinicIds,
  connected,
  gql,
  openSession,
  openSlowSession,
  renderWithSession,
  type TestSession,
} from './helpers';

const CREATE_THREAD = `mutation($input: CreateThreadInput!) { createThread(input: $input) { id } }`;
const SEND = `mutation($threadId: ID!, $body: String!) { sendMessage(threadId: $threadId, body: $body) { id } }`;

describe('Messages, live', () => {
  let lee: TestSession;
  let frontDesk: TestSession;
  let frontDeskId: string;

  beforeAll(async () => {
    lee = await openSession('sunrise-derm', 'lee');
    frontDesk = await openSession('sunrise-derm', 'frontdesk');
    frontDeskId = (await clinicIds(lee.token)).byKey('frontdesk').id;
  });
  afterAll(async () => {
    await lee.apollo.dispose();
    await frontDesk.apollo.dispose();
  });

  const startThread = async (subject: string, body?: string) =>
    (await gql(lee.token, CREATE_THREAD, { input: { subject, participantIds: [frontDeskId], body } })).createThread
      .id as string;
  const navCount = (session: TestSession) =>
    session.apollo.client.readQuery({ query: NavCountsDocument })?.unreadMessageCount ?? 0;
  const notificationCount = (session: TestSession) =>
    session.apollo.client.readQuery({ query: NavCountsDocument })?.unreadNotificationCount ?? 0;

  it('should put a new conversation at the top with its unread badge, count it in the nav, and clear both once read', async () => {
    renderWithSession(<AppRoutes />, frontDesk, { route: '/messages' });
    await connected(frontDesk);
    await waitFor(() => expect(frontDesk.apollo.client.readQuery({ query: NavCountsDocument })).not.toBeNull());
    const before = navCount(frontDesk);
    const notificationsBefore = notificationCount(frontDesk);

    const subject = `Lab callback ${Date.now()}`;
    const threadId = await startThread(subject, 'Can you call the lab about the pathology report?');
    const item = await screen.findByRole('link', { name: new RegExp(`^${subject}.*\\b1 unread$`) });
    // Most recent first: the new conversation is the first one listed.
    expect(within(screen.getByRole('complementary', { name: 'Conversations' })).getAllByRole('link')[0]).toBe(item);
    await waitFor(() => expect(navCount(frontDesk)).toBe(before + 1));

    await gql(lee.token, SEND, { threadId, body: 'It is about the biopsy from Tuesday.' });
    await screen.findByRole('link', { name: new RegExp(`^${subject}.*\\b2 unread$`) });
    await waitFor(() => expect(navCount(frontDesk)).toBe(before + 2));
    // Each message raised a "new message" notification too.
    await waitFor(() => expect(notificationCount(frontDesk)).toBe(notificationsBefore + 2));

    await userEvent.click(item);
    await screen.findByText('It is about the biopsy from Tuesday.');
    await screen.findByRole('link', { name: new RegExp(`^${subject}(?!.*unread$)`) });
    await waitFor(() => expect(navCount(frontDesk)).toBe(before));
    // Reading the conversation read its notifications as well.
    await waitFor(() => expect(notificationCount(frontDesk)).toBe(notificationsBefore));

    // With the conversation open, a new message shows once and is read at once.
    await gql(lee.token, SEND, { threadId, body: 'Thanks!' });
    await screen.findByText('Thanks!');
    await waitFor(() =>
      expect(
        frontDesk.apollo.client.readQuery({ query: ThreadsDocument })?.threads.find((t) => t.id === threadId)
          ?.unreadCount,
      ).toBe(0),
    );
    const edges = frontDesk.apollo.client.readQuery({ query: ThreadViewDocument, variables: { threadId } })!.messages
      .edges;
    expect(edges.map((e) => e.node.body)).toEqual([
      'Can you call the lab about the pathology report?',
      'It is about the biopsy from Tuesday.',
      'Thanks!',
    ]);
  });

  it('should keep a conversation started with me while the page was loading its list, read before it', async () => {
    // A slow network on the page's first load: the server reads the list at once, its answer is held until the new
    // conversation's first message has come in over the socket, so the list lands without it, after it.
    const { session: slow, reads, release, markLate } = await openSlowSession('sunrise-derm', 'frontdesk', 'Threads');
    try {
      renderWithSession(<AppRoutes />, slow, { route: '/messages' });
      await connected(slow);
      await waitFor(() => expect(slow.openSubscriptions('MessageAdded')).toBe(1));
      await waitFor(() => expect(reads).toHaveLength(1));

      const subject = `Pathology callback ${Date.now()}`;
      markLate();
      const threadId = await startThread(subject, 'The lab called back about the biopsy.');
      // Its message, which only the message stream brings (the thread itself comes with the unread counts too).
      const cached = () => Object.entries(slow.apollo.client.cache.extract() as Record<string, object>);
      await waitFor(() =>
        expect(
          cached().some(([id, value]) => id.startsWith('Message:') && JSON.stringify(value).includes(threadId)),
        ).toBe(true),
      );

      release();
      const item = await screen.findByRole('link', { name: new RegExp(`^${subject}.*\\b1 unread$`) });
      // Most recent first, once; and no read of the list after it could have brought it.
      const listed = within(screen.getByRole('complementary', { name: 'Conversations' })).getAllByRole('link');
      expect(listed[0]).toBe(item);
      expect(listed.filter((link) => link.textContent?.includes(subject))).toHaveLength(1);
      expect(reads.every((read) => !read.afterMark)).toBe(true);
    } finally {
      release();
      await slow.apollo.dispose();
    }
  });
  it('should show a sent message at once and once, and the read receipt when the colleague reads it', async () => {
    const threadId = await startThread(`Room change ${Date.now()}`);
    const mine = renderWithSession(<AppRoutes />, lee, { route: `/messages/${threadId}` });
    await connected(lee);
    const composer = await within(mine.container).findByRole('textbox', { name: 'Message' });

    await userEvent.type(composer, 'Please move my 3 PM to Room 4{Enter}');
    // At once (optimistic), then the server's message in its place, never both.
    const bubbles = () => within(mine.container).queryAllByText('Please move my 3 PM to Room 4');
    expect(bubbles()).toHaveLength(1);
    await waitFor(() => {
      const edges = lee.apollo.client.readQuery({ query: ThreadViewDocument, variables: { threadId } })!.messages.edges;
      expect(edges.map((e) => e.node.id)).toEqual([expect.not.stringMatching(/^optimistic-/)]);
    });
    // The echo of our own message (messageAdded) has arrived by now or soon: still one.
    await new Promise((r) => setTimeout(r, 300));
    expect(bubbles()).toHaveLength(1);

    // The colleague opens the conversation: the sender sees it read.
    const theirs = renderWithSession(<AppRoutes />, frontDesk, { route: `/messages/${threadId}` });
    await within(theirs.container).findByText('Please move my 3 PM to Room 4');
    await within(mine.container).findByText('Seen by Jordan Kim');
  });

  it('should show "Dr. Maya Lee is typing…" to the colleague while she types, and hide it when she sends', async () => {
    const threadId = await startThread(`Typing ${Date.now()}`, 'Hello');
    const mine = renderWithSession(<AppRoutes />, lee, { route: `/messages/${threadId}` });
    const theirs = renderWithSession(<AppRoutes />, frontDesk, { route: `/messages/${threadId}` });
    await connected(lee);
    await connected(frontDesk);
    await within(theirs.container).findByText('Hello');
    // Both views have subscribed before typing starts.
    await waitFor(() => expect(frontDesk.openSubscriptions('TypingChanged')).toBe(1));

    const composer = await within(mine.container).findByRole('textbox', { name: 'Message' });
    const typingCalls = () => lee.http.filter((op) => op === 'SetTyping').length;
    const callsBefore = typingCalls();
    await userEvent.type(composer, 'The patient is here');
    const indicator = within(theirs.container).getByTestId('typing-indicator');
    await waitFor(() => expect(indicator.textContent).toBe('Dr. Maya Lee is typing…'));
    // Keystrokes are paced: one `true` went out for the whole sentence.
    expect(typingCalls() - callsBefore).toBe(1);

    await userEvent.type(composer, '{Enter}');
    await within(theirs.container).findByText('The patient is here');
    await waitFor(() => expect(indicator.textContent).toBe(''));
  });
});
