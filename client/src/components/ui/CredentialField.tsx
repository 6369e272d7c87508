import { Field } from './Field';

/** What each kind of credential field is, as password managers recognise it. */
const KINDS = {
  email: { label: 'Email', type: 'email', autoComplete: 'username' },
  password: { label: 'Password', type: 'password', autoComplete: 'current-password' },
  // The authenticator app's 6 digits, or a recovery code (letters too, so not a numeric keyboard).
  code: { label: 'Authentication code', type: 'text', autoComplete: 'one-time-code' },
} as const;

/** A sign-in field (the sign-in page, the lock screen): the email, the current password, or a second-factor code. */
export function CredentialField({
  kind,
  value,
  onChange,
  autoFocus,
}: {
  kind: keyof typeof KINDS;
  value: string;
  onChange(value: string): void;
  /** The field that has the focus when its form appears. */
  autoFocus?: boolean;
}) {
  const { label, type, autoComplete } = KINDS[kind];
  return (
    <Field label={label}>
      <input
        type={type}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        autoComplete={autoComplete}
        autoFocus={autoFocus}
        required
      />
    </Field>
  );
}
