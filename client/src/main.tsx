import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { createApolloSession } from './apollo/createApolloSession';
import { App } from './App';
import { createAuthStore } from './session/authStore';
import './styles/app.css';

// The API is on the same origin (served by the same server, in development and production alike).
const httpUrl = new URL('/graphql', window.location.href).toString();
const wsUrl = httpUrl.replace(/^http/, 'ws');

const authStore = createAuthStore({
  createApolloSession: (token, signOut) => createApolloSession({ token, httpUrl, wsUrl, onUnauthenticated: signOut }),
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <BrowserRouter>
      <App authStore={authStore} httpUrl={httpUrl} />
    </BrowserRouter>
  </StrictMode>,
);
