import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode } from 'react';
import { createPortal } from 'react-dom';

interface DialogProps {
  title: string;
  description?: ReactNode;
  onClose(): void;
  children: ReactNode;
  /** Footer buttons. */
  actions?: ReactNode;
  onSubmit?(): void;
  width?: number;
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog, drawn over the page in a layer of its own (a portal into <body>): labelled by its title; the page
 * behind is inert (no pointer, no focus, hidden from assistive technology) and Tab cycles within the dialog; Escape or
 * the backdrop closes it; focus moves into it on open and returns to what had it (the button that opened it) on close.
 */
export function Dialog({ title, description, onClose, children, actions, onSubmit, width = 480 }: DialogProps) {
  const titleId = useId();
  const descriptionId = useId();
  const panel = useRef<HTMLDivElement>(null);

  // Once per opening: a new onClose on every render of the parent must not move focus around.
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    const layer = panel.current?.closest<HTMLElement>('.dialog-layer');
    const behind = [...document.body.children].filter(
      (el): el is HTMLElement => el !== layer && el instanceof HTMLElement && !el.inert,
    );
    for (const el of behind) el.inert = true;
    const first = panel.current?.querySelector<HTMLElement>(
      'input:not([disabled]), select:not([disabled]), textarea:not([disabled]), button:not([data-close]):not([disabled])',
    );
    (first ?? panel.current)?.focus();
    return () => {
      for (const el of behind) el.inert = false;
      if (previous?.isConnected) previous.focus();
    };
  }, []);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      onClose();
      return;
    }
    if (e.key !== 'Tab' || !panel.current) return;
    const items = [...panel.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => !el.closest('[hidden]'));
    if (items.length === 0) return;
    const [first, last] = [items[0], items[items.length - 1]];
    const active = document.activeElement;
    if (e.shiftKey && (active === first || !panel.current.contains(active))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (active === last || !panel.current.contains(active))) {
      e.preventDefault();
      first.focus();
    }
  };

  const body = (
    <>
      <header className="dialog-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="icon-button" data-close aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {description && (
        <p id={descriptionId} className="dialog-description">
          {description}
        </p>
      )}
      <div className="dialog-body">{children}</div>
      {actions && <footer className="dialog-actions">{actions}</footer>}
    </>
  );

  return createPortal(
    <div className="dialog-layer">
      <div className="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
        <div
          ref={panel}
          className="dialog"
          role="dialog"
          aria-modal="true"
          aria-labelledby={titleId}
          aria-describedby={description ? descriptionId : undefined}
          style={{ maxWidth: width }}
          tabIndex={-1}
          onKeyDown={onKeyDown}
        >
          {onSubmit ? (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                onSubmit();
              }}
            >
              {body}
            </form>
          ) : (
            body
          )}
        </div>
      </div>
    </div>,
    document.body,
  );
}

/** The two buttons every form dialog ends with: leave without a change, or submit the form. */
export function DialogActions({
  submit,
  cancel = 'Cancel',
  disabled = false,
  onCancel,
}: {
  submit: ReactNode;
  cancel?: string;
  disabled?: boolean;
  onCancel(): void;
}) {
  return (
    <>
      <button type="button" className="button button-ghost" onClick={onCancel}>
        {cancel}
      </button>
      <button type="submit" className="button button-primary" disabled={disabled}>
        {submit}
      </button>
    </>
  );
}
