/** "Dr. Maya Lee is typing…", announced politely to screen readers. */
export function TypingIndicator({ label }: { label: string | null }) {
  return (
    <div className="typing-indicator" aria-live="polite" data-testid="typing-indicator">
      {label && (
        <>
          <span className="typing-dots" aria-hidden="true">
            <span />
            <span />
            <span />
          </span>
          {label}
        </>
      )}
    </div>
  );
}
