import {
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

interface Stored {
  token: string;
  expiresAt: string;
  user: SessionUser;
}

export interface AuthStoreOptions {
  /** Where the token survives a reload. @default localStorage */
  storage?: Storage;
  /** Builds the Apollo session of a token; `signOut` is to be called when the server rejects the token. */
  createApolloSession(token: string, signOut: () => void): ApolloSession;
}

const KEY = 'derm-realtime.session';

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
 */
export function createAuthStore({ storage = window.localStorage, createApolloSession }: AuthStoreOptions) {
  let session: Session | null = null;
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;
  const listeners = new Set<() => void>();
  const emit = () => listeners.forEach((l) => l());
  const clearTimers = () => {
    clearTimeout(expiryTimer);
    clearTimeout(renewTimer);
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
    session = { ...stored, apollo: createApolloSession(stored.token, () => store.signOut({ onServer: false })) };
    schedule(stored.expiresAt);
  };

  /** Takes a newer token of this session (renewed here or in another tab). */
  const adopt = (stored: Stored) => {
    if (!session || stored.user.id !== session.user.id) return;
    session = { ...session, token: stored.token, expiresAt: stored.expiresAt };
    schedule(stored.expiresAt);
    void session.apollo.setToken(stored.token);
  };

  const renew = async () => {
    const current = session;
    if (!current) return;
    try {
      const { data } = await current.apollo.client.mutate({ mutation: RenewTokenDocument, fetchPolicy: 'no-cache' });
      if (session !== current || !data) return;
      const stored: Stored = { token: data.renewToken.token, expiresAt: data.renewToken.expiresAt, user: current.user };
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
    signIn(stored: Stored): void {
      if (session) void session.apollo.dispose();
      storage.setItem(KEY, JSON.stringify(stored));
      open(stored);
      emit();
    },
    /**
     * Signs out here (and, with `onServer`, which is what the user's own sign-out does, on the server: the session's
     * tokens are refused from then on; `everywhere`: every session of the user, on every device).
     */
    signOut({ onServer = true, everywhere = false }: { onServer?: boolean; everywhere?: boolean } = {}): void {
      storage.removeItem(KEY);
      clearTimers();
      if (!session) return;
      const ending = session;
      session = null;
      emit();
      const ended = onServer
        ? Promise.race([
            ending.apollo.client
              .mutate({ mutation: everywhere ? SignOutEverywhereDocument : SignOutDocument, fetchPolicy: 'no-cache' })
              .catch(() => {}),
            new Promise((resolve) => setTimeout(resolve, SIGN_OUT_WAIT_MS)),
          ])
        : Promise.resolve();
      void ended.then(() => ending.apollo.dispose());
    },
  };

  // Another tab renewed the token, signed in as someone else, or signed out.
  if (typeof window !== 'undefined') {
    window.addEventListener('storage', (event) => {
      if (event.key !== KEY && event.key !== null) return;
      const stored = readStored();
      if (!stored) store.signOut({ onServer: false });
      else if (session && stored.user.id === session.user.id) adopt(stored);
      else {
        if (session) void session.apollo.dispose();
        session = null;
        open(stored);
        emit();
      }
    });
  }

  function readStored(): Stored | null {
    try {
      const saved = storage.getItem(KEY);
      return saved ? (JSON.parse(saved) as Stored) : null;
    } catch {
      storage.removeItem(KEY);
      return null;
    }
  }

  const saved = readStored();
  if (saved) open(saved);
  return store;
}

export type AuthStore = ReturnType<typeof createAuthStore>;
