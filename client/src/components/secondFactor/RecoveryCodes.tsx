import { useState } from 'react';

/**
 * The recovery codes of a second factor just turned on, shown this once (the server keeps only their hashes). The
 * user says they kept them before going on.
 */
export function RecoveryCodes({ codes, onDone, doneLabel }: { codes: string[]; onDone(): void; doneLabel: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <section className="recovery-codes" aria-labelledby="recovery-heading">
      <h2 id="recovery-heading">Your recovery codes</h2>
      <p>Each signs in once without your phone. Keep them somewhere safe now: they are not shown again.</p>
      <ul aria-label="Recovery codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <div className="recovery-actions">
        {typeof navigator !== 'undefined' && navigator.clipboard && (
          <button
            type="button"
            className="button"
            onClick={() => void navigator.clipboard.writeText(codes.join('\n')).then(() => setCopied(true))}
          >
            {copied ? 'Copied' : 'Copy codes'}
          </button>
        )}
        <button type="button" className="button button-primary" onClick={onDone}>
          {doneLabel}
        </button>
      </div>
    </section>
  );
}
