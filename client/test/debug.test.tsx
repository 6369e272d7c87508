import { waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { PresenceChangedDocument } from '../src/__generated__/graphql';
import { connected, openSession, type TestSession } from './helpers';

/**
 * The web app's debug switch (README, "Debugging"): `localStorage.debug = 'derm:*'` puts the socket's life and its
 * operations on the console, by code, attempt and operation name, never a token or data; without it, nothing.
 */
describe('Debug lines in the console', () => {
  let log: MockInstance<typeof console.log>;
  let session: TestSession | undefined;

  beforeEach(() => {
    log = vi.spyOn(console, 'log').mockImplementation(() => {});
  });
  afterEach(async () => {
    await session?.apollo.dispose();
    session = undefined;
    localStorage.removeItem('debug');
    log.mockRestore();
  });

  /** What the app wrote to the console under our namespaces, one string per line with its fields. */
  const lines = () =>
    log.mock.calls
      .filter(([first]) => typeof first === 'string' && first.startsWith('derm:'))
      .map((args) => args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));

  it("should log the socket's events and its operations by name when localStorage.debug is on", async () => {
    localStorage.debug = 'derm:*';
    session = await openSession('sunrise-derm', 'nurse', {
      timing: { keepAliveMs: 200, waitMs: 50, maxAttempts: 3 },
    });
    await connected(session);
    const { token } = session;
    const presence = session.apollo.client.subscribe({ query: PresenceChangedDocument }).subscribe({});
    await waitFor(() => expect(lines()).toContain('derm:operation subscribe {"operationName":"PresenceChanged"}'));
    await waitFor(() => expect(lines()).toContain('derm:socket:ping pong received'));
    presence.unsubscribe();
    await waitFor(() => expect(lines()).toContain('derm:operation complete {"operationName":"PresenceChanged"}'));

    // Dropped (as a missing pong drops it): closed with graphql-ws's code, then the retry and its attempt.
    session.apollo.wsClient.terminate();
    await waitFor(() => expect(lines()).toContain('derm:socket connected (acknowledged) {"wasRetry":true}'));
    await session.apollo.dispose();
    session = undefined;
    await waitFor(() => expect(lines().at(-1)).toMatch(/^derm:socket closed \{"code":1000/));
    const written = lines();

    // The keep-alive's first ping may go out before the server's acknowledgement on a loaded machine (graphql-ws sends
    // it keepAlive after the socket opened): the socket's own lines, without the ping namespace, come in this order.
    expect(written.filter((line) => !line.startsWith('derm:socket:ping')).slice(0, 3)).toEqual([
      'derm:socket connecting',
      'derm:socket opened',
      'derm:socket connected (acknowledged) {"wasRetry":false}',
    ]);
    expect(written).toContain('derm:socket:ping ping sent');
    expect(written).toContain('derm:socket closed {"code":4499,"reason":"Terminated"}');
    expect(written).toContain('derm:socket reconnecting {"attempt":1}');
    const everything = JSON.stringify(log.mock.calls);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain('Bearer');
  });

  it('should log only the namespaces switched on, and nothing when the switch is off', async () => {
    localStorage.debug = 'derm:*,-derm:socket:ping';
    session = await openSession('sunrise-derm', 'nurse', { timing: { keepAliveMs: 200 } });
    await connected(session);
    await waitFor(() => expect(session!.sent.filter((f) => f.type === 'ping').length).toBeGreaterThan(1));
    expect(lines()).toContain('derm:socket opened');
    expect(lines().filter((line) => line.startsWith('derm:socket:ping'))).toEqual([]);
    await session.apollo.dispose();
    log.mockClear();

    localStorage.removeItem('debug');
    session = await openSession('sunrise-derm', 'nurse', { timing: { keepAliveMs: 200 } });
    await connected(session);
    const presence = session.apollo.client.subscribe({ query: PresenceChangedDocument }).subscribe({});
    await waitFor(() => expect(session!.openSubscriptions('PresenceChanged')).toBe(1));
    await waitFor(() => expect(session!.sent.filter((f) => f.type === 'ping').length).toBeGreaterThan(1));
    presence.unsubscribe();
    await session.apollo.dispose();
    session = undefined;
    expect(lines()).toEqual([]);
  });
});
