import { Field } from './Field';

interface CredentialFieldProps {
  value: string;
  onChange(value: string): void;
  /** The field that has the focus when its form appears. */
  autoFocus?: boolean;
}

/** The sign-in email, as password managers recognise it (the sign-in page, the lock screen). */
export function EmailField({ value, onChange, autoFocus }: CredentialFieldProps) {
  return (
    <Field label="Email">
      <input
        type="email"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        autoComplete="username"
        autoFocus={autoFocus}
        required
      />
    </Field>
  );
}

/** The current password (the sign-in page, the lock screen). */
export function PasswordField({ value, onChange, autoFocus }: CredentialFieldProps) {
  return (
    <Field label="Password">
      <input
        type="password"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        autoComplete="current-password"
        autoFocus={autoFocus}
        required
      />
    </Field>
  );
}
