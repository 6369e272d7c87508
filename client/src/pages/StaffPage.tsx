import { useQuery } from '@apollo/client/react';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { StaffPageDocument, type Role, type StaffPageQuery } from '../__generated__/graphql';
import { Empty, ErrorNotice, Loading } from '../components/ui/Empty';
import { errorMessage } from '../components/ui/errors';
import { Field } from '../components/ui/Field';
import { FormError } from '../components/ui/FormError';
import { ROLE_LABEL } from '../lib/roles';
import {
  useCreateUserMutation,
  useResetSecondFactorMutation,
  useUnlockAccountMutation,
} from '../mutations/useStaffMutations';
import { useCurrentUser } from '../session/SessionContext';

type StaffMember = StaffPageQuery['staff'][number];

const ROLES = Object.keys(ROLE_LABEL) as Role[];

/** Adding a staff member: their name, sign-in email, role and a first password the admin hands over. */
function AddStaffForm({ onAdded }: { onAdded(member: StaffMember): void }) {
  const [create, created] = useCreateUserMutation();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('NURSE');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    create({ name: name.trim(), email: email.trim(), role, password })
      .then(({ data }) => {
        if (!data) return;
        onAdded(data.createUser);
        setName('');
        setEmail('');
        setPassword('');
      })
      .catch((err: unknown) => setError(errorMessage(err)));
  };
  return (
    <form className="staff-form" onSubmit={submit} aria-labelledby="add-staff-heading">
      <h2 id="add-staff-heading">Add a staff member</h2>
      <div className="field-row">
        <Field label="Name">
          <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" required />
        </Field>
        <Field label="Sign-in email">
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="off" required />
        </Field>
      </div>
      <div className="field-row">
        <Field label="Role">
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABEL[r]}
              </option>
            ))}
          </select>
        </Field>
        <Field label="First password">
          <input
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="new-password"
            minLength={12}
            required
          />
        </Field>
      </div>
      <p className="field-hint">
        At least 12 characters, not a common password. Hand it over in person; they can change it from their account.
      </p>
      <FormError error={error} />
      <button type="submit" className="button button-primary" disabled={created.loading}>
        Add staff member
      </button>
    </form>
  );
}

/** What an admin can do for another staff member: lift a sign-in lock, remove a lost second factor. */
function StaffActions({ member, onDone }: { member: StaffMember; onDone(message: string): void }) {
  const [unlock, unlocking] = useUnlockAccountMutation();
  const [reset, resetting] = useResetSecondFactorMutation();
  const [confirmingReset, setConfirmingReset] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fail = (err: unknown) => setError(errorMessage(err));
  return (
    <div className="staff-actions">
      {confirmingReset ? (
        <>
          <span>Remove {member.name}’s two-step verification?</span>
          <button
            type="button"
            className="button button-small button-danger"
            disabled={resetting.loading}
            onClick={() =>
              reset(member.id)
                .then(() => {
                  setConfirmingReset(false);
                  onDone(
                    `${member.name} signs in with their password only until they set up two-step verification again.`,
                  );
                })
                .catch(fail)
            }
          >
            Remove
          </button>
          <button type="button" className="button button-small" onClick={() => setConfirmingReset(false)}>
            Keep
          </button>
        </>
      ) : (
        <>
          <button
            type="button"
            className="button button-small"
            disabled={unlocking.loading}
            aria-label={`Unlock sign-in for ${member.name}`}
            onClick={() =>
              unlock(member.id)
                .then(() => onDone(`${member.name} can sign in again.`))
                .catch(fail)
            }
          >
            Unlock sign-in
          </button>
          <button
            type="button"
            className="button button-small"
            aria-label={`Reset two-step verification for ${member.name}`}
            onClick={() => setConfirmingReset(true)}
          >
            Reset two-step…
          </button>
        </>
      )}
      <FormError error={error} />
    </div>
  );
}

/**
 * The clinic's staff, for its admins: who has an account, adding one, and the two things a person locked out needs
 * (a sign-in locked after failed passwords, an authenticator phone lost). The clinic's requirement of a second factor
 * is on the account page.
 */
export function StaffPage() {
  const me = useCurrentUser();
  const isAdmin = me.role === 'ADMIN';
  const { data, loading, error } = useQuery(StaffPageDocument, { skip: !isAdmin, fetchPolicy: 'cache-and-network' });
  const [notice, setNotice] = useState<string | null>(null);
  if (!isAdmin) {
    return (
      <div className="page">
        <Empty title="Staff accounts are managed by your clinic's administrators" />
      </div>
    );
  }
  const staff = [...(data?.staff ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <div className="page page-staff">
      <header className="page-header">
        <div>
          <h1>Staff</h1>
          <p className="page-sub">{data ? `${staff.length} people at ${me.tenant.name}` : ' '}</p>
        </div>
        <Link to="/account" className="link-button">
          Clinic policy on two-step verification
        </Link>
      </header>
      <p className="form-notice" role="status">
        {notice}
      </p>
      {error && <ErrorNotice>{errorMessage(error)}</ErrorNotice>}
      {!data && loading && <Loading />}
      {data && (
        <div className="table-scroll">
          <table className="table staff-table" aria-label="Staff">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {staff.map((member) => (
                <tr key={member.id}>
                  <th scope="row">{member.name}</th>
                  <td>{member.email}</td>
                  <td>{ROLE_LABEL[member.role]}</td>
                  <td>
                    {member.id === me.id ? (
                      <Link to="/account">Your account</Link>
                    ) : (
                      <StaffActions member={member} onDone={setNotice} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <AddStaffForm
        onAdded={(member) => setNotice(`${member.name} can now sign in as ${member.email} with the password you set.`)}
      />
    </div>
  );
}
