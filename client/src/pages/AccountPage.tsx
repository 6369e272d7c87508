import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { SecondFactorStatusDocument, type SecondFactorStatusFieldsFragment } from '../__generated__/graphql';
import { RecoveryCodes } from '../components/secondFactor/RecoveryCodes';
import { TotpSetup, type TotpEnrolment } from '../components/secondFactor/TotpSetup';
import { CredentialField } from '../components/ui/CredentialField';
import { ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';
import { FormError } from '../components/ui/FormError';
import { formatDate, localDate } from '../lib/time';
import {
  useConfirmTotpEnrolmentMutation,
  useDisableSecondFactorMutation,
  useRequireSecondFactorMutation,
  useStartTotpEnrolmentMutation,
} from '../mutations/useSecondFactorMutations';
import { useCurrentUser } from '../session/SessionContext';

/** A form with one code field: confirming an enrolment, turning the factor off. */
function CodeForm({
  submitLabel,
  busy,
  onSubmit,
}: {
  submitLabel: string;
  busy: boolean;
  onSubmit(code: string): Promise<unknown>;
}) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      className="code-form"
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        onSubmit(code.trim()).catch((err: unknown) => {
          setCode('');
          setError(errorMessage(err));
        });
      }}
    >
      <CredentialField kind="code" value={code} onChange={setCode} />
      <FormError error={error} />
      <button type="submit" className="button button-primary" disabled={busy}>
        {submitLabel}
      </button>
    </form>
  );
}

/** Setting up an authenticator app: the secret to scan, then a code of it; then the recovery codes, once. */
function Enrol({
  status,
  onRecoveryCodes,
}: {
  status: SecondFactorStatusFieldsFragment;
  onRecoveryCodes(codes: string[]): void;
}) {
  const [start, started] = useStartTotpEnrolmentMutation();
  const [confirm, confirmed] = useConfirmTotpEnrolmentMutation();
  const [enrolment, setEnrolment] = useState<TotpEnrolment | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (!enrolment) {
    return (
      <>
        <p>
          Sign-in asks for your password only.
          {status.requiredByClinic &&
            ' Your clinic requires a second factor: the next sign-in will ask you to set one up.'}
        </p>
        <FormError error={error} />
        <button
          type="button"
          className="button button-primary"
          disabled={started.loading}
          onClick={() =>
            start()
              .then(({ data }) => data && setEnrolment(data.startTotpEnrolment))
              .catch((err: unknown) => setError(errorMessage(err)))
          }
        >
          Set up an authenticator app
        </button>
      </>
    );
  }
  return (
    <>
      <TotpSetup enrolment={enrolment} />
      <p>Then enter the 6-digit code the app shows to turn it on.</p>
      <CodeForm
        submitLabel="Turn on"
        busy={confirmed.loading}
        onSubmit={(code) =>
          confirm(code).then(({ data }) => data && onRecoveryCodes(data.confirmTotpEnrolment.recoveryCodes))
        }
      />
      <button type="button" className="link-button" onClick={() => setEnrolment(null)}>
        Cancel
      </button>
    </>
  );
}

function Enabled({ status }: { status: SecondFactorStatusFieldsFragment }) {
  const { tenant } = useCurrentUser();
  const [disable, disabled] = useDisableSecondFactorMutation();
  const [turningOff, setTurningOff] = useState(false);
  return (
    <>
      <p>
        On{status.enabledAt ? ` since ${formatDate(localDate(status.enabledAt, tenant.timeZone))}` : ''}: sign-in asks
        for a code from your authenticator app. {status.recoveryCodesLeft} recovery code
        {status.recoveryCodesLeft === 1 ? '' : 's'} left.
      </p>
      {turningOff ? (
        <>
          <p>Enter a current code (or a recovery code) to turn it off.</p>
          <CodeForm submitLabel="Turn off" busy={disabled.loading} onSubmit={(code) => disable(code)} />
        </>
      ) : (
        <button type="button" className="button" onClick={() => setTurningOff(true)}>
          Turn off…
        </button>
      )}
    </>
  );
}

/** An admin's switch: every staff member of the clinic needs a second factor at sign-in. */
function ClinicRequirement({ required }: { required: boolean }) {
  const [setRequired, result] = useRequireSecondFactorMutation();
  // What was clicked shows at once; the server's answer (and the status read again) settles it.
  const [asked, setAsked] = useState<boolean | null>(null);
  return (
    <section className="account-section" aria-labelledby="clinic-2fa-heading">
      <h2 id="clinic-2fa-heading">Clinic policy</h2>
      <label className="checkbox">
        <input
          type="checkbox"
          checked={asked ?? required}
          disabled={result.loading}
          onChange={(e) => {
            setAsked(e.target.checked);
            setRequired(e.target.checked)
              .catch(() => undefined)
              .finally(() => setAsked(null));
          }}
        />
        Require a second factor of every staff member (those without one set it up at their next sign-in)
      </label>
      {result.error && <ErrorNotice>{errorMessage(result.error)}</ErrorNotice>}
    </section>
  );
}

/**
 * The signed-in user's account: their second factor (set up, recovery codes, turning it off) and, for an admin, the
 * clinic's requirement of one.
 */
export function AccountPage() {
  const user = useCurrentUser();
  const { data, loading, error } = useQuery(SecondFactorStatusDocument, { fetchPolicy: 'cache-and-network' });
  // Held here: once confirmed, the status says "on" and the enrolment form is gone, but the codes are still to show.
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const status = data?.secondFactor;
  return (
    <div className="page page-account">
      <header className="page-header">
        <div>
          <h1>Account</h1>
          <p className="page-sub">
            {user.name} · {user.tenant.name}
          </p>
        </div>
      </header>
      <section className="account-section" aria-labelledby="second-factor-heading">
        <h2 id="second-factor-heading">Two-step verification</h2>
        {error && <ErrorNotice>{errorMessage(error)}</ErrorNotice>}
        {!status && loading && <Loading />}
        {recoveryCodes ? (
          <RecoveryCodes codes={recoveryCodes} onDone={() => setRecoveryCodes(null)} doneLabel="I have kept them" />
        ) : (
          status &&
          (status.enabled ? <Enabled status={status} /> : <Enrol status={status} onRecoveryCodes={setRecoveryCodes} />)
        )}
      </section>
      {user.role === 'ADMIN' && status && <ClinicRequirement required={status.requiredByClinic} />}
    </div>
  );
}
