import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppointmentChangedDocument, MeDocument } from '../src/__generated__/graphql';
import { createApolloSession } from '../src/apollo/createApolloSession';
import { App } from '../src/App';
import { createAuthStore, type AuthStore, type Session } from '../src/session/authStore';
import { apiUrl, clinicIds, DEMO_PASSWORD, gql, login, memoryStorage, recordingWebSocket } from './helpers';

const CREATE = `mutation($input: CreateAppointmentInput!) { createAppointment(input: $input) { id } }`;

describe('The signed-in session: renewal and sign-out', () => {
  const stores: AuthStore[] = [];
  afterEach(() => {
    for (const store of stores.splice(0)) store.signOut({ onServer: false });
  });

  /** The app's auth store, signed in as `key`, believing its token expires in `expiresInMs`. */
  async function signedIn(key: string, expiresInMs: number) {
    const { token, user } = await login('sunrise-derm', key);
    const storage = memoryStorage();
    const recorder = recordingWebSocket();
    const base = apiUrl();
    storage.setItem(
      'derm-realtime.session',
      JSON.stringify({ token, user, expiresAt: new Date(Date.now() + expiresInMs).toISOString() }),
    );
    const store = createAuthStore({
      storage,
      createApolloSession: (t, signOut) =>
        createApolloSession({
          token: t,
          httpUrl: `${base}/graphql`,
          wsUrl: `${base.replace(/^http/, 'ws')}/graphql`,
          webSocketImpl: recorder.impl,
          onUnauthenticated: signOut,
        }),
    });
    stores.push(store);
    const session = store.getSnapshot() as Session;
    await waitFor(() => expect(session.apollo.connection.getSnapshot().status).toBe('connected'), { timeout: 10_000 });
    return { store, storage, session, token, recorder };
  }

  it('should renew its token before it expires and move the live socket to it, with no reconnection and no event lost', async () => {
    // The store schedules by what it was told (4 s left): it renews at half of that.
    const { store, storage, session, token, recorder } = await signedIn('lee', 4_000);
    const ids = await clinicIds(token);
    const received: string[] = [];
    const subscription = session.apollo.client
      .subscribe({ query: AppointmentChangedDocument, variables: {} })
      .subscribe({ next: ({ data }) => data && received.push(data.appointmentChanged.appointment.id) });
    const book = async (slot: number) => {
      const startsAt = Date.UTC(2034, 2, 1) + Math.floor(Math.random() * 10_000) * 3_600_000 + slot * 60_000;
      const data = await gql(token, CREATE, {
        input: {
          providerId: ids.byKey('lee').id,
          patientId: ids.patients[1].id,
          startsAt: new Date(startsAt).toISOString(),
          endsAt: new Date(startsAt + 30 * 60_000).toISOString(),
          reason: 'Renewal test',
        },
      });
      return data.createAppointment.id as string;
    };
    await waitFor(() => expect(recorder.open('AppointmentChanged')).toBe(1));
    // Live (the server acknowledges nothing): an appointment booked now reaches the page.
    const first = await waitFor(
      async () => {
        const id = await book(0);
        await waitFor(() => expect(received).toContain(id), { timeout: 1_000 });
        return id;
      },
      { timeout: 10_000 },
    );

    await waitFor(() => expect(store.getSnapshot()?.token).not.toBe(token), { timeout: 10_000 });
    const renewed = store.getSnapshot()!;
    expect(JSON.parse(storage.getItem('derm-realtime.session')!).token).toBe(renewed.token);
    expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.now() + 60_000);
    // The same Apollo session (the page keeps its state), its socket handed the new token, never reconnected.
    expect(renewed.apollo).toBe(session.apollo);
    await waitFor(() =>
      expect(recorder.sent.some((f) => f.type === 'subscribe' && f.payload?.operationName === 'RenewConnection')).toBe(
        true,
      ),
    );
    expect(session.apollo.connection.getSnapshot().reconnections).toBe(0);
    const after = await book(1);
    await waitFor(() => expect(received).toContain(after), { timeout: 10_000 });
    expect(received.filter((id) => id === first)).toHaveLength(1);
    // HTTP sends the new token.
    const me = await session.apollo.client.query({ query: MeDocument });
    expect(me.data?.me.id).toBe(ids.byKey('lee').id);
    subscription.unsubscribe();
  });

  it('should end the session on the server when the user signs out: the token is refused from then on', async () => {
    const { store, token } = await signedIn('patel', 60 * 60_000);
    await expect(gql(token, '{ me { id } }')).resolves.toBeTruthy();
    store.signOut();
    expect(store.getSnapshot()).toBeNull();
    await waitFor(() => expect(gql(token, '{ me { id } }')).rejects.toThrow(/signed out/), { timeout: 5_000 });
  });
});

describe('Automatic logoff: the lock screen', () => {
  const stores: AuthStore[] = [];
  afterEach(() => {
    for (const store of stores.splice(0)) store.signOut({ onServer: false });
  });

  /** A tab of the app: its auth store on the shared storage, locking after `idleMs` without input. */
  function tab(storage: Storage, idleMs: number) {
    const base = apiUrl();
    const store = createAuthStore({
      storage,
      idleTimeoutMs: idleMs,
      createApolloSession: (token, signOut, lock) =>
        createApolloSession({
          token,
          httpUrl: `${base}/graphql`,
          wsUrl: `${base.replace(/^http/, 'ws')}/graphql`,
          webSocketImpl: recordingWebSocket().impl,
          onUnauthenticated: signOut,
          onIdle: lock,
        }),
    });
    stores.push(store);
    return store;
  }

  /** What another tab's write to the session key makes the browser fire in this one. */
  const storageEvent = () =>
    act(() => void window.dispatchEvent(new StorageEvent('storage', { key: 'derm-realtime.session' })));

  // An idle timeout of 8 s after a sign-in and a render on a loaded machine, then an unlock: more than 30 s may pass.
  it(
    'should lock every tab after the timeout without input in any, and unlock with the password on the same page',
    { timeout: 60_000 },
    async () => {
      // Long enough that a loaded machine renders the page well within it (it took over 2.5 s once, with 4 s).
      const idleMs = 8_000;
      const storage = memoryStorage();
      const first = tab(storage, idleMs);
      const payload = await login('sunrise-derm', 'nurse');
      expect(payload).toMatchObject({ idleTimeoutSeconds: 900 });
      const signedInAt = Date.now();
      first.signIn({ ...payload, email: 'nurse@sunrise.example' });
      const second = tab(storage, idleMs);
      expect(second.getSnapshot()?.token).toBe(payload.token);
      // When it locked, as it happens (not when a look at the screen finds it): a busy machine delays the looks.
      let lockedAt = 0;
      const stopWatching = first.subscribe(() => {
        if (first.getLocked() && !lockedAt) lockedAt = Date.now();
      });
      render(
        <MemoryRouter initialEntries={['/tasks']}>
          <App authStore={first} httpUrl={`${apiUrl()}/graphql`} />
        </MemoryRouter>,
      );
      expect(await screen.findByRole('heading', { name: 'Tasks' })).toBeTruthy();

      // Input 1.5 s after signing in (or later, as the page took) keeps it open past the timeout from the start; then
      // none, and it locks a timeout after that input.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, signedInAt + 1_500 - Date.now())));
      expect(lockedAt).toBe(0);
      // Read before the input, so that the store's own record of it is not earlier.
      const inputAt = Date.now();
      fireEvent.keyDown(window, { key: 'Shift' });
      expect(await screen.findByRole('heading', { name: 'Locked' }, { timeout: idleMs + 10_000 })).toBeTruthy();
      stopWatching();
      expect(lockedAt - inputAt).toBeGreaterThanOrEqual(idleMs);
      expect(lockedAt - signedInAt).toBeGreaterThanOrEqual(idleMs + 1_500);
      expect(screen.queryByRole('heading', { name: 'Tasks' })).toBeNull();
      expect(first.getSnapshot()).toBeNull();
      expect(first.getLocked()?.user.name).toBe(payload.user.name);
      expect(screen.getByText(payload.user.name)).toBeTruthy();
      // The password field has the focus, and is labelled.
      expect(document.activeElement).toBe(screen.getByLabelText('Password'));
      // The other tab locks too; the session has ended on the server.
      await storageEvent();
      expect(second.getSnapshot()).toBeNull();
      expect(second.getLocked()?.user.id).toBe(payload.user.id);
      await waitFor(() => expect(gql(payload.token, '{ me { id } }')).rejects.toThrow(/signed out/), {
        timeout: 5_000,
      });

      // A wrong password is said so; the right one signs in again, back on the page it was on.
      fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'not-the-password' } });
      fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
      expect((await screen.findByRole('alert')).textContent).toBe('Wrong password');
      fireEvent.change(screen.getByLabelText('Password'), { target: { value: DEMO_PASSWORD } });
      fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
      expect(await screen.findByRole('heading', { name: 'Tasks' }, { timeout: 5_000 })).toBeTruthy();
      const unlocked = first.getSnapshot()!;
      expect(unlocked.token).not.toBe(payload.token);
      expect(unlocked.user.id).toBe(payload.user.id);
      await storageEvent();
      expect(second.getLocked()).toBeNull();
      expect(second.getSnapshot()?.token).toBe(unlocked.token);
    },
  );

  it('should lock, not sign out, when the server says the session went idle', async () => {
    const onIdle = vi.fn();
    const onUnauthenticated = vi.fn();
    const idleAnswer = JSON.stringify({
      errors: [{ message: 'idle', extensions: { code: 'UNAUTHENTICATED', reason: 'SESSION_IDLE' } }],
    });
    const base = apiUrl();
    // A good token for the socket; HTTP answers as the server does for an idle session.
    const { token } = await login('sunrise-derm', 'admin');
    const apollo = createApolloSession({
      token,
      httpUrl: `${base}/graphql`,
      wsUrl: `${base.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: recordingWebSocket().impl,
      fetch: async () =>
        new Response(idleAnswer, { status: 401, headers: { 'content-type': 'application/graphql-response+json' } }),
      onUnauthenticated,
      onIdle,
    });
    await apollo.client.query({ query: MeDocument }).catch(() => {});
    expect(onIdle).toHaveBeenCalled();
    expect(onUnauthenticated).not.toHaveBeenCalled();
    await apollo.dispose();
  });
});
