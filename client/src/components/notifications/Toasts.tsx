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
import { createPortal } from 'react-dom';
import { Link } from 'react-router';
import type { Priority } from '../../__generated__/graphql';

export interface Toast {
  id: string;
  title: string;
  body?: string;
  priority: Priority;
  /** Where "Open" leads. */
  href?: string;
  /**
   * Toasts of one group fold into one: the newest title, counted ("3 new messages"). For example every "New message"
   * of one thread.
   */
  group?: string;
  /** What a folded toast counts, in the plural ("new messages"). */
  groupNoun?: string;
}

interface ShownToast extends Toast {
  /** How many toasts folded into this one. */
  count: number;
}

/** How long a toast stays, by priority; urgent ones stay until dismissed. */
export const TOAST_MS: Record<Priority, number | null> = { LOW: 5_000, NORMAL: 8_000, HIGH: 12_000, URGENT: null };
/**
 * At most this many toasts that leave by themselves are shown; the oldest goes first. Urgent ones are never pushed out.
 */
export const MAX_PASSING_TOASTS = 3;

/**
 * The new list after `toast` arrives, newest first: a toast of the same id is replaced, one of the same group is
 * folded into it, urgent toasts are never evicted, and only the newest `MAX_PASSING_TOASTS` others are kept.
 */
export function addToast(list: readonly ShownToast[], toast: Toast): ShownToast[] {
  const folded = toast.group ? list.find((t) => t.group === toast.group) : undefined;
  const rest = list.filter((t) => t.id !== toast.id && t !== folded);
  const shown: ShownToast = {
    ...toast,
    count: (folded?.count ?? 0) + 1,
    // A folded group keeps the highest priority it had.
    priority: folded && rank(folded.priority) > rank(toast.priority) ? folded.priority : toast.priority,
  };
  let passing = 0;
  return [shown, ...rest].filter((t) => t.priority === 'URGENT' || ++passing <= MAX_PASSING_TOASTS);
}

const rank = (p: Priority) => ['LOW', 'NORMAL', 'HIGH', 'URGENT'].indexOf(p);

interface ToastContextValue {
  push(toast: Toast): void;
  dismiss(id: string): void;
}

const ToastContext = createContext<ToastContextValue | null>(null);
const HostContext = createContext<((host: HTMLElement | null) => void) | null>(null);

export function useToasts(): ToastContextValue {
  const value = useContext(ToastContext);
  if (!value) throw new Error('useToasts must be used inside <ToastProvider>');
  return value;
}

function ToastCard({ toast, onDismiss }: { toast: ShownToast; onDismiss(): void }) {
  const [paused, setPaused] = useState(false);
  const ms = TOAST_MS[toast.priority];
  const expire = useEffectEvent(onDismiss);
  // A toast folded again starts its time again.
  useEffect(() => {
    if (ms === null || paused) return;
    const timer = setTimeout(() => expire(), ms);
    return () => clearTimeout(timer);
  }, [ms, paused, toast.count]);

  const urgent = toast.priority === 'URGENT' || toast.priority === 'HIGH';
  return (
    <div
      className={`toast toast-${toast.priority.toLowerCase()}`}
      role={urgent ? 'alert' : 'status'}
      onMouseEnter={() => setPaused(true)}
      onMouseLeave={() => setPaused(false)}
      onFocus={() => setPaused(true)}
      onBlur={() => setPaused(false)}
      data-testid="toast"
    >
      <div className="toast-content">
        <span className="toast-priority">
          {toast.priority === 'URGENT' ? 'Urgent' : toast.priority === 'HIGH' ? 'High priority' : 'Notification'}
        </span>
        <p className="toast-title">{toast.title}</p>
        {toast.count > 1 && (
          <p className="toast-count">
            {toast.count} {toast.groupNoun ?? 'notifications'}
          </p>
        )}
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

/**
 * Toasts, newest first: urgent ones stay until dismissed whatever follows, the others leave on their own (not while
 * hovered or focused) and make room for newer ones. They are drawn in the place a `<ToastHost>` marks (the app
 * shell's tray, which takes its own room in the layout so that toasts never cover a control), or after the children
 * when there is none.
 */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<ShownToast[]>([]);
  const [host, setHost] = useState<HTMLElement | null>(null);
  const dismiss = useCallback((id: string) => setToasts((list) => list.filter((t) => t.id !== id)), []);
  const push = useCallback((toast: Toast) => setToasts((list) => addToast(list, toast)), []);
  const value = useMemo(() => ({ push, dismiss }), [push, dismiss]);
  const viewport = (
    <section className="toast-viewport" aria-label="Alerts and notifications" hidden={toasts.length === 0}>
      {toasts.map((toast) => (
        <ToastCard key={toast.id} toast={toast} onDismiss={() => dismiss(toast.id)} />
      ))}
    </section>
  );
  return (
    <ToastContext.Provider value={value}>
      <HostContext.Provider value={setHost}>{children}</HostContext.Provider>
      {host ? createPortal(viewport, host) : viewport}
    </ToastContext.Provider>
  );
}

/** Where the toasts are drawn: an element of the layout, so they take room rather than cover what is there. */
export function ToastHost({ className }: { className?: string }) {
  const register = useContext(HostContext);
  const ref = useCallback((element: HTMLDivElement | null) => register?.(element), [register]);
  return <div ref={ref} className={className} />;
}
