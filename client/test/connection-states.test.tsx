import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionStore } from '../src/apollo/connectionState';
import { createRetryPolicy } from '../src/apollo/retryPolicy';
import { readTimingOverride, TIMING_STORAGE_KEY } from '../src/apollo/timing';
import { ConnectionStatusBadge } from '../src/components/connection/ConnectionStatusBadge';
import { ConnectionStatusIndicator } from '../src/components/connection/ConnectionStatusIndicator';
import type { Session } from '../src/session/authStore';
import { SessionProvider } from '../src/session/SessionContext';

/**
 * The connection store and retry policy on their own, driven as graphql-ws drives them, with the components that
 * show them. (The same path against a server that really goes away: connection.test.tsx.)
 */
describe('Connection states', () => {
  afterEach(() => vi.useRealTimers());

  function setup(maxAttempts = 10, waitMs = 5_000) {
    const store = new ConnectionStore(maxAttempts);
    const policy = createRetryPolicy(store, { maxAttempts, waitMs });
    const reconnect = vi.fn(() => policy.reconnectNow());
    // Only what the two components read of a session.
    const session = { apollo: { connection: store, reconnect } } as unknown as Session;
    render(
      <SessionProvider session={session} signOut={() => {}}>
        <ConnectionStatusBadge />
        <ConnectionStatusIndicator />
      </SessionProvider>,
    );
    return { store, policy, reconnect, badge: () => screen.getByTestId('connection-badge').textContent };
  }

  it('should say connecting, then live', () => {
    const { store, badge } = setup();
    expect(badge()).toBe('Connecting…');
    act(() => store.connected(false));
    expect(badge()).toBe('Live');
    expect(screen.queryByText(/Live updates/)).toBeNull();
  });

  it('should count attempts five seconds apart up to ten, then say offline and go on trying less and less often, at most a minute apart', async () => {
    vi.useFakeTimers();
    const { store, policy, reconnect, badge } = setup();
    act(() => store.connected(false));
    act(() => store.closed(1006));
    expect(badge()).toBe('Reconnecting (attempt 1 of 10)');

    for (let attempt = 1; attempt <= 10; attempt++) {
      let waited = false;
      act(() => void policy.retryWait().then(() => (waited = true)));
      expect(badge()).toBe(`Reconnecting (attempt ${attempt} of 10)`);
      expect(screen.getByText(/Live updates paused\./).parentElement?.textContent).toContain('next try in 5 s.');
      await act(() => vi.advanceTimersByTimeAsync(4_999));
      expect(waited).toBe(false);
      await act(() => vi.advanceTimersByTimeAsync(1));
      expect(waited).toBe(true);
      // graphql-ws now tries; the socket fails again.
      act(() => store.closed(1006));
    }

    // Offline, and still trying by itself: 10 s, 20 s, 40 s, then every 60 s.
    for (const seconds of [10, 20, 40, 60, 60]) {
      let tried = false;
      act(() => void policy.retryWait().then(() => (tried = true)));
      expect(badge()).toBe('Offline');
      const banner = screen.getByText(/Live updates are off\./).parentElement?.textContent;
      expect(banner).toContain(`did not answer 10 attempts; next try in ${seconds} s.`);
      await act(() => vi.advanceTimersByTimeAsync(seconds * 1000 - 1));
      expect(tried).toBe(false);
      await act(() => vi.advanceTimersByTimeAsync(1));
      expect(tried).toBe(true);
      expect(badge()).toBe('Offline');
      expect(screen.getByText(/Live updates are off\./).parentElement?.textContent).toContain('trying now…');
      act(() => store.closed(1006));
    }

    let resumed = false;
    act(() => void policy.retryWait().then(() => (resumed = true)));
    act(() => screen.getByRole('button', { name: 'Reconnect now' }).click());
    expect(reconnect).toHaveBeenCalledOnce();
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(resumed).toBe(true);
    // A fresh round of attempts.
    expect(badge()).toBe('Reconnecting (attempt 1 of 10)');

    act(() => store.connected(true));
    expect(badge()).toBe('Live');
    expect(screen.getByText(/Back online\./)).toBeTruthy();
    expect(store.getSnapshot().reconnections).toBe(1);
  });

  it('should count down from the wait it announced, whenever the banner appears', async () => {
    vi.useFakeTimers();
    const { store, policy } = setup();
    act(() => store.connected(false));
    // Minutes of being live: nothing about that time leaks into the countdown.
    await act(() => vi.advanceTimersByTimeAsync(17 * 60_000 + 400));
    act(() => store.closed(1006));
    act(() => void policy.retryWait());
    const banner = () => screen.getByText(/Live updates paused\./).parentElement?.textContent;
    expect(banner()).toContain('next try in 5 s.');
    await act(() => vi.advanceTimersByTimeAsync(1_000));
    expect(banner()).toContain('next try in 4 s.');
    await act(() => vi.advanceTimersByTimeAsync(3_000));
    expect(banner()).toContain('next try in 1 s.');
  });

  it('should say only what is true about saving: unknown, saved, or not reachable', () => {
    const { store } = setup();
    act(() => store.connected(false));
    act(() => store.closed(1006));
    const banner = () => screen.getByText(/Live updates paused\./).parentElement?.textContent ?? '';
    expect(banner()).not.toMatch(/saved/);
    act(() => store.http(false));
    expect(banner()).toContain('The server cannot be reached: nothing can be saved until it answers again.');
    act(() => store.http(true));
    expect(banner()).toContain('Changes you make are still saved');
    // Each loss starts from "unknown" again.
    act(() => store.connected(true));
    act(() => store.closed(1006));
    expect(banner()).not.toMatch(/saved/);
  });

  it('should try at once when asked to, without waiting out the pause', async () => {
    vi.useFakeTimers();
    const { store, policy } = setup();
    act(() => store.connected(false));
    act(() => store.closed(1001));
    let waited = false;
    act(() => void policy.retryWait().then(() => (waited = true)));
    act(() => screen.getByRole('button', { name: 'Reconnect now' }).click());
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(waited).toBe(true);
  });

  it('should tell listeners each time the link comes back, not on the first connection', () => {
    const { store } = setup();
    const back = vi.fn();
    store.onReconnected(back);
    act(() => store.connected(false));
    expect(back).not.toHaveBeenCalled();
    act(() => store.closed(1006));
    act(() => store.connected(true));
    expect(back).toHaveBeenCalledOnce();
  });

  it("should take from a browser's stored timing only whole numbers within bounds, and nothing from broken JSON", () => {
    const stored = (value: string) => ({ getItem: (key: string) => (key === TIMING_STORAGE_KEY ? value : null) });
    expect(
      readTimingOverride(stored('{"waitMs":300,"failedQueryWindowMs":0,"maxWaitMs":1.5,"keepAliveMs":"8000"}')),
    ).toEqual({ waitMs: 300, failedQueryWindowMs: 0 });
    expect(readTimingOverride(stored('{"failedQueryWindowMs":-1,"maxAttempts":0,"pongTimeoutMs":600001}'))).toEqual({});
    expect(readTimingOverride(stored('{"waitMs":'))).toEqual({});
    expect(readTimingOverride(stored('[300]'))).toEqual({});
    expect(readTimingOverride(undefined)).toEqual({});
  });
});
