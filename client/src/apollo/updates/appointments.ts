import type { ApolloCache, Reference } from '@apollo/client';
import type { FieldFunctionOptions } from '@apollo/client/cache';
import { localDate } from '../../lib/time';
import { rememberArrival } from './liveArrivals';
import { storeFieldArgs } from './storeFieldArgs';

type ReadField = FieldFunctionOptions['readField'];

/**
 * What placing an appointment needs to know about it (it must already be in the cache, as any event or result puts it).
 */
export interface PlacedAppointment {
  __typename?: 'Appointment';
  id: string;
  startsAt: string;
  provider: { id: string };
}

/** Which cached day lists an appointment belongs in: its day in the clinic's zone, and its provider. */
export interface ScheduleTag {
  day: string;
  providerId: string;
}

/** Whether a day list (the `schedule` field's arguments) is one the appointment tagged so belongs in. */
export function inScheduleList(args: Record<string, unknown>, tag: ScheduleTag): boolean {
  return args.date === tag.day && (!args.providerId || args.providerId === tag.providerId);
}

function byStart(refs: readonly Reference[], readField: ReadField): readonly Reference[] {
  const sorted = [...refs].sort((a, b) =>
    (readField<string>('startsAt', a) ?? '').localeCompare(readField<string>('startsAt', b) ?? ''),
  );
  return sorted.every((r, i) => r === refs[i]) ? refs : sorted;
}

/**
 * Puts an appointment in the cached day lists it belongs to and takes it out of the others: a booking joins its day,
 * a reschedule moves it (and keeps each day in start order), a move to another provider leaves that provider's list.
 * Status changes (cancelled, checked in) need nothing here: the normalized object changes in place. Idempotent, and
 * deduplicated by id, so a mutation's result and its own echo from the subscription can both be applied. Remembered
 * for a while with its day, for the day lists read before it that are still on their way (`keepLiveArrivals`).
 */
export function placeAppointment(cache: ApolloCache, appointment: PlacedAppointment, timeZone: string): void {
  const id = cache.identify({ __typename: 'Appointment', id: appointment.id });
  if (!id) return;
  const day = localDate(appointment.startsAt, timeZone);
  rememberArrival(cache, 'schedule', id, { day, providerId: appointment.provider.id } satisfies ScheduleTag);
  cache.modify<Record<string, unknown>>({
    id: 'ROOT_QUERY',
    fields: {
      schedule(existing, { storeFieldName, readField, toReference }) {
        const list = existing as readonly Reference[];
        const args = storeFieldArgs(storeFieldName);
        const belongs = inScheduleList(args, { day, providerId: appointment.provider.id });
        const present = list.some((ref) => readField<string>('id', ref) === appointment.id);
        if (belongs && !present) return byStart([...list, toReference(id)!], readField);
        if (!belongs && present) return list.filter((ref) => readField<string>('id', ref) !== appointment.id);
        return belongs ? byStart(list, readField) : list;
      },
    },
  });
}
