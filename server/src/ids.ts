import { randomUUID } from 'node:crypto';

/**
 * A random UUID for something a connection keeps for its whole life (its id, its dashboard entry's, an SSE stream's
 * request id). Node's `randomUUID` joins its text from 16 hex pairs and 4 dashes, and V8 keeps such a string as a rope
 * of 15 pieces (about 480 bytes) until something reads it as a whole; thousands of idle connections each kept theirs
 * (docs/architecture.md, "Per-connection cost"). Copied through a Buffer, the same 36 characters are one flat string.
 */
export function connectionId(): string {
  return Buffer.from(randomUUID(), 'latin1').toString('latin1');
}
