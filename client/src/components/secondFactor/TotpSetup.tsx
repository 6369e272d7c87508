import { QRCodeSVG } from 'qrcode.react';

/** What an authenticator app needs (server: `TotpEnrolment`). */
export interface TotpEnrolment {
  secret: string;
  otpauthUri: string;
}

/** "JBSWY3DP EHPK3PXP …": the secret in groups of four, easier to type into an app by hand. */
function grouped(secret: string): string {
  return secret.match(/.{1,4}/g)?.join(' ') ?? secret;
}

/**
 * A TOTP secret to add to an authenticator app: the otpauth URI as a QR code to scan, and the secret as text for an
 * app on the same device (or one that cannot scan).
 */
export function TotpSetup({ enrolment }: { enrolment: TotpEnrolment }) {
  return (
    <div className="totp-setup">
      <p>Scan this code with an authenticator app (Google Authenticator, Microsoft Authenticator, 1Password…).</p>
      <div className="totp-qr">
        <QRCodeSVG value={enrolment.otpauthUri} size={176} marginSize={2} title="QR code of the authenticator secret" />
      </div>
      <p>
        Or enter this key by hand: <code className="totp-secret">{grouped(enrolment.secret)}</code>
      </p>
    </div>
  );
}
