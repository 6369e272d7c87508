import type { Reference } from '@apollo/client';
import type { FieldFunctionOptions, FieldMergeFunction } from '@apollo/client/cache';

/** How long an object that arrived live is kept in the lists read from before it. */
const MEMORY_MS = 120_000;
/** At most this many are remembered per list field, the latest. */
const MEMORY_SIZE = 200;

/** Per cache and root field: the objects that arrived live lately (cache id, when it arrived), oldest first. */
const arrivals = new WeakMap<object, Map<string, Map<string, number>>>();

function remembered(cache: object, field: string, now: number): Map<string, number> {
  let fields = arrivals.get(cache);
  if (!fields) arrivals.set(cache, (fields = new Map()));
  let recent = fields.get(field);
  if (!recent) fields.set(field, (recent = new Map()));
  for (const [id, at] of recent) {
    if (at > now - MEMORY_MS && recent.size <= MEMORY_SIZE) break;
    recent.delete(id);
  }
  return recent;
}

/**
 * An object (its cache id) arrived live and joined the cached lists of the root field `field`, or would have, had they
 * been cached already: remembered for a while, for the lists read before it that are still on their way.
 */
export function rememberArrival(cache: object, field: string, id: string): void {
  const now = Date.now();
  const recent = remembered(cache, field, now);
  recent.delete(id);
  recent.set(id, now);
}

/**
 * The merge of a list read from the server, newest first by the time field `by` (an ISO instant): the list as read, and
 * the objects that arrived live in the last two minutes, belong in it (`belongs`, given the list's arguments) and are
 * not in it. A list read
 * before an object was created can land after the stream delivered it (a page's first read, when there is no cached
 * list yet for the object to join, or its `cache-and-network` re-read on a slow network); replacing the list would
 * then lose it from the page though its toast showed and the counts include it (docs/architecture.md, "Retention").
 */
export function keepLiveArrivals(
  field: string,
  belongs: (ref: Reference, args: Record<string, unknown>, options: FieldFunctionOptions) => boolean,
  by = 'createdAt',
): FieldMergeFunction<readonly Reference[], readonly Reference[]> {
  return (_existing, incoming, options) => {
    const { cache, readField } = options;
    if (!arrivals.get(cache)?.get(field)?.size) return incoming;
    const listed = new Set(incoming.map((ref) => ref.__ref));
    const at = (ref: Reference) => readField<string>(by, ref);
    const missing = [...remembered(cache, field, Date.now()).keys()]
      .filter((id) => !listed.has(id))
      .map((id): Reference => ({ __ref: id }))
      // Gone from the cache (cleared on sign-out), or no longer one of the list's (read, done).
      .filter((ref) => at(ref) !== undefined && belongs(ref, options.args ?? {}, options));
    if (missing.length === 0) return incoming;
    // Both newest first; an arrival goes before the listed ones it is newer than.
    const time = (ref: Reference) => Date.parse(at(ref) ?? '') || 0;
    missing.sort((a, b) => time(b) - time(a));
    const merged: Reference[] = [];
    let m = 0;
    for (const ref of incoming) {
      while (m < missing.length && time(missing[m]) > time(ref)) merged.push(missing[m++]);
      merged.push(ref);
    }
    return [...merged, ...missing.slice(m)];
  };
}
