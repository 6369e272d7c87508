import { randomUUID } from 'node:crypto';
import { requireViewer } from '../../auth/roles.js';
import type { Viewer } from '../../auth/tokens.js';
import type { Context } from '../../context.js';
import { EphemeralKey } from '../../realtime/keys.js';
import { HeldMembers } from '../../realtime/heldMembers.js';
import type { Realtime } from '../../realtime/service.js';

/**
 * Who has a thread open: a user with a live `messageAdded(threadId)` subscription is "viewing" that thread, and gets no
 * NEW_MESSAGE notification for it (they see the message arrive). An expiring set, never SQL (docs/architecture.md, invariant 3):
 * the instance holding the subscription renews its member, so the members of a crashed instance lapse by themselves.
 */
export const ThreadViewing = {
  /** A member lapses this long after its last renewal. */
  ttlMs: 30_000,
  /** How often the instance renews the members of its live subscriptions (all at once). */
  renewEveryMs: 10_000,
} as const;

/** The thread viewers each instance holds, renewed together. */
const held = new WeakMap<Realtime, HeldMembers>();

function heldBy(ctx: Context): HeldMembers {
  const { realtime } = ctx.services;
  let members = held.get(realtime);
  if (!members) {
    const created = new HeldMembers(realtime.sets, ThreadViewing.ttlMs, ThreadViewing.renewEveryMs, ctx.services.log);
    held.set(realtime, created);
    realtime.onStop.push(() => created.stop());
    members = created;
  }
  return members;
}

/**
 * Puts the signed-in user among the thread's viewers until the returned `leave` is called. One member per
 * subscription (`userId|uniqueId`), so a user with the thread open in two tabs stays a viewer until both close it.
 * A failing set (Redis away) is logged, not fatal: the user then merely gets notifications they could have been spared.
 */
export async function enterThread(ctx: Context, threadId: string): Promise<() => void> {
  const viewer = requireViewer(ctx.viewer);
  return heldBy(ctx).hold(EphemeralKey.threadViewers(viewer, threadId), `${viewer.userId}|${randomUUID()}`);
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
