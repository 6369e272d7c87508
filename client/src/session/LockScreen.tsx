import { useState } from 'react';
import { errorMessage } from '../components/ui/errors';
import { CredentialField } from '../components/ui/CredentialField';
import { FormError } from '../components/ui/FormError';
import type { LockedSession } from './authStore';
import { SecondFactorStep } from './SecondFactorStep';
import { useSignIn, type SignedIn } from './useSignIn';

/** "15 minutes", "1 hour", "90 seconds". */
function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
  return `${seconds} seconds`;
}

/**
 * What every tab shows once the session has locked for idleness (automatic logoff): whose session it was, and a
 * password field. The right password signs in again (a new session) and the app comes back on the page it was on;
 * "Sign in as someone else" goes to the sign-in page. Nothing of the app is rendered meanwhile: no request goes out.
 */
export function LockScreen({
  locked,
  onSignedIn,
  onSwitchUser,
}: {
  locked: LockedSession;
  onSignedIn(payload: SignedIn): void;
  onSwitchUser(): void;
}) {
  const flow = useSignIn(onSignedIn);
  const { loading } = flow;
  const [password, setPassword] = useState('');
  // A session stored before its email was kept: asked for too.
  const [email, setEmail] = useState(locked.email ?? '');
  const [error, setError] = useState<string | null>(null);
  const { user } = locked;

  const unlock = async () => {
    setError(null);
    try {
      await flow.signIn({ tenant: user.tenant.slug, email: email.trim(), password });
    } catch (err) {
      setPassword('');
      setError(/unknown clinic, email or password/i.test(errorMessage(err)) ? 'Wrong password' : errorMessage(err));
    }
  };

  return (
    <main className="login" aria-labelledby="lock-heading">
      <div className="login-card lock-card">
        <div className="login-brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>Derm Realtime</span>
        </div>
        <h1 id="lock-heading">Locked</h1>
        <p>
          <strong>{user.name}</strong> · {user.tenant.name}
        </p>
        <p>
          Locked after {duration(locked.idleTimeoutSeconds)} without activity. Enter your password to carry on where you
          were.
        </p>
        {flow.challenge || flow.enrolled ? (
          <SecondFactorStep flow={flow} />
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void unlock();
            }}
          >
            {locked.email ? (
              // The user's email, for password managers.
              <input type="hidden" name="username" autoComplete="username" value={locked.email} />
            ) : (
              <CredentialField kind="email" value={email} onChange={setEmail} autoFocus />
            )}
            {/* The one thing to do here: the field has the focus when the screen appears. */}
            <CredentialField
              kind="password"
              value={password}
              onChange={setPassword}
              autoFocus={locked.email !== undefined}
            />
            <FormError error={error} />
            <button type="submit" className="button button-primary button-block" disabled={loading}>
              {loading ? 'Unlocking…' : 'Unlock'}
            </button>
          </form>
        )}
        <button type="button" className="button button-block lock-switch" onClick={onSwitchUser}>
          Sign in as someone else
        </button>
      </div>
    </main>
  );
}
