import type { SessionUserFragment } from '../__generated__/graphql';
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

/**
 * Who is signed in, as an external store (`useSyncExternalStore`). The Apollo Client lives here, outside React state:
 * one per signed-in session, built at sign-in and disposed at sign-out, so no cached data outlives its user.
 */
export function createAuthStore({ storage = window.localStorage, createApolloSession }: AuthStoreOptions) {
  let session: Session | null = null;
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  const listeners = new Set<() => void>();
  const emit = () => listeners.forEach((l) => l());

  const open = (stored: Stored) => {
    const msLeft = Date.parse(stored.expiresAt) - Date.now();
    if (!(msLeft > 0)) return;
    session = { ...stored, apollo: createApolloSession(stored.token, () => store.signOut()) };
    clearTimeout(expiryTimer);
    expiryTimer = setTimeout(() => store.signOut(), Math.min(msLeft, 2 ** 31 - 1));
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
    signOut(): void {
      storage.removeItem(KEY);
      clearTimeout(expiryTimer);
      if (!session) return;
      const ending = session;
      session = null;
      emit();
      void ending.apollo.dispose();
    },
  };

  try {
    const saved = storage.getItem(KEY);
    if (saved) open(JSON.parse(saved) as Stored);
  } catch {
    storage.removeItem(KEY);
  }
  return store;
}

export type AuthStore = ReturnType<typeof createAuthStore>;
