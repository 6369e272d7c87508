import { useApolloClient, useMutation } from '@apollo/client/react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  OnlineUsersDocument,
  PresenceChangedDocument,
  SetPresenceStatusDocument,
  type OnlineUsersQuery,
  type PresenceStatus,
} from '../__generated__/graphql';
import { useSession } from '../session/SessionContext';
import { useLiveSubscription } from './useLiveSubscription';

export type Presence = OnlineUsersQuery['onlineUsers'][number];

/**
 * graphql-ws does not acknowledge a subscription, so a change between a read and the moment the server registered our
 * stream would be lost for good (presence has no cursor). Each connection (the first and every one after a loss) is
 * followed by a read at once and more reads these many ms later, once the stream surely runs. They count from the
 * connection, not from the mount: on a loaded machine, a page's link may take longer to come up than a colleague's
 * page takes to come online.
 */
const SETTLE_MS = [1_500, 5_000];

/** Where the status this user chose is kept in this browser (per user), to set it again on every connection. */
export const CHOSEN_STATUS_KEY = 'derm-realtime.presence-status';

function apply(map: Map<string, Presence>, presence: Presence): Map<string, Presence> {
  const next = new Map(map);
  if (presence.status === 'OFFLINE') next.delete(presence.user.id);
  else next.set(presence.user.id, presence);
  return next;
}

/**
 * Who is online in the clinic, kept out of the Apollo cache: read, followed live, and read again after a reconnection
 * (presence is ephemeral; there is nothing to resume). Changes that arrive while a read is under way are applied again
 * on top of its answer. `onChange` sees each change as it arrives.
 */
export function usePresenceEvents({ onChange }: { onChange?(presence: Presence): void } = {}) {
  const client = useApolloClient();
  const [byUser, setByUser] = useState<Map<string, Presence>>(() => new Map());
  const [error, setError] = useState<unknown>(null);
  /** Changes received since the newest read was sent, and which read that is (an older answer is dropped). */
  const sinceRead = useRef<Presence[]>([]);
  const reads = useRef(0);

  const reread = useCallback(() => {
    const read = ++reads.current;
    sinceRead.current = [];
    client.query({ query: OnlineUsersDocument, fetchPolicy: 'no-cache' }).then(
      ({ data }) => {
        if (read !== reads.current || !data) return;
        let map = new Map(data.onlineUsers.map((p) => [p.user.id, p]));
        for (const change of sinceRead.current) map = apply(map, change);
        sinceRead.current = [];
        setByUser(map);
        setError(null);
      },
      (err: unknown) => {
        if (read === reads.current) setError(err);
      },
    );
  }, [client]);

  useLiveSubscription(PresenceChangedDocument, {
    fetchPolicy: 'no-cache',
    onData: ({ presence }) => {
      sinceRead.current.push(presence);
      setByUser((current) => apply(current, presence));
      onChange?.(presence);
    },
  });
  const [mutate] = useMutation(SetPresenceStatusDocument, { fetchPolicy: 'no-cache' });
  const { session } = useSession();
  const chosenKey = `${CHOSEN_STATUS_KEY}.${session.user.id}`;
  const setStatus = useCallback(
    async (status: PresenceStatus) => {
      window.localStorage.setItem(chosenKey, status);
      const result = await mutate({ variables: { status } });
      const presence = result.data?.setPresenceStatus;
      if (presence) setByUser((current) => apply(current, presence));
    },
    [mutate, chosenKey],
  );
  // On each connection (after a load or a reconnection alike): who is online is read again (SETTLE_MS), and a status
  // chosen here (Busy, Away) is set again, since the server starts every connection as ONLINE.
  const { connection } = session.apollo;
  useEffect(() => {
    const timers: ReturnType<typeof setTimeout>[] = [];
    const onConnection = () => {
      const chosen = window.localStorage.getItem(chosenKey);
      if (chosen === 'AWAY' || chosen === 'BUSY') void setStatus(chosen).catch(() => {});
      reread();
      timers.forEach(clearTimeout);
      timers.splice(0, timers.length, ...SETTLE_MS.map((ms) => setTimeout(reread, ms)));
    };
    let wasConnected = false;
    const onChange = () => {
      const isConnected = connection.getSnapshot().status === 'connected';
      if (isConnected && !wasConnected) onConnection();
      wasConnected = isConnected;
    };
    onChange();
    const unsubscribe = connection.subscribe(onChange);
    return () => {
      unsubscribe();
      timers.forEach(clearTimeout);
    };
  }, [connection, chosenKey, setStatus, reread]);

  const online = useMemo(() => [...byUser.values()].sort((a, b) => a.user.name.localeCompare(b.user.name)), [byUser]);
  return { online, byUser, setStatus, error };
}
