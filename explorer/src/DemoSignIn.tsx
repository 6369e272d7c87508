import { useGraphiQL, useHeadersEditorState } from '@graphiql/react';
import { useState } from 'react';

export interface DemoAccount {
  tenant: string;
  email: string;
  name: string;
  role: string;
}

export interface DemoSignInConfig {
  password: string;
  accounts: DemoAccount[];
}

const LOGIN =
  'mutation DemoSignIn($tenant: String!, $email: String!, $password: String!) { login(tenant: $tenant, email: $email, password: $password) { token } }';

/**
 * Development only (the server sends demo accounts only outside production, with the demo clinics loaded): one click
 * signs in and puts the token in the Headers editor, where a developer sees how the API expects it.
 */
export function DemoSignIn({ demo }: { demo: DemoSignInConfig }) {
  const [, setHeaders] = useHeadersEditorState();
  // The Headers editor (Monaco) loads after the page: until then there is nowhere to put the token.
  const ready = useGraphiQL((state) => Boolean(state.headerEditor));
  const [choice, setChoice] = useState(0);
  const [status, setStatus] = useState<string>('');

  async function signIn() {
    const account = demo.accounts[choice];
    setStatus('Signing in…');
    try {
      const res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({
          query: LOGIN,
          variables: { tenant: account.tenant, email: account.email, password: demo.password },
        }),
      });
      const body = (await res.json()) as { data?: { login: { token: string } }; errors?: { message: string }[] };
      if (!body.data?.login) throw new Error(body.errors?.[0]?.message ?? `HTTP ${res.status}`);
      setHeaders(JSON.stringify({ Authorization: `Bearer ${body.data.login.token}` }, null, 2));
      setStatus(`Signed in as ${account.name}`);
    } catch (err) {
      setStatus(`Sign-in failed: ${(err as Error).message}`);
    }
  }

  return (
    <div className="derm-demo-sign-in">
      <select aria-label="Demo user" value={choice} onChange={(e) => setChoice(Number(e.target.value))}>
        {demo.accounts.map((a, i) => (
          <option key={a.email} value={i}>
            {a.name} ({a.role}, {a.tenant})
          </option>
        ))}
      </select>
      <button type="button" disabled={!ready} onClick={() => void signIn()}>
        Sign in as a demo user
      </button>
      <span role="status">{status}</span>
    </div>
  );
}
