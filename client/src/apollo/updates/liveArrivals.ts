import type { Reference } from '@apollo/client';
import type { FieldFunctionOptions, FieldMergeFunction } from '@apollo/client/cache';

/** How long an object that arrived live is kept in the lists read from before it. */
const MEMORY_MS = 120_000;
/** At most this many are remembered per list field, the latest. */
const MEMORY_SIZE = 200;

/** An object that arrived live: when, and which lists it belongs in where the object alone does not tell. */
interface Arrival {
  at: number;
  tag: unknown;
}

/** Per cache and root field: the objects that arrived live lately, by cache id, oldest first. */
const arrivals = new WeakMap<object, Map<string, Map<string, Arrival>>>();

function remembered(cache: object, field: string, now: number): Map<string, Arrival> {
  let fields = arrivals.get(cache);
  if (!fields) arrivals.set(cache, (fields = new Map()));
  let recent = fields.get(field);
  if (!recent) fields.set(field, (recent = new Map()));
  for (const [id, { at }] of recent) {
    if (at > now - MEMORY_MS && recent.size <= MEMORY_SIZE) break;
    recent.delete(id);
  }
  return recent;
}

/**
 * An object (its cache id) arrived live and joined the cached lists of the root field `field`, or would have, had they
 * been cached already: remembered for a while, for the lists read before it that are still on their way. `tag` is
 * what `keepLiveArrivals`' `belongs` is given with it (an appointment's clinic day: the cache does not know the zone).
 */
export function rememberArrival(cache: object, field: string, id: string, tag?: unknown): void {
  const now = Date.now();
  const recent = remembered(cache, field, now);
  recent.delete(id);
  recent.set(id, { at: now, tag });
  // The oldest goes when this one made them one too many.
  if (recent.size > MEMORY_SIZE) recent.delete(recent.keys().next().value!);
}

/** How a list is ordered: by a time field (an ISO instant), newest first unless `ascending`. */
export interface ListOrder {
  by: string;
  ascending?: boolean;
}

/**
 * The merge of a list read from the server: the list as read, and the objects that arrived live in the last two
 * minutes, belong in it (`belongs`, given the list's arguments and the arrival's tag) and are not in it, each put in
 * its place by `order`. A list read before an object was created can land after the stream delivered it (a page's
 * first read, when there is no cached list yet for the object to join, or its `cache-and-network` re-read on a slow
 * network); replacing the list would then lose it from the page though its toast showed and the counts include it
 * (docs/architecture.md, "Retention"). An arrival with a tag that such a list still holds but that belongs elsewhere
 * now (an appointment moved to another day) is taken out of it.
 */
export function keepLiveArrivals(
  field: string,
  belongs: (ref: Reference, args: Record<string, unknown>, options: FieldFunctionOptions, tag: unknown) => boolean,
  order: ListOrder = { by: 'createdAt' },
): FieldMergeFunction<readonly Reference[], readonly Reference[]> {
  return (_existing, incoming, options) => {
    const { cache, readField } = options;
    if (!arrivals.get(cache)?.get(field)?.size) return incoming;
    const args = options.args ?? {};
    const recent = remembered(cache, field, Date.now());
    const listed = new Set(incoming.map((ref) => ref.__ref));
    const at = (ref: Reference) => readField<string>(order.by, ref);
    const missing: Reference[] = [];
    const moved = new Set<string>();
    for (const [id, { tag }] of recent) {
      const ref: Reference = { __ref: id };
      if (listed.has(id)) {
        if (tag !== undefined && !belongs(ref, args, options, tag)) moved.add(id);
      } else if (at(ref) !== undefined && belongs(ref, args, options, tag)) missing.push(ref);
      // (Not listed and gone from the cache, as after sign-out: dropped.)
    }
    if (missing.length === 0 && moved.size === 0) return incoming;
    const kept = moved.size ? incoming.filter((ref) => !moved.has(ref.__ref)) : incoming;
    // Negative when a comes before b in the list's order.
    const time = (ref: Reference) => Date.parse(at(ref) ?? '') || 0;
    const compare = (a: Reference, b: Reference) => (order.ascending ? 1 : -1) * (time(a) - time(b));
    missing.sort(compare);
    const merged: Reference[] = [];
    let m = 0;
    for (const ref of kept) {
      while (m < missing.length && compare(missing[m], ref) < 0) merged.push(missing[m++]);
      merged.push(ref);
    }
    return [...merged, ...missing.slice(m)];
  };
}
