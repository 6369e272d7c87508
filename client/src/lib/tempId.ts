/**
 * A temporary id for an optimistic object, replaced by the server's. Not `crypto.randomUUID()`: browsers offer it only
 * in secure contexts, and the app may be served over plain HTTP inside a clinic's network.
 */
export function optimisticId(): string {
  return `optimistic-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
