import { useState } from 'react';
import { errorMessage } from '../components/ui/errors';
import { CredentialField } from '../components/ui/CredentialField';
import { Field } from '../components/ui/Field';
import { FormError } from '../components/ui/FormError';
import { SecondFactorStep } from '../session/SecondFactorStep';
import { useSignIn, type SignedIn } from '../session/useSignIn';

/** The demo accounts of README (password `derm-demo-2026`); listed in development builds only. */
const DEMO_USERS = [
  { tenant: 'sunrise-derm', email: 'frontdesk@sunrise.example', name: 'Jordan Kim', role: 'Front desk' },
  { tenant: 'sunrise-derm', email: 'lee@sunrise.example', name: 'Dr. Maya Lee', role: 'Provider' },
  { tenant: 'sunrise-derm', email: 'nurse@sunrise.example', name: 'Sam Rivera', role: 'Nurse' },
  { tenant: 'sunrise-derm', email: 'admin@sunrise.example', name: 'Alex Morgan', role: 'Admin' },
  { tenant: 'lakeside-skin', email: 'frontdesk@lakeside.example', name: 'Taylor Brooks', role: 'Front desk' },
  { tenant: 'lakeside-skin', email: 'chen@lakeside.example', name: 'Dr. Wei Chen', role: 'Provider' },
];
const DEMO_PASSWORD = 'derm-demo-2026';
const LAST_CLINIC = 'derm-realtime.clinic';

export function LoginPage({ onSignedIn }: { onSignedIn(payload: SignedIn): void }) {
  const flow = useSignIn((payload) => {
    localStorage.setItem(LAST_CLINIC, payload.user.tenant.slug);
    onSignedIn(payload);
  });
  const { loading } = flow;
  const [tenant, setTenant] = useState(() => localStorage.getItem(LAST_CLINIC) ?? '');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);

  const signIn = async (credentials: { tenant: string; email: string; password: string }) => {
    setError(null);
    try {
      await flow.signIn(credentials);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <main className="login">
      <div className="login-card">
        <div className="login-brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>Derm Realtime</span>
        </div>
        <h1>Sign in to your clinic</h1>
        {flow.challenge || flow.enrolled ? (
          <SecondFactorStep flow={flow} />
        ) : (
          <>
            <form
              onSubmit={(e) => {
                e.preventDefault();
                void signIn({ tenant: tenant.trim(), email: email.trim(), password });
              }}
            >
              <Field label="Clinic">
                <input
                  value={tenant}
                  onChange={(e) => setTenant(e.target.value)}
                  placeholder="sunrise-derm"
                  autoComplete="organization"
                  required
                />
              </Field>
              <CredentialField kind="email" value={email} onChange={setEmail} />
              <CredentialField kind="password" value={password} onChange={setPassword} />
              <FormError error={error} />
              <button type="submit" className="button button-primary button-block" disabled={loading}>
                {loading ? 'Signing in…' : 'Sign in'}
              </button>
            </form>
            {import.meta.env.DEV && (
              <section className="demo-users" aria-labelledby="demo-heading">
                <h2 id="demo-heading">Demo accounts</h2>
                <p>
                  Development only. Password: <code>{DEMO_PASSWORD}</code>
                </p>
                <ul>
                  {DEMO_USERS.map((u) => (
                    <li key={u.email}>
                      <button
                        type="button"
                        className="demo-user"
                        onClick={() => {
                          setTenant(u.tenant);
                          setEmail(u.email);
                          setPassword(DEMO_PASSWORD);
                          void signIn({ tenant: u.tenant, email: u.email, password: DEMO_PASSWORD });
                        }}
                      >
                        <span className="visually-hidden">Sign in as </span>
                        <span className="demo-name">{u.name}</span>
                        <span className="demo-role">
                          {u.role} · {u.tenant}
                        </span>
                      </button>
                    </li>
                  ))}
                </ul>
              </section>
            )}
          </>
        )}
      </div>
    </main>
  );
}
