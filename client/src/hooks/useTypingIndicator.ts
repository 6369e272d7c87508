import { useMutation } from '@apollo/client/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { SetTypingDocument } from '../__generated__/graphql';
import { useCurrentUser } from '../session/SessionContext';
import { useMessageEvents } from './useMessageEvents';

/** Client-side pacing of our own signal (the server throttles too: one `true` per 2 s, lapsing after 6 s). */
export const TypingTiming = {
  /** While typing, a `true` is renewed at most this often. */
  renewMs: 2_500,
  /** This long without a keystroke means we stopped: a `false` goes out. */
  idleMs: 3_000,
  /** A `true` from someone else without `expiresAt` is hidden after this long. */
  fallbackTtlMs: 6_000,
} as const;

export interface Typist {
  id: string;
  name: string;
}

/** "Dr. Maya Lee is typing…", "A and B are typing…", "Several people are typing…", or null. */
export function typingLabel(typists: readonly Typist[]): string | null {
  if (typists.length === 0) return null;
  if (typists.length === 1) return `${typists[0].name} is typing…`;
  if (typists.length === 2) return `${typists[0].name} and ${typists[1].name} are typing…`;
  return 'Several people are typing…';
}

/**
 * Typing in one thread, both ways. `start()` is meant to be called on every keystroke: it sends `true` at most every
 * `renewMs`, and `false` after `idleMs` without keystrokes; `stop()` (on send, blur or leaving) sends `false` if we
 * were typing. `typists` are the others typing now, each hidden when they stop, send, or their signal lapses.
 * Nothing of this goes to the Apollo cache.
 */
export function useTypingIndicator(threadId: string | undefined) {
  const me = useCurrentUser();
  const [setTyping] = useMutation(SetTypingDocument, { fetchPolicy: 'no-cache' });
  const [typists, setTypists] = useState<Map<string, Typist & { until: number }>>(() => new Map());

  // --- others ---
  const [typistsOf, setTypistsOf] = useState(threadId);
  if (typistsOf !== threadId) {
    setTypistsOf(threadId);
    setTypists(new Map());
  }
  const forget = useCallback((userId: string) => {
    setTypists((current) => {
      if (!current.has(userId)) return current;
      const next = new Map(current);
      next.delete(userId);
      return next;
    });
  }, []);
  useMessageEvents({
    threadId,
    skip: !threadId,
    onTyping: (event) => {
      if (event.threadId !== threadId || event.user.id === me.id) return;
      if (!event.isTyping) return forget(event.user.id);
      const until = event.expiresAt ? Date.parse(event.expiresAt) : Date.now() + TypingTiming.fallbackTtlMs;
      setTypists((current) => new Map(current).set(event.user.id, { id: event.user.id, name: event.user.name, until }));
    },
    // Whoever just sent a message has stopped typing it.
    onNewMessage: (message) => forget(message.sender.id),
  });
  // Hide each signal when it lapses, whatever else happens.
  useEffect(() => {
    if (typists.size === 0) return;
    const next = Math.min(...[...typists.values()].map((t) => t.until));
    const timer = setTimeout(
      () => {
        const now = Date.now();
        setTypists((current) => new Map([...current].filter(([, t]) => t.until > now)));
      },
      Math.max(0, next - Date.now()) + 50,
    );
    return () => clearTimeout(timer);
  }, [typists]);

  // --- ours ---
  const ours = useRef({ typing: false, sentAt: 0, idle: undefined as ReturnType<typeof setTimeout> | undefined });
  const send = useCallback(
    (isTyping: boolean) => {
      if (!threadId) return;
      setTyping({ variables: { threadId, isTyping } }).catch(() => {});
    },
    [threadId, setTyping],
  );
  const stop = useCallback(() => {
    const state = ours.current;
    clearTimeout(state.idle);
    if (!state.typing) return;
    state.typing = false;
    send(false);
  }, [send]);
  const start = useCallback(() => {
    const state = ours.current;
    const now = Date.now();
    if (!state.typing || now - state.sentAt >= TypingTiming.renewMs) {
      state.typing = true;
      state.sentAt = now;
      send(true);
    }
    clearTimeout(state.idle);
    state.idle = setTimeout(stop, TypingTiming.idleMs);
  }, [send, stop]);
  // Leaving the thread (or the page) stops our signal.
  useEffect(() => stop, [stop]);

  const list = useMemo(() => [...typists.values()].map(({ id, name }) => ({ id, name })), [typists]);
  return { typists: list, label: typingLabel(list), start, stop };
}
