import type { ApolloClient } from '@apollo/client';
import { useApolloClient } from '@apollo/client/react';
import { useSyncExternalStore } from 'react';
import type { AppointmentStatus } from '../__generated__/graphql';
import type { AppointmentEvent } from './useAppointmentEvents';

/** One change to the schedule, as the live activity panel lists it. */
export interface Activity {
  /** The event's cursor: unique, and the same when an event is replayed. */
  key: string;
  appointmentId: string;
  kind: AppointmentEvent['kind'];
  /** When it happened. */
  at: string;
  patientName: string;
  providerName: string;
  startsAt: string;
  status: AppointmentStatus;
}

/** The newest changes first, at most this many. */
export const MAX_ACTIVITY = 30;

/**
 * What changed on the schedule since sign-in, whatever page was open: recorded by the app shell's appointment
 * subscriber, read by the schedule page (so leaving the schedule and coming back keeps the list). One per session.
 */
export class LiveActivityStore {
  private items: readonly Activity[] = [];
  private readonly listeners = new Set<() => void>();

  getSnapshot = (): readonly Activity[] => this.items;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  record(event: AppointmentEvent): void {
    const { appointment } = event;
    const item: Activity = {
      key: event.cursor,
      appointmentId: appointment.id,
      kind: event.kind,
      at: event.occurredAt,
      patientName: appointment.patient.displayName,
      providerName: appointment.provider.name,
      startsAt: appointment.startsAt,
      status: appointment.status,
    };
    this.items = [item, ...this.items.filter((a) => a.key !== item.key)].slice(0, MAX_ACTIVITY);
    for (const listener of [...this.listeners]) listener();
  }
}

const stores = new WeakMap<ApolloClient, LiveActivityStore>();

/** The session's store (one per Apollo client, so it ends with the session). */
export function liveActivityOf(client: ApolloClient): LiveActivityStore {
  let store = stores.get(client);
  if (!store) stores.set(client, (store = new LiveActivityStore()));
  return store;
}

/** The session's live activity, newest first. */
export function useLiveActivity(): readonly Activity[] {
  const store = liveActivityOf(useApolloClient());
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
