import { useState } from 'react';
import { errorMessage } from '../ui/errors';

interface ComposerProps {
  onSend(body: string): Promise<unknown>;
  /** Each keystroke (typing indicator). */
  onTyping(): void;
  /** Leaving the box or sending. */
  onStopTyping(): void;
}

/** Enter sends, Shift+Enter starts a new line. */
export function Composer({ onSend, onTyping, onStopTyping }: ComposerProps) {
  const [body, setBody] = useState('');
  const [error, setError] = useState<string | null>(null);

  const send = () => {
    const text = body.trim();
    if (!text) return;
    onStopTyping();
    setBody('');
    setError(null);
    onSend(text).catch((err: unknown) => {
      setBody(text);
      setError(errorMessage(err));
    });
  };

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      {error && (
        <p className="form-error" role="alert">
          Not sent: {error}
        </p>
      )}
      <div className="composer-row">
        <textarea
          aria-label="Message"
          placeholder="Write a message…"
          rows={1}
          value={body}
          maxLength={5000}
          onChange={(e) => {
            setBody(e.target.value);
            if (e.target.value) onTyping();
            else onStopTyping();
          }}
          onBlur={onStopTyping}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit" className="button button-primary" disabled={!body.trim()}>
          Send
        </button>
      </div>
    </form>
  );
}
