import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { createApolloSession } from './apollo/createApolloSession';
import { readTimingOverride } from './apollo/timing';
import { App } from './App';
import { createAuthStore } from './session/authStore';
import './styles/app.css';

// The API is on the same origin (served by the same server, in development and production alike).
const httpUrl = new URL('/graphql', window.location.href).toString();
const wsUrl = httpUrl.replace(/^http/, 'ws');

// Production timing unless this browser keeps its own (timing.ts: the browser tests shorten the waits).
const timing = readTimingOverride(window.localStorage);

const authStore = createAuthStore({
  createApolloSession: (token, signOut, lock) =>
    createApolloSession({ token, httpUrl, wsUrl, timing, onUnauthenticated: signOut, onIdle: lock }),
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <BrowserRouter>
      <App authStore={authStore} httpUrl={httpUrl} />
    </BrowserRouter>
  </StrictMode>,
);
