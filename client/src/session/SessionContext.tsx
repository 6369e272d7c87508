import { createContext, useContext, useMemo, type ReactNode } from 'react';
import type { Session } from './authStore';

/** `everywhere`: every session of the user, on every device, not only this browser's. */
type SignOut = (options?: { everywhere?: boolean }) => void;

interface SessionContextValue {
  session: Session;
  signOut: SignOut;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({
  session,
  signOut,
  children,
}: {
  session: Session;
  signOut: SignOut;
  children: ReactNode;
}) {
  const value = useMemo(() => ({ session, signOut }), [session, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession must be used inside <SessionProvider>');
  return value;
}

/** The signed-in user. */
export function useCurrentUser() {
  return useSession().session.user;
}
