import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { describe, expect, it } from 'vitest';
import { createApolloSession } from '../src/apollo/createApolloSession';
import { App } from '../src/App';
import { createAuthStore } from '../src/session/authStore';
import { apiUrl, DEMO_PASSWORD } from './helpers';

describe('The sign-in page', () => {
  it('should say when to try again once the server slows down a run of wrong passwords', async () => {
    const base = apiUrl();
    const store = createAuthStore({
      storage: window.sessionStorage,
      createApolloSession: (token, signOut, lock) =>
        createApolloSession({
          token,
          httpUrl: `${base}/graphql`,
          wsUrl: `${base.replace(/^http/, 'ws')}/graphql`,
          onUnauthenticated: signOut,
          onIdle: lock,
        }),
    });
    render(
      <MemoryRouter>
        <App authStore={store} httpUrl={`${base}/graphql`} />
      </MemoryRouter>,
    );
    fireEvent.change(await screen.findByLabelText('Clinic'), { target: { value: 'sunrise-derm' } });
    // An email nobody has: the server throttles it like any other (LOGIN_SLOW_AFTER failures, 5 by default).
    fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'not-on-staff@sunrise.example' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: `not ${DEMO_PASSWORD}` } });
    const submit = () => fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));

    // Each wrong password is said so, until the server asks to wait (a slow machine may see a wait lapse first).
    await waitFor(
      async () => {
        submit();
        const alert = await screen.findByRole('alert');
        expect(alert.textContent).toMatch(/^Too many failed attempts\. Try again in \d+ seconds?\.$/);
      },
      { timeout: 20_000, interval: 300 },
    );
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeTruthy();
  });
});
