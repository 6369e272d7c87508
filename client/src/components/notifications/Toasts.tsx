import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useEffectEvent,
  useMemo,
  useState,
  type ReactNode,
} from 'react';
import { Link } from 'react-router';
import type { Priority } from '../../__generated__/graphql';

export interface Toast {
  id: string;
  title: string;
  body?: string;
  priority: Priority;
  /** Where "Open" leads. */
  href?: string;
}

/** How long a toast stays, by priority; urgent ones stay until dismissed. */
export const TOAST_MS: Record<Priority, number | null> = { LOW: 5_000, NORMAL: 8_000, HIGH: 12_000, URGENT: null };

const ToastContext = createContext<{ push(toast: Toast): void; dismiss(id: string): void } | null>(null);

export function useToasts() {
  const value = useContext(ToastContext);
  if (!value) throw new Error('useToasts must be used inside <ToastProvider>');
  return value;
}

function ToastCard({ toast, onDismiss }: { toast: Toast; onDismiss(): void }) {
  const [paused, setPaused] = useState(false);
  const ms = TOAST_MS[toast.priority];
  const expire = useEffectEvent(onDismiss);
  useEffect(() => {
    if (ms === null || paused) return;
    const timer = setTimeout(() => expire(), ms);
    return () => clearTimeout(timer);
  }, [ms, paused]);

  const urgent = toast.priority === 'URGENT' || toast.priority === 'HIGH';
  return (
    <div
      className={`toast toast-${toast.priority.toLowerCase()}`}
      role={urgent ? 'alert' : 'status'}
      onMouseEnter={() => setPaused(true)}
      onMouseLeave={() => setPaused(false)}
      onFocus={() => setPaused(true)}
      onBlur={() => setPaused(false)}
    >
      <div className="toast-content">
        <span className="toast-priority">
          {toast.priority === 'URGENT' ? 'Urgent' : toast.priority === 'HIGH' ? 'High priority' : 'Notification'}
        </span>
        <p className="toast-title">{toast.title}</p>
        {toast.body && <p className="toast-body">{toast.body}</p>}
        {toast.href && (
          <Link className="toast-link" to={toast.href} onClick={onDismiss}>
            Open
          </Link>
        )}
      </div>
      <button
        type="button"
        className="icon-button"
        aria-label={`Dismiss notification: ${toast.title}`}
        onClick={onDismiss}
      >
        ×
      </button>
    </div>
  );
}

/** Toasts, newest on top: urgent ones stay until dismissed, the others leave on their own (not while hovered). */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = useCallback((id: string) => setToasts((list) => list.filter((t) => t.id !== id)), []);
  const push = useCallback(
    (toast: Toast) => setToasts((list) => [toast, ...list.filter((t) => t.id !== toast.id)].slice(0, 6)),
    [],
  );
  const value = useMemo(() => ({ push, dismiss }), [push, dismiss]);
  return (
    <ToastContext.Provider value={value}>
      {children}
      <section className="toast-viewport" aria-label="Notifications">
        {toasts.map((toast) => (
          <ToastCard key={toast.id} toast={toast} onDismiss={() => dismiss(toast.id)} />
        ))}
      </section>
    </ToastContext.Provider>
  );
}
