import { requireCaller } from '../../auth/roles.js';
import type { Context } from '../../context.js';
import type { ThreadRow } from '../../db/rows.js';
import { forbidden, notFound } from '../../errors.js';

/**
 * Whether the signed-in user takes part in the thread (batched through the read-state loader). An integration client
 * that reaches here holds a messages scope (the schema checked it), granted for the whole clinic.
 */
export async function viewerTakesPart(ctx: Context, threadId: string): Promise<boolean> {
  const viewer = requireCaller(ctx.viewer);
  if (viewer.kind === 'integration') return true;
  const states = await ctx.loaders.readStates.load(threadId);
  return states.some((s) => s.userId === viewer.userId);
}

/**
 * Only participants read or write a thread (messages are PHI). Another clinic's thread, or none, is NOT_FOUND;
 * a thread of one's own clinic that one is not in is FORBIDDEN.
 */
export async function requireThreadAccess(ctx: Context, threadId: string): Promise<ThreadRow> {
  // Both read at once (one round trip's wait): the read states of a thread that is not the clinic's are none.
  const [thread, takesPart] = await Promise.all([ctx.loaders.thread.load(threadId), viewerTakesPart(ctx, threadId)]);
  if (!thread) throw notFound('Thread');
  if (!takesPart) throw forbidden('You do not take part in this thread');
  return thread;
}
