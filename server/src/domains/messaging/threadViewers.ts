import { randomUUID } from 'node:crypto';
import { requireViewer } from '../../auth/roles.js';
import type { Viewer } from '../../auth/tokens.js';
import type { Context } from '../../context.js';
import { EphemeralKey } from '../../realtime/keys.js';
import type { Realtime } from '../../realtime/service.js';

/**
 * Who has a thread open: a user with a live `messageAdded(threadId)` subscription is "viewing" that thread, and gets no
 * NEW_MESSAGE notification for it (they see the message arrive). An expiring set, never SQL (docs/architecture.md, invariant 3):
 * the instance holding the subscription renews its member, so the members of a crashed instance lapse by themselves.
 */
export const ThreadViewing = {
  /** A member lapses this long after its last renewal. */
  ttlMs: 30_000,
  /** How often a live subscription renews its member. */
  renewEveryMs: 10_000,
} as const;

/** Renewal timers of the live viewers of each instance, cleared at shutdown. */
const renewals = new WeakMap<Realtime, Set<NodeJS.Timeout>>();

function renewalsOf(realtime: Realtime): Set<NodeJS.Timeout> {
  let timers = renewals.get(realtime);
  if (!timers) {
    const created = new Set<NodeJS.Timeout>();
    renewals.set(realtime, created);
    realtime.onStop.push(() => {
      for (const timer of created) clearInterval(timer);
      created.clear();
    });
    timers = created;
  }
  return timers;
}

/**
 * Puts the signed-in user among the thread's viewers until the returned `leave` is called. One member per
 * subscription (`userId|uniqueId`), so a user with the thread open in two tabs stays a viewer until both close it.
 * A failing set (Redis away) is logged, not fatal: the user then merely gets notifications they could have been spared.
 */
export async function enterThread(ctx: Context, threadId: string): Promise<() => void> {
  const viewer = requireViewer(ctx.viewer);
  const { sets } = ctx.services.realtime;
  const key = EphemeralKey.threadViewers(viewer, threadId);
  const member = `${viewer.userId}|${randomUUID()}`;
  const touch = () =>
    sets
      .touch(key, member, ThreadViewing.ttlMs)
      .catch((err: Error) => ctx.log.warn({ err: { message: err.message } }, 'could not renew a thread viewer'));
  await touch();
  const timers = renewalsOf(ctx.services.realtime);
  const timer = setInterval(touch, ThreadViewing.renewEveryMs);
  timer.unref();
  timers.add(timer);
  let left = false;
  return () => {
    if (left) return;
    left = true;
    clearInterval(timer);
    timers.delete(timer);
    sets
      .remove(key, member)
      .catch((err: Error) => ctx.log.warn({ err: { message: err.message } }, 'could not remove a thread viewer'));
  };
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
