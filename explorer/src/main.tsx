import './workers.js';
import 'graphiql/style.css';
import './explorer.css';
import { GraphiQL } from 'graphiql';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { DemoSignIn, type DemoSignInConfig } from './DemoSignIn.js';
import { createExplorerFetcher } from './fetcher.js';

interface ExplorerConfig {
  /** Demo accounts for one-click sign-in: null in production and without the demo clinics. */
  demo: DemoSignInConfig | null;
  /** Where GraphQL over Server-Sent Events is served. */
  eventStreamPath: string;
}

const DEFAULT_QUERY = `# derm-realtime explorer: GraphiQL served by this server, nothing loads from the internet.
#
# 1. Sign in: "Sign in as a demo user" (development), or put {"Authorization": "Bearer <token>"} in Headers below
#    (a staff token from the login mutation, or an integration client's from POST /oauth/token).
# 2. Run Schedule. Start AppointmentChanges (a subscription, over WebSocket), then run CheckIn in another tab
#    with an appointment id from Schedule: the event appears here.
# The Docs pane lists every field; @requiresScope says which scope an integration client needs.

# Today's schedule, today being your clinic's (me.tenant.today): pass schedule(date: "YYYY-MM-DD") for another day.
query Schedule {
  me { tenant { name timeZone today } }
  schedule { id startsAt status reason provider { name } patient { displayName } }
}

subscription AppointmentChanges {
  appointmentChanged { kind cursor appointment { id status startsAt } }
}

mutation CheckIn($id: ID!) {
  checkInAppointment(id: $id) { id status checkedInAt }
}
`;

async function start(): Promise<void> {
  const config = (await (await fetch('./config.json')).json()) as ExplorerConfig;
  // A link can carry an operation: /explorer/?query=...&variables=... (handy in docs and bug reports).
  const params = new URLSearchParams(window.location.search);
  const linked = params.get('query') ?? undefined;
  createRoot(document.getElementById('explorer')!).render(
    <StrictMode>
      <GraphiQL
        fetcher={createExplorerFetcher()}
        defaultQuery={DEFAULT_QUERY}
        // A linked operation opens in a tab of its own, beside the tabs kept from earlier visits.
        initialQuery={linked}
        initialVariables={linked ? (params.get('variables') ?? undefined) : undefined}
        defaultEditorToolsVisibility="headers"
        shouldPersistHeaders={false}
      >
        <GraphiQL.Logo>
          <span className="derm-title">derm-realtime</span>
          {config.demo && <DemoSignIn demo={config.demo} />}
        </GraphiQL.Logo>
      </GraphiQL>
    </StrictMode>,
  );
}

void start();
