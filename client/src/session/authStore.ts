import {
  MeDocument,
  RenewTokenDocument,
  SignOutDocument,
  SignOutEverywhereDocument,
  type SessionUserFragment,
} from '../__generated__/graphql';
import type { ApolloSession } from '../apollo/createApolloSession';

export type SessionUser = SessionUserFragment;

/** A signed-in user and the Apollo session that carries their token. */
export interface Session {
  token: string;
  expiresAt: string;
  user: SessionUser;
  apollo: ApolloSession;
}

/** A session locked for idleness: whose it was, for the lock screen (no token: it is over). */
export interface LockedSession {
  user: SessionUser;
  /** The email the user signed in with (absent from sessions stored before it was kept). */
  email?: string;
  idleTimeoutSeconds: number;
}

interface Stored {
  token: string;
  expiresAt: string;
  user: SessionUser;
  /** The email the user signed in with: the lock screen signs in again with it (staff may not read it anonymously). */
  email?: string;
  /** `SESSION_IDLE_TIMEOUT` as the server said at sign-in (absent from sessions stored before it did). */
  idleTimeoutSeconds?: number;
}

/** What storage holds: a session, or a locked one (every tab shows the lock screen). */
type StoredState = Stored | (LockedSession & { locked: true });

export interface AuthStoreOptions {
  /** Where the token survives a reload. @default localStorage */
  storage?: Storage;
  /**
   * Builds the Apollo session of a token; `signOut` is to be called when the server rejects the token, `lock` when it
   * ends the session for idleness.
   */
  createApolloSession(token: string, signOut: () => void, lock: () => void): ApolloSession;
  /** Where user input is listened for. @default window */
  activityTarget?: EventTarget;
  /** Overrides the server's idle timeout (tests). */
  idleTimeoutMs?: number;
}

const KEY = 'derm-realtime.session';
/** The last user input in any tab (epoch ms), shared through storage. */
export const ACTIVITY_KEY = 'derm-realtime.activity';
/** Input that counts as the user's activity (window focus too: coming back to a tab). */
const INPUT_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'focus'] as const;
/** Input is noted (and shared with the other tabs) at most this often. */
const INPUT_THROTTLE_MS = 1_000;
/** How often a signed-in tab checks whether the user has been away for the idle timeout. */
const IDLE_CHECK_MS = 1_000;
/** Used until the server has said (a session stored before it did). */
const DEFAULT_IDLE_TIMEOUT_S = 15 * 60;

/** The token is renewed this long before it expires (or half its remaining life, if that is shorter). */
export const RENEW_BEFORE_MS = 5 * 60_000;
/** A renewal that failed (the network, the server away) is tried again this much later, until the token expires. */
export const RENEW_RETRY_MS = 30_000;
/** Signing out waits this long at most for the server to end the session, then signs out here anyway. */
const SIGN_OUT_WAIT_MS = 3_000;

/**
 * Who is signed in, as an external store (`useSyncExternalStore`). The Apollo Client lives here, outside React state:
 * one per signed-in session, built at sign-in and disposed at sign-out, so no cached data outlives its user.
 *
 * A while before the token expires it is renewed (`renewToken`) and the live socket moved to the new one, so nothing
 * reconnects. Tabs share the token through storage: a renewal in one reaches the others, and signing out in one signs
 * out all of them. Signing out ends the session on the server too (its tokens are refused everywhere from then on).
 *
 * Automatic logoff: after the server's idle timeout (`idleTimeoutSeconds`) without input in any tab (the last input is
 * shared through storage), the session locks: it ends on the server, its Apollo session is disposed (no request, no
 * cached data left), and every tab shows the lock screen (`getLocked`) until the user signs in again. The server
 * ending the session for idleness (4403 `Session idle`, `SESSION_IDLE`) locks too. Input in a page that sends nothing
 * is reported to the server (a `Me` query) within a quarter of the timeout, so that the server never finds idle a
 * session the user is working in.
 */
export function createAuthStore({
  storage = window.localStorage,
  createApolloSession,
  activityTarget = typeof window !== 'undefined' ? window : undefined,
  idleTimeoutMs,
}: AuthStoreOptions) {
  let session: Session | null = null;
  let locked: LockedSession | null = null;
  let idleSeconds = DEFAULT_IDLE_TIMEOUT_S;
  let email: string | undefined;
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;
  let idleTimer: ReturnType<typeof setInterval> | undefined;
  /** This tab's last input, and the last input this tab reported to the server. */
  let lastInput = 0;
  let lastReported = 0;
  const listeners = new Set<() => void>();
  const emit = () => listeners.forEach((l) => l());
  const clearTimers = () => {
    clearTimeout(expiryTimer);
    clearTimeout(renewTimer);
    clearInterval(idleTimer);
  };
  const idleMs = () => idleTimeoutMs ?? idleSeconds * 1000;

  /** The user's last input in any tab. */
  const lastActivity = () => Math.max(lastInput, Number(storage.getItem(ACTIVITY_KEY)) || 0);
  const noteInput = () => {
    const now = Date.now();
    if (!session || now - lastInput < INPUT_THROTTLE_MS) return;
    lastInput = now;
    storage.setItem(ACTIVITY_KEY, String(now));
  };
  if (activityTarget)
    for (const type of INPUT_EVENTS) activityTarget.addEventListener(type, noteInput, { passive: true });

  /** Locks when the user has been away for the timeout; reports this tab's input the server has not seen. */
  const watchIdle = () => {
    clearInterval(idleTimer);
    idleTimer = setInterval(() => {
      const current = session;
      if (!current) return;
      const now = Date.now();
      if (now - lastActivity() >= idleMs()) {
        store.lock();
        return;
      }
      const reportEvery = Math.min(60_000, idleMs() / 4);
      if (lastInput > lastReported && now - lastReported >= reportEvery) {
        lastReported = now;
        void current.apollo.client.query({ query: MeDocument, fetchPolicy: 'network-only' }).catch(() => {});
      }
    }, IDLE_CHECK_MS);
  };

  /** Signs out when the token expires, and renews it before that. */
  const schedule = (expiresAt: string) => {
    clearTimers();
    const msLeft = Date.parse(expiresAt) - Date.now();
    expiryTimer = setTimeout(() => store.signOut({ onServer: false }), Math.min(msLeft, 2 ** 31 - 1));
    const renewIn = Math.max(0, msLeft - Math.min(RENEW_BEFORE_MS, msLeft / 2));
    renewTimer = setTimeout(() => void renew(), Math.min(renewIn, 2 ** 31 - 1));
  };

  const open = (stored: Stored) => {
    const msLeft = Date.parse(stored.expiresAt) - Date.now();
    if (!(msLeft > 0)) return;
    locked = null;
    idleSeconds = stored.idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_S;
    email = stored.email;
    session = {
      token: stored.token,
      expiresAt: stored.expiresAt,
      user: stored.user,
      apollo: createApolloSession(
        stored.token,
        // Refused because another tab locked (and ended) the session: lock here too, not sign out.
        () => (isLocked(readStored()) ? store.lock({ onServer: false }) : store.signOut({ onServer: false })),
        () => store.lock({ onServer: false }),
      ),
    };
    // A session reopened after the timeout (a reload, a laptop woken) locks at the first check.
    if (!storage.getItem(ACTIVITY_KEY)) storage.setItem(ACTIVITY_KEY, String(Date.now()));
    schedule(stored.expiresAt);
    watchIdle();
  };

  /** Takes a newer token of this session (renewed here or in another tab). */
  const adopt = (stored: Stored) => {
    if (!session || stored.user.id !== session.user.id) return;
    session = { ...session, token: stored.token, expiresAt: stored.expiresAt };
    if (stored.idleTimeoutSeconds) idleSeconds = stored.idleTimeoutSeconds;
    schedule(stored.expiresAt);
    void session.apollo.setToken(stored.token);
  };

  const renew = async () => {
    const current = session;
    if (!current) return;
    try {
      const { data } = await current.apollo.client.mutate({ mutation: RenewTokenDocument, fetchPolicy: 'no-cache' });
      if (session !== current || !data) return;
      const stored: Stored = {
        token: data.renewToken.token,
        expiresAt: data.renewToken.expiresAt,
        idleTimeoutSeconds: data.renewToken.idleTimeoutSeconds,
        user: current.user,
        email,
      };
      storage.setItem(KEY, JSON.stringify(stored));
      adopt(stored);
    } catch {
      // The server away or the network down: try again shortly (an UNAUTHENTICATED answer has signed out already).
      if (session === current) renewTimer = setTimeout(() => void renew(), RENEW_RETRY_MS);
    }
  };

  const store = {
    subscribe(listener: () => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getSnapshot: (): Session | null => session,
    /** The session locked for idleness, while the lock screen shows (null otherwise). */
    getLocked: (): LockedSession | null => locked,
    signIn(stored: Stored): void {
      if (session) void session.apollo.dispose();
      // Signing in is activity: the idle clock starts now, in every tab.
      lastInput = lastReported = Date.now();
      storage.setItem(ACTIVITY_KEY, String(lastInput));
      storage.setItem(KEY, JSON.stringify(stored));
      open(stored);
      emit();
    },
    /**
     * Locks for idleness, in every tab: the session ends (on the server too, with `onServer`: the user's own timer;
     * not when the server ended it) and the lock screen asks for the password.
     */
    lock({ onServer = true }: { onServer?: boolean } = {}): void {
      if (!session) return;
      const ending = session;
      const lockedNow: LockedSession = { user: ending.user, email, idleTimeoutSeconds: idleSeconds };
      storage.setItem(KEY, JSON.stringify({ ...lockedNow, locked: true } satisfies StoredState));
      end(ending, onServer ? SignOutDocument : null);
      locked = lockedNow;
      emit();
    },
    /**
     * Signs out here (and, with `onServer`, which is what the user's own sign-out does, on the server: the session's
     * tokens are refused from then on; `everywhere`: every session of the user, on every device).
     */
    signOut({ onServer = true, everywhere = false }: { onServer?: boolean; everywhere?: boolean } = {}): void {
      storage.removeItem(KEY);
      clearTimers();
      const wasLocked = locked !== null;
      locked = null;
      if (!session) {
        if (wasLocked) emit();
        return;
      }
      const ending = session;
      end(ending, onServer ? (everywhere ? SignOutEverywhereDocument : SignOutDocument) : null);
      emit();
    },
  };

  /** Lets go of a session here, after ending it on the server with `signOut` (waiting a little at most). */
  function end(ending: Session, signOut: typeof SignOutDocument | typeof SignOutEverywhereDocument | null): void {
    clearTimers();
    session = null;
    const ended = signOut
      ? Promise.race([
          ending.apollo.client.mutate({ mutation: signOut, fetchPolicy: 'no-cache' }).catch(() => {}),
          new Promise((resolve) => setTimeout(resolve, SIGN_OUT_WAIT_MS)),
        ])
      : Promise.resolve();
    void ended.then(() => ending.apollo.dispose());
  }

  // Another tab renewed the token, signed in as someone else, locked, or signed out.
  if (typeof window !== 'undefined') {
    window.addEventListener('storage', (event) => {
      if (event.key !== KEY && event.key !== null) return;
      const stored = readStored();
      if (!stored) store.signOut({ onServer: false });
      else if ('locked' in stored) {
        if (session) store.lock({ onServer: false });
      } else if (session && stored.user.id === session.user.id) adopt(stored);
      else {
        if (session) void session.apollo.dispose();
        session = null;
        open(stored);
        emit();
      }
    });
  }

  function isLocked(stored: StoredState | null): stored is LockedSession & { locked: true } {
    return stored !== null && 'locked' in stored;
  }

  function readStored(): StoredState | null {
    try {
      const saved = storage.getItem(KEY);
      return saved ? (JSON.parse(saved) as StoredState) : null;
    } catch {
      storage.removeItem(KEY);
      return null;
    }
  }

  const saved = readStored();
  // A reload keeps the lock: only the password opens it.
  if (saved && 'locked' in saved) {
    locked = { user: saved.user, email: saved.email, idleTimeoutSeconds: saved.idleTimeoutSeconds };
  } else if (saved) open(saved);
  return store;
}

export type AuthStore = ReturnType<typeof createAuthStore>;
