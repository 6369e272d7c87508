import type { ApolloClient } from '@apollo/client';
import { useApolloClient } from '@apollo/client/react';
import { useEffect, useMemo, useState } from 'react';
import { LeavePatientDocument, PatientViewersChangedDocument, ViewPatientDocument } from '../__generated__/graphql';
import { useSession } from '../session/SessionContext';
import { useLiveSubscription } from './useLiveSubscription';

/** An announcement lapses after 30 s on the server; renewing every 20 s keeps it alive with room for a slow request. */
export const VIEWING_RENEW_MS = 20_000;

export interface Viewer {
  id: string;
  name: string;
}

/**
 * Announcements and leaves go out one after the other per client: under StrictMode (view, leave, view) or a quick
 * patient switch, a leave must not overtake the view that follows it.
 */
const queues = new WeakMap<ApolloClient, Promise<unknown>>();
function inOrder<T>(client: ApolloClient, task: () => Promise<T>): Promise<T> {
  const run = (queues.get(client) ?? Promise.resolve()).then(task, task);
  queues.set(
    client,
    run.catch(() => {}),
  );
  return run;
}

/**
 * Says that the signed-in user has this patient's chart open: announces it on mount, renews it every 20 s and after a
 * reconnection, and leaves on unmount. Returns who has the chart open (`viewers`, including us) and `others`, kept
 * from the live stream of viewers and out of the Apollo cache.
 */
export function usePatientViewing(patientId: string | undefined): { viewers: Viewer[]; others: Viewer[] } {
  const client = useApolloClient();
  const { session } = useSession();
  const [viewers, setViewers] = useState<Viewer[]>([]);
  const [viewersOf, setViewersOf] = useState(patientId);
  if (viewersOf !== patientId) {
    setViewersOf(patientId);
    setViewers([]);
  }

  useEffect(() => {
    if (!patientId) return;
    let active = true;
    const announce = () => {
      inOrder(client, () =>
        client.mutate({ mutation: ViewPatientDocument, variables: { patientId }, fetchPolicy: 'no-cache' }),
      ).then(
        ({ data }) => {
          if (active && data) setViewers(data.viewPatient.map(({ id, name }) => ({ id, name })));
        },
        () => {},
      );
    };
    announce();
    const renew = setInterval(announce, VIEWING_RENEW_MS);
    const offReconnected = session.apollo.connection.onReconnected(announce);
    return () => {
      active = false;
      clearInterval(renew);
      offReconnected();
      void inOrder(client, () =>
        client.mutate({ mutation: LeavePatientDocument, variables: { patientId }, fetchPolicy: 'no-cache' }),
      ).catch(() => {});
    };
  }, [client, patientId, session.apollo.connection]);

  useLiveSubscription(PatientViewersChangedDocument, {
    variables: { patientId: patientId ?? '' },
    skip: !patientId,
    fetchPolicy: 'no-cache',
    onData: ({ patientViewersChanged }) =>
      setViewers(patientViewersChanged.viewers.map(({ id, name }) => ({ id, name }))),
  });

  const others = useMemo(() => viewers.filter((v) => v.id !== session.user.id), [viewers, session.user.id]);
  return { viewers, others };
}
