import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { NavCountsDocument, NotificationsPageDocument, TasksPageDocument } from '../src/__generated__/graphql';
import { AppRoutes } from '../src/App';
import { ToastProvider, useToasts, type Toast } from '../src/components/notifications/Toasts';
import {
  clinicIds,
  connected,
  gql,
  openSession,
  openSlowSession,
  renderWithSession,
  type TestSession,
} from './helpers';

const ASSIGN = `mutation($input: AssignTaskInput!) { assignTask(input: $input) { id } }`;
const SEND_ALERT = `mutation($input: SendAlertInput!) { sendAlert(input: $input) { id } }`;

describe('Notifications, live', () => {
  let lee: TestSession;
  let nurse: TestSession;
  beforeAll(async () => {
    lee = await openSession('sunrise-derm', 'lee');
    nurse = await openSession('sunrise-derm', 'nurse');
  });
  afterAll(async () => {
    await lee.apollo.dispose();
    await nurse.apollo.dispose();
  });

  it('should pop a toast for a task assigned to me, add it to my tasks and notifications, and raise the badge', async () => {
    const nurseId = (await clinicIds(lee.token)).byKey('nurse').id;
    renderWithSession(<AppRoutes />, nurse, { route: '/tasks' });
    await connected(nurse);
    await screen.findByRole('heading', { name: 'Tasks' });
    await waitFor(() => expect(nurse.apollo.client.readQuery({ query: TasksPageDocument })).not.toBeNull());
    // The notification list is cached too (as if the page had been visited), to see the new one join it.
    await nurse.apollo.client.query({ query: NotificationsPageDocument });
    const badge = () => nurse.apollo.client.readQuery({ query: NavCountsDocument })?.unreadNotificationCount ?? 0;
    await waitFor(() => expect(nurse.apollo.client.readQuery({ query: NavCountsDocument })).not.toBeNull());
    const before = badge();

    const title = `Call Olivia Bennett back ${Date.now()}`;
    const { assignTask } = await gql(lee.token, ASSIGN, { input: { title, assigneeId: nurseId, priority: 'HIGH' } });

    const toast = await screen.findByRole('alert');
    expect(within(toast).getByText(`New task: ${title}`)).toBeTruthy();
    expect(within(toast).getByText('High priority')).toBeTruthy();
    await within(screen.getByRole('list', { name: 'Open tasks' })).findByText(title);
    await waitFor(() => expect(badge()).toBe(before + 1));
    const cached = nurse.apollo.client.readQuery({ query: NotificationsPageDocument })!.notifications;
    expect(cached[0].title).toBe(`New task: ${title}`);
    expect(cached[0].task?.id).toBe(assignTask.id);
    expect(cached.filter((n) => n.title === `New task: ${title}`)).toHaveLength(1);

    await userEvent.click(within(toast).getByRole('button', { name: `Dismiss notification: New task: ${title}` }));
    expect(screen.queryByRole('alert')).toBeNull();
  });
  it.each([
    [
      'an alert',
      {
        route: '/notifications',
        read: 'NotificationsPage',
        list: 'Notifications',
        send: (title: string, nurseId: string) =>
          gql(lee.token, SEND_ALERT, { input: { userId: nurseId, kind: 'LAB_RESULT', priority: 'HIGH', title } }),
        toast: (title: string) => title,
      },
    ],
    [
      'a task assigned to me',
      {
        route: '/tasks',
        read: 'TasksPage',
        list: 'Open tasks',
        send: (title: string, nurseId: string) =>
          gql(lee.token, ASSIGN, { input: { title, assigneeId: nurseId, priority: 'HIGH' } }),
        toast: (title: string) => `New task: ${title}`,
      },
    ],
  ] as const)(
    'should keep %s that arrived while the page was loading its list, read before it',
    async (_what, page) => {
      const nurseId = (await clinicIds(lee.token)).byKey('nurse').id;
      // A slow network on the page's first load: the server reads the list at once, its answer is held until the
      // notification has come in over the socket, so the list lands without it, after it.
      const { session: slow, reads, release, markLate } = await openSlowSession('sunrise-derm', 'nurse', page.read);
      try {
        renderWithSession(<AppRoutes />, slow, { route: page.route });
        await connected(slow);
        await waitFor(() => expect(slow.openSubscriptions('NotificationAdded')).toBe(1));
        await waitFor(() => expect(reads).toHaveLength(1));
        expect(screen.queryByRole('list', { name: page.list })).toBeNull();

        const title = `Biopsy result in ${Date.now()}`;
        markLate();
        await page.send(title, nurseId);
        expect(within(await screen.findByRole('alert')).getByText(page.toast(title))).toBeTruthy();

        release();
        const list = await screen.findByRole('list', { name: page.list });
        expect(await within(list).findByText(title)).toBeTruthy();
        // Newest first, once; and no read of the list after it could have brought it.
        expect(within(list).getAllByRole('listitem')[0].textContent).toContain(title);
        expect(within(list).getAllByText(title)).toHaveLength(1);
        expect(reads.every((read) => !read.afterMark)).toBe(true);
      } finally {
        release();
        await slow.apollo.dispose();
      }
    },
  );
  it('should count one read as one: three unread, one marked read, two left on the page and in the badge, never one', async () => {
    const nurseId = (await clinicIds(lee.token)).byKey('nurse').id;
    await gql(nurse.token, 'mutation { markAllNotificationsRead }');
    // What an earlier test left cached (its count stream is gone) is not this test's starting point.
    await nurse.apollo.client.clearStore();
    renderWithSession(<AppRoutes />, nurse, { route: '/notifications' });
    await connected(nurse);
    await screen.findByText('All read');
    // The count comes from its own query: the page's list has loaded too before alerts arrive (a list read from before
    // them landing after them is the test above's).
    await waitFor(() =>
      expect(
        screen.queryByRole('list', { name: 'Notifications' }) ?? screen.queryByText('No notifications'),
      ).toBeTruthy(),
    );
    const stamp = Date.now();
    for (const title of [`Result A ${stamp}`, `Result B ${stamp}`, `Result C ${stamp}`])
      await gql(lee.token, SEND_ALERT, { input: { userId: nurseId, kind: 'LAB_RESULT', priority: 'LOW', title } });
    const badge = () => nurse.apollo.client.readQuery({ query: NavCountsDocument })?.unreadNotificationCount;
    await screen.findByText('3 unread');
    await waitFor(() => expect(badge()).toBe(3));

    // Every count the cache holds from here on.
    const seen: number[] = [];
    const watch = nurse.apollo.client.watchQuery({ query: NavCountsDocument, fetchPolicy: 'cache-only' }).subscribe({
      next: ({ data }) => {
        if (data?.unreadNotificationCount !== undefined) seen.push(data.unreadNotificationCount);
      },
    });
    try {
      // The item may follow its count by a moment: two streams.
      await userEvent.click(await screen.findByRole('button', { name: `Mark as read: Result B ${stamp}` }));
      await screen.findByText('2 unread');
      await waitFor(() => expect(badge()).toBe(2));
      // The stream's count and the re-read both land; neither takes one off again.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(screen.getByText('2 unread')).toBeTruthy();
      expect(badge()).toBe(2);
      expect(seen).not.toContain(1);
    } finally {
      watch.unsubscribe();
    }
  });
});

describe('Toasts', () => {
  afterEach(() => vi.useRealTimers());

  function Pusher({ toast }: { toast: Toast }) {
    const { push } = useToasts();
    return (
      <button type="button" onClick={() => push(toast)}>
        push {toast.id}
      </button>
    );
  }
  const renderToasts = (...toasts: Toast[]) =>
    render(
      <MemoryRouter>
        <ToastProvider>
          {toasts.map((t) => (
            <Pusher key={t.id} toast={t} />
          ))}
        </ToastProvider>
      </MemoryRouter>,
    );

  it('should keep an urgent toast until it is dismissed, and let a normal one go by itself', () => {
    vi.useFakeTimers();
    renderToasts(
      { id: 'u', title: 'Biopsy result: call now', priority: 'URGENT' },
      { id: 'n', title: 'Room 2 is free', priority: 'NORMAL' },
    );
    act(() => screen.getByText('push u').click());
    act(() => screen.getByText('push n').click());
    expect(screen.getByRole('alert').textContent).toContain('Biopsy result: call now');
    expect(screen.getByRole('status').textContent).toContain('Room 2 is free');

    act(() => vi.advanceTimersByTime(60_000));
    expect(screen.queryByText('Room 2 is free')).toBeNull();
    expect(screen.getByRole('alert').textContent).toContain('Biopsy result: call now');

    act(() => screen.getByRole('button', { name: 'Dismiss notification: Biopsy result: call now' }).click());
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('should keep urgent toasts through a burst of others, and keep only the newest three of those', () => {
    renderToasts(
      { id: 'task', title: 'New task: call the lab now', priority: 'URGENT' },
      { id: 'alert', title: 'Biopsy result: call now', priority: 'URGENT' },
      ...Array.from({ length: 6 }, (_, i) => ({ id: `low${i}`, title: `Supplies ${i}`, priority: 'LOW' as const })),
    );
    act(() => screen.getByText('push task').click());
    act(() => screen.getByText('push alert').click());
    for (let i = 0; i < 6; i++) act(() => screen.getByText(`push low${i}`).click());
    const alerts = screen.getAllByRole('alert').map((t) => t.textContent);
    expect(alerts).toHaveLength(2);
    expect(alerts.join()).toContain('New task: call the lab now');
    expect(alerts.join()).toContain('Biopsy result: call now');
    expect(screen.getAllByRole('status').map((t) => t.querySelector('.toast-title')?.textContent)).toEqual([
      'Supplies 5',
      'Supplies 4',
      'Supplies 3',
    ]);
  });

  it("should fold one conversation's new messages into one toast that counts them", () => {
    const message = (n: number): Toast => ({
      id: `m${n}`,
      title: `New message from Dr. Maya Lee (${n})`,
      priority: 'NORMAL',
      group: 'thread:1',
      groupNoun: 'new messages',
    });
    renderToasts(message(1), message(2), message(3));
    for (const n of [1, 2, 3]) act(() => screen.getByText(`push m${n}`).click());
    const toasts = screen.getAllByTestId('toast');
    expect(toasts).toHaveLength(1);
    expect(toasts[0].textContent).toContain('New message from Dr. Maya Lee (3)');
    expect(toasts[0].textContent).toContain('3 new messages');
  });

  it('should not let a toast go while the pointer is on it', () => {
    vi.useFakeTimers();
    renderToasts({ id: 'l', title: 'Lab result ready', priority: 'LOW' });
    act(() => screen.getByText('push l').click());
    const toast = screen.getByRole('status');
    act(() => {
      toast.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
    });
    act(() => vi.advanceTimersByTime(30_000));
    expect(screen.getByText('Lab result ready')).toBeTruthy();
  });
});
