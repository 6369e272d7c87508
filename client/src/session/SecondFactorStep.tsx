import { useState } from 'react';
import { CredentialField } from '../components/ui/CredentialField';
import { FormError } from '../components/ui/FormError';
import { errorMessage } from '../components/ui/errors';
import { RecoveryCodes } from '../components/secondFactor/RecoveryCodes';
import { TotpSetup } from '../components/secondFactor/TotpSetup';
import type { useSignIn } from './useSignIn';

/**
 * The steps of sign-in after the password (the sign-in page and the lock screen): the second-factor code (with the
 * QR code to enrol first, where the clinic requires a factor this user has not set up), then, after enrolling, the
 * recovery codes. Renders nothing while neither is due.
 */
export function SecondFactorStep({ flow }: { flow: ReturnType<typeof useSignIn> }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  if (flow.enrolled?.recoveryCodes)
    return (
      <RecoveryCodes codes={flow.enrolled.recoveryCodes} onDone={flow.finish} doneLabel="I have kept them: continue" />
    );
  const { challenge } = flow;
  if (!challenge) return null;
  return (
    <form
      className="second-factor-step"
      aria-labelledby="second-factor-heading"
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        flow.submitCode(code.trim()).catch((err: unknown) => {
          setCode('');
          setError(errorMessage(err));
        });
      }}
    >
      {challenge.enrolment ? (
        <>
          <h2 id="second-factor-heading">Set up a second factor</h2>
          <p>Your clinic requires a code from an authenticator app at sign-in.</p>
          <TotpSetup enrolment={challenge.enrolment} />
          <p>Then enter the 6-digit code the app shows.</p>
        </>
      ) : (
        <>
          <h2 id="second-factor-heading">Two-step verification</h2>
          <p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
        </>
      )}
      <CredentialField kind="code" value={code} onChange={setCode} autoFocus />
      <FormError error={error} />
      <button type="submit" className="button button-primary button-block" disabled={flow.loading}>
        {flow.loading ? 'Checking…' : 'Verify'}
      </button>
      <button type="button" className="button button-block" onClick={flow.cancel}>
        Back
      </button>
    </form>
  );
}
