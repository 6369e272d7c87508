import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { ApolloProvider } from '@apollo/client/react';
import { useSyncExternalStore } from 'react';
import { Navigate, Route, Routes } from 'react-router';
import { AppShell } from './components/AppShell';
import { DashboardPage } from './pages/DashboardPage';
import { AccountPage } from './pages/AccountPage';
import { AuditPage } from './pages/AuditPage';
import { ToastProvider } from './components/notifications/Toasts';
import { LoginPage } from './pages/LoginPage';
import { MessagesPage } from './pages/MessagesPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { NotificationsPage } from './pages/NotificationsPage';
import { PatientChartPage } from './pages/PatientChartPage';
import { PatientsPage } from './pages/PatientsPage';
import { SchedulePage } from './pages/SchedulePage';
import { StaffPage } from './pages/StaffPage';
import { TasksPage } from './pages/TasksPage';
import type { AuthStore } from './session/authStore';
import { LockScreen } from './session/LockScreen';
import { SessionProvider } from './session/SessionContext';

export function AppRoutes() {
  return (
    <Routes>
      <Route element={<AppShell />}>
        <Route index element={<Navigate to="/schedule" replace />} />
        <Route path="schedule" element={<SchedulePage />} />
        <Route path="messages" element={<MessagesPage />} />
        <Route path="messages/:threadId" element={<MessagesPage />} />
        <Route path="patients" element={<PatientsPage />} />
        <Route path="patients/:patientId" element={<PatientChartPage />} />
        <Route path="tasks" element={<TasksPage />} />
        <Route path="notifications" element={<NotificationsPage />} />
        <Route path="account" element={<AccountPage />} />
        <Route path="staff" element={<StaffPage />} />
        <Route path="dashboard" element={<DashboardPage />} />
        <Route path="audit" element={<AuditPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

/** A key per Apollo session: a new sign-in starts from a blank tree; a renewed token keeps the tree. */
const sessionKeys = new WeakMap<object, number>();
let sessionCount = 0;
function keyOf(apollo: object): number {
  let key = sessionKeys.get(apollo);
  if (key === undefined) sessionKeys.set(apollo, (key = ++sessionCount));
  return key;
}

/**
 * Signed out: the sign-in page, on an anonymous HTTP-only client. Locked for idleness: the lock screen, on the same
 * client (the URL stays, so unlocking comes back to the same page). Signed in: the app, on that session's client
 * (keyed by session, so a different user starts from a blank tree and cache).
 */
export function App({ authStore, httpUrl }: { authStore: AuthStore; httpUrl: string }) {
  const session = useSyncExternalStore(authStore.subscribe, authStore.getSnapshot);
  const locked = useSyncExternalStore(authStore.subscribe, authStore.getLocked);
  if (!session && locked) {
    return (
      <ApolloProvider client={anonymousClient(httpUrl)}>
        <LockScreen
          locked={locked}
          onSignedIn={authStore.signIn}
          onSwitchUser={() => authStore.signOut({ onServer: false })}
        />
      </ApolloProvider>
    );
  }
  if (!session) {
    return (
      <ApolloProvider client={anonymousClient(httpUrl)}>
        <LoginPage onSignedIn={authStore.signIn} />
      </ApolloProvider>
    );
  }
  return (
    <ApolloProvider client={session.apollo.client} key={keyOf(session.apollo)}>
      <SessionProvider session={session} signOut={authStore.signOut}>
        <ToastProvider>
          <AppRoutes />
        </ToastProvider>
      </SessionProvider>
    </ApolloProvider>
  );
}

/** One client without a session per API address (a page has one; the tests mount the app many times in a worker). */
const anonymous = new Map<string, ApolloClient>();
function anonymousClient(httpUrl: string): ApolloClient {
  let client = anonymous.get(httpUrl);
  if (!client) {
    client = new ApolloClient({ cache: new InMemoryCache(), link: new HttpLink({ uri: httpUrl }) });
    anonymous.set(httpUrl, client);
  }
  return client;
}
