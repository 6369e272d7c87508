import { randomUUID } from 'node:crypto';
import { requireViewer } from '../../auth/roles.js';
import type { Viewer } from '../../auth/tokens.js';
import type { Context } from '../../context.js';
import { EphemeralKey } from '../../realtime/keys.js';

/**
 * Who has a thread open: a user with a live `messageAdded(threadId)` subscription is "viewing" that thread, and gets no
 * NEW_MESSAGE notification for it (they see the message arrive). An expiring set, never SQL (docs/architecture.md,
 * invariant 3): the instance holding the subscription renews its member with everything else it holds
 * (`Realtime.held`), so the members of a crashed instance lapse by themselves, after VIEWING_TTL.
 *
 * Puts the signed-in user among the thread's viewers until the returned `leave` is called. One member per
 * subscription (`userId|uniqueId`), so a user with the thread open in two tabs stays a viewer until both close it.
 * A failing set (Redis away) is logged, not fatal: the user then merely gets notifications they could have been spared.
 */
export async function enterThread(ctx: Context, threadId: string): Promise<() => void> {
  const viewer = requireViewer(ctx.viewer);
  const { realtime, config } = ctx.services;
  return realtime.held.hold({
    key: EphemeralKey.threadViewers(viewer, threadId),
    member: `${viewer.userId}|${randomUUID()}`,
    ttlMs: config.viewingTtlSeconds * 1000,
  });
}

/** The users viewing a thread now, over all instances. */
export async function threadViewerIds(
  ctx: Context,
  scope: Pick<Viewer, 'tenantId'>,
  threadId: string,
): Promise<Set<string>> {
  const members = await ctx.services.realtime.sets.members(EphemeralKey.threadViewers(scope, threadId));
  return new Set(members.map((member) => member.slice(0, member.indexOf('|'))));
}
