/**
 * The key arguments of a cached root field, read from its store field name: `schedule:{"date":"2026-11-26"}` (fields
 * with `keyArgs`) or `schedule({"date":"2026-11-26"})` (fields without). Live events use them to find the cached lists
 * an object belongs to; a field cached without arguments gives `{}`.
 */
export function storeFieldArgs(storeFieldName: string): Record<string, unknown> {
  const start = storeFieldName.indexOf('{');
  if (start < 0) return {};
  const end = storeFieldName.lastIndexOf('}');
  try {
    return JSON.parse(storeFieldName.slice(start, end + 1)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
