import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { generate } from 'otplib';
import { MemoryRouter } from 'react-router';
import { afterEach, describe, expect, it } from 'vitest';
import { createApolloSession } from '../src/apollo/createApolloSession';
import { App } from '../src/App';
import { createAuthStore, type AuthStore } from '../src/session/authStore';
import { apiUrl, gql, login, recordingWebSocket } from './helpers';

const CREATE_USER = 'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }';
const LOGIN = `mutation($t: String!, $e: String!, $p: String!) {
  login(tenant: $t, email: $e, password: $p) { token expiresAt idleTimeoutSeconds recoveryCodes user { id name role tenant { id name slug timeZone } } }
}`;

/** A Storage of this test's own (the store reads and writes it as the browser's localStorage). */
function memoryStorage(): Storage {
  const items = new Map<string, string>();
  return {
    get length() {
      return items.size;
    },
    clear: () => items.clear(),
    getItem: (key) => items.get(key) ?? null,
    key: (i) => [...items.keys()][i] ?? null,
    removeItem: (key) => void items.delete(key),
    setItem: (key, value) => void items.set(key, String(value)),
  };
}

describe('Two-step verification in the web app', () => {
  const stores: AuthStore[] = [];
  afterEach(() => {
    for (const store of stores.splice(0)) store.signOut({ onServer: false });
  });

  function authStore() {
    const base = apiUrl();
    const store = createAuthStore({
      storage: memoryStorage(),
      createApolloSession: (token, signOut) =>
        createApolloSession({
          token,
          httpUrl: `${base}/graphql`,
          wsUrl: `${base.replace(/^http/, 'ws')}/graphql`,
          webSocketImpl: recordingWebSocket().impl,
          onUnauthenticated: signOut,
        }),
    });
    stores.push(store);
    return store;
  }

  it('should set up an authenticator from the account page, show the recovery codes once, then ask for a code at sign-in', async () => {
    // A staff member of this test's own: the demo users, shared by every client test file, stay as they are.
    const { token: admin } = await login('sunrise-derm', 'admin');
    const email = `totp-${Date.now().toString(36)}@sunrise.example`;
    const password = 'violet-harbour-lantern-42';
    await gql(admin, CREATE_USER, { i: { email, name: 'Robin Hale', role: 'NURSE', password } });
    const { login: payload } = await gql(null, LOGIN, { t: 'sunrise-derm', e: email, p: password });

    const store = authStore();
    store.signIn({ ...payload, email });
    render(
      <MemoryRouter initialEntries={['/account']}>
        <App authStore={store} httpUrl={`${apiUrl()}/graphql`} />
      </MemoryRouter>,
    );
    expect(await screen.findByRole('heading', { name: 'Account' })).toBeTruthy();
    fireEvent.click(await screen.findByRole('button', { name: 'Set up an authenticator app' }));

    // The QR code and the secret as text; the secret computes the code an app would show.
    expect(await screen.findByTitle('QR code of the authenticator secret')).toBeTruthy();
    const secret = (await screen.findByText(/^[A-Z2-7]{4}( [A-Z2-7]{4})+$/)).textContent!.replace(/ /g, '');
    expect(secret).toHaveLength(32);

    fireEvent.change(screen.getByLabelText('Authentication code'), { target: { value: '12' } });
    fireEvent.click(screen.getByRole('button', { name: 'Turn on' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/6 digits/);

    fireEvent.change(screen.getByLabelText('Authentication code'), { target: { value: await generate({ secret }) } });
    fireEvent.click(screen.getByRole('button', { name: 'Turn on' }));
    const list = await screen.findByRole('list', { name: 'Recovery codes' });
    const codes = within(list)
      .getAllByRole('listitem')
      .map((li) => li.textContent!);
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(/^[0-9a-z]{4}(-[0-9a-z]{4}){3}$/);
    fireEvent.click(screen.getByRole('button', { name: 'I have kept them' }));
    expect(await screen.findByText(/On since .* 10 recovery codes left/)).toBeTruthy();
    expect(screen.queryByRole('list', { name: 'Recovery codes' })).toBeNull();

    // Signed out, the password alone no longer signs in: the page asks for the code.
    store.signOut({ onServer: false });
    expect(await screen.findByRole('heading', { name: 'Sign in to your clinic' })).toBeTruthy();
    fireEvent.change(screen.getByRole('textbox', { name: 'Clinic' }), { target: { value: 'sunrise-derm' } });
    fireEvent.change(screen.getByLabelText('Email'), { target: { value: email } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: password } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('heading', { name: 'Two-step verification' })).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText('Authentication code'));

    // A recovery code of another shape is not one of these: refused, and said so.
    fireEvent.change(screen.getByLabelText('Authentication code'), { target: { value: 'abcd-efgh-jkmn-pqrs' } });
    fireEvent.click(screen.getByRole('button', { name: 'Verify' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/not right/);
    expect(store.getSnapshot()).toBeNull();

    fireEvent.change(screen.getByLabelText('Authentication code'), { target: { value: codes[0] } });
    fireEvent.click(screen.getByRole('button', { name: 'Verify' }));
    expect(await screen.findByRole('heading', { name: 'Account' })).toBeTruthy();
    await waitFor(() => expect(store.getSnapshot()?.user.id).toBe(payload.user.id));
    expect(await screen.findByText(/9 recovery codes left/)).toBeTruthy();
  });
});
