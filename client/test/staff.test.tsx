import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { generate } from 'otplib';
import { afterEach, describe, expect, it } from 'vitest';
import { AppRoutes } from '../src/App';
import { gql, login, openSession, renderWithSession, type TestSession } from './helpers';

const LOGIN = `mutation($t: String!, $e: String!, $p: String!) {
  login(tenant: $t, email: $e, password: $p) { token }
}`;
const CREATE_USER = 'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }';
const PASSWORD = 'violet-harbour-lantern-42';

/** What signing in with the password alone answers: a token, or the error's code. */
async function signInCode(email: string, password = PASSWORD): Promise<string> {
  try {
    const { login: payload } = await gql(null, LOGIN, { t: 'sunrise-derm', e: email, p: password });
    return payload.token ? 'OK' : 'NO TOKEN';
  } catch (err) {
    return (err as Error).message;
  }
}

const uniqueEmail = (what: string) => `${what}-${Date.now().toString(36)}@sunrise.example`;

describe('Staff page', () => {
  const sessions: TestSession[] = [];
  afterEach(async () => {
    for (const session of sessions.splice(0)) await session.apollo.dispose();
  });
  async function as(key: string) {
    const session = await openSession('sunrise-derm', key);
    sessions.push(session);
    return session;
  }

  it('should let an admin add a staff member, refusing a weak first password with the reason, who can then sign in', async () => {
    const admin = await as('admin');
    renderWithSession(<AppRoutes />, admin, { route: '/staff' });
    expect(await screen.findByRole('heading', { name: 'Staff' })).toBeTruthy();
    const table = await screen.findByRole('table', { name: 'Staff' });
    // The admin's own row leads to their account, not to actions on themself.
    const own = within(table).getByRole('rowheader', { name: admin.user.name }).closest('tr')!;
    expect(within(own).getByRole('link', { name: 'Your account' })).toBeTruthy();

    const email = uniqueEmail('added');
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Morgan Reyes' } });
    fireEvent.change(screen.getByLabelText('Sign-in email'), { target: { value: email } });
    fireEvent.change(screen.getByLabelText('Role'), { target: { value: 'FRONT_DESK' } });
    fireEvent.change(screen.getByLabelText('First password'), { target: { value: 'password1234' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add staff member' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/common/i);
    expect(await signInCode(email, 'password1234')).toMatch(/Unknown clinic, email or password/);

    fireEvent.change(screen.getByLabelText('First password'), { target: { value: PASSWORD } });
    fireEvent.click(screen.getByRole('button', { name: 'Add staff member' }));
    expect(await screen.findByText(`Morgan Reyes can now sign in as ${email} with the password you set.`)).toBeTruthy();
    const row = (await within(table).findByRole('rowheader', { name: 'Morgan Reyes' })).closest('tr')!;
    expect(within(row).getByText(email)).toBeTruthy();
    expect(within(row).getByText('Front desk')).toBeTruthy();
    expect(await signInCode(email)).toBe('OK');
  });

  it("should reset a staff member's second factor after a confirmation, so their password alone signs them in", async () => {
    const { token: adminToken } = await login('sunrise-derm', 'admin');
    const email = uniqueEmail('lost-phone');
    await gql(adminToken, CREATE_USER, { i: { email, name: 'Sam Ortiz', role: 'NURSE', password: PASSWORD } });
    const { login: signedIn } = await gql(null, LOGIN, { t: 'sunrise-derm', e: email, p: PASSWORD });
    const { startTotpEnrolment } = await gql(signedIn.token, 'mutation { startTotpEnrolment { secret } }');
    await gql(signedIn.token, 'mutation($c: String!) { confirmTotpEnrolment(code: $c) { recoveryCodes } }', {
      c: await generate({ secret: startTotpEnrolment.secret }),
    });
    expect(await signInCode(email)).toMatch(/code/i);

    const admin = await as('admin');
    renderWithSession(<AppRoutes />, admin, { route: '/staff' });
    fireEvent.click(await screen.findByRole('button', { name: 'Reset two-step verification for Sam Ortiz' }));
    // Nothing happens until confirmed; keeping it changes nothing.
    fireEvent.click(screen.getByRole('button', { name: 'Keep' }));
    expect(await signInCode(email)).toMatch(/code/i);
    fireEvent.click(screen.getByRole('button', { name: 'Reset two-step verification for Sam Ortiz' }));
    fireEvent.click(screen.getByRole('button', { name: 'Remove' }));
    expect(await screen.findByText(/^Sam Ortiz signs in with their password only/)).toBeTruthy();
    expect(await signInCode(email)).toBe('OK');

    fireEvent.click(screen.getByRole('button', { name: 'Unlock sign-in for Sam Ortiz' }));
    expect(await screen.findByText('Sam Ortiz can sign in again.')).toBeTruthy();
  });

  it('should not be offered to staff who are not admins', async () => {
    const nurse = await as('nurse');
    renderWithSession(<AppRoutes />, nurse, { route: '/staff' });
    expect(await screen.findByText("Staff accounts are managed by your clinic's administrators")).toBeTruthy();
    const nav = screen.getByRole('navigation', { name: 'Main' });
    await waitFor(() => expect(within(nav).getByRole('link', { name: 'Schedule' })).toBeTruthy());
    expect(within(nav).queryByRole('link', { name: 'Staff' })).toBeNull();
    expect(screen.queryByRole('table', { name: 'Staff' })).toBeNull();
  });
});
