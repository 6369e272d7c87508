import { useApolloClient } from '@apollo/client/react';
import { useEffect, useMemo, useRef, useState } from 'react';
import { PatientViewersChangedDocument, PatientViewersDocument } from '../__generated__/graphql';
import { useSession } from '../session/SessionContext';
import { useLiveSubscription } from './useLiveSubscription';

export interface Viewer {
  id: string;
  name: string;
}

/**
 * Has this patient's chart open for the signed-in user: the `patientViewersChanged` subscription is the view (the
 * server counts us among the viewers while it lives, and takes us off the moment it ends or the connection closes),
 * so there is nothing to announce, renew or leave. Returns who has the chart open (`viewers`, including us) and
 * `others`, kept out of the Apollo cache.
 *
 * The list is read once on mount and after each reconnection (`patientViewers`), then follows the subscription. A
 * signal is newer than any answer still on its way, so an answer that arrives after a signal is dropped.
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
  /** Signals received so far: a read started before the last one is stale. */
  const signals = useRef(0);

  useEffect(() => {
    if (!patientId) return;
    let active = true;
    const read = () => {
      const at = signals.current;
      client.query({ query: PatientViewersDocument, variables: { patientId }, fetchPolicy: 'no-cache' }).then(
        ({ data }) => {
          if (active && data && signals.current === at)
            setViewers(data.patientViewers.map(({ id, name }) => ({ id, name })));
        },
        () => {},
      );
    };
    read();
    const offReconnected = session.apollo.connection.onReconnected(read);
    return () => {
      active = false;
      offReconnected();
    };
  }, [client, patientId, session.apollo.connection]);

  useLiveSubscription(PatientViewersChangedDocument, {
    variables: { patientId: patientId ?? '' },
    skip: !patientId,
    fetchPolicy: 'no-cache',
    onData: ({ patientViewersChanged }) => {
      signals.current += 1;
      setViewers(patientViewersChanged.viewers.map(({ id, name }) => ({ id, name })));
    },
  });

  const others = useMemo(() => viewers.filter((v) => v.id !== session.user.id), [viewers, session.user.id]);
  return { viewers, others };
}
