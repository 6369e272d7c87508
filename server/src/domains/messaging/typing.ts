import { requireViewer } from '../../auth/roles.js';
// Presence, chart viewing and typing concern signed-in staff only.
import type { UserViewer as Viewer } from '../../auth/tokens.js';
import type { Context } from '../../context.js';
import { badInput } from '../../errors.js';
import { tenantChannel, type TypingSignal } from '../../events/channels.js';
import type { Logger } from '../../logger.js';
import type { Realtime } from '../../realtime/service.js';
import { requireThreadAccess } from './access.js';

/**
 * Typing signals are ephemeral (docs/architecture.md, invariant 3): published on the tenant's typing channel, never
 * stored. A `true` lapses `TYPING_TTL` after it was sent unless renewed (its `expiresAt` says so to clients too), and
 * at most one `true` per user and thread reaches pub/sub per third of that (2 s by default): well inside the lapse, so
 * a renewing typist never flickers.
 */
export function typingTiming(ttlSeconds: number): { ttlMs: number; throttleMs: number } {
  return { ttlMs: ttlSeconds * 1000, throttleMs: Math.round((ttlSeconds * 1000) / 3) };
}

interface Typist {
  viewer: Pick<Viewer, 'tenantId' | 'userId'>;
  threadId: string;
  /** When the last `true` went out. */
  sentAt: number;
  typing: boolean;
  /** While typing: emits the lapse. After a stop: forgets the entry when its throttle window has passed. */
  timer: NodeJS.Timeout;
}

/**
 * The typing state of the users whose signals this instance received: the throttle, and a lapse timer per user and
 * thread so that this instance says `isTyping: false` when a `true` it passed on was not renewed.
 */
class TypingSignals {
  private readonly typists = new Map<string, Typist>();

  private readonly ttlMs: number;
  private readonly throttleMs: number;

  constructor(
    private readonly realtime: Realtime,
    private readonly log: Logger,
    ttlSeconds: number,
  ) {
    ({ ttlMs: this.ttlMs, throttleMs: this.throttleMs } = typingTiming(ttlSeconds));
  }

  /** Passes a `true` on unless one went out for this user and thread within the throttle window. */
  async start(viewer: Viewer, threadId: string): Promise<boolean> {
    const key = `${viewer.tenantId}:${threadId}:${viewer.userId}`;
    const now = Date.now();
    const current = this.typists.get(key);
    if (current && now - current.sentAt < this.throttleMs) return false;
    if (current) clearTimeout(current.timer);
    const typist: Typist = {
      viewer,
      threadId,
      sentAt: now,
      typing: true,
      timer: this.timer(() => this.lapse(key, typist), this.ttlMs),
    };
    this.typists.set(key, typist);
    return this.publish(typist, true, new Date(now + this.ttlMs).toISOString());
  }

  /**
   * Passes a `false` on only if the user was typing. The entry stays until the throttle window of the last `true`
   * has passed, so that alternating true/false calls cannot get round the throttle.
   */
  async stop(viewer: Pick<Viewer, 'tenantId' | 'userId'>, threadId: string): Promise<boolean> {
    const key = `${viewer.tenantId}:${threadId}:${viewer.userId}`;
    const typist = this.typists.get(key);
    if (!typist?.typing) return false;
    clearTimeout(typist.timer);
    typist.typing = false;
    typist.timer = this.timer(
      () => this.forget(key, typist),
      Math.max(0, typist.sentAt + this.throttleMs - Date.now()),
    );
    return this.publish(typist, false, null);
  }

  /** At shutdown: no timer outlives the instance, and whoever was typing here is said to have stopped. */
  async close(): Promise<void> {
    const typing = [...this.typists.values()];
    this.typists.clear();
    for (const typist of typing) clearTimeout(typist.timer);
    await Promise.allSettled(typing.filter((t) => t.typing).map((t) => this.publish(t, false, null)));
  }

  private lapse(key: string, typist: Typist): void {
    if (this.typists.get(key) !== typist) return;
    this.typists.delete(key);
    void this.publish(typist, false, null);
  }

  private forget(key: string, typist: Typist): void {
    if (this.typists.get(key) === typist) this.typists.delete(key);
  }

  private timer(run: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(run, ms);
    timer.unref();
    return timer;
  }

  private async publish(typist: Typist, isTyping: boolean, expiresAt: string | null): Promise<boolean> {
    const signal: TypingSignal = { threadId: typist.threadId, userId: typist.viewer.userId, isTyping, expiresAt };
    try {
      await this.realtime.hub.publish(tenantChannel(typist.viewer, 'typing'), signal);
      return true;
    } catch (err) {
      // Nothing to retry: the signal is stale within seconds, and clients expire a `true` by its expiresAt.
      this.log.warn({ err: { message: (err as Error).message } }, 'could not publish a typing signal');
      return false;
    }
  }
}

const instances = new WeakMap<Realtime, TypingSignals>();

function typingSignals(ctx: Context): TypingSignals {
  const { realtime, log, config } = ctx.services;
  let signals = instances.get(realtime);
  if (!signals) {
    const created = new TypingSignals(realtime, log, config.typingTtlSeconds);
    instances.set(realtime, created);
    realtime.onStop.push(() => created.close());
    signals = created;
  }
  return signals;
}

/** `setTyping`: participants only; returns whether a signal went out. */
export async function setTyping(
  ctx: Context,
  threadId: string,
  isTyping: boolean | null | undefined,
): Promise<boolean> {
  const viewer = requireViewer(ctx.viewer);
  if (isTyping === null) throw badInput('isTyping must be true or false', 'isTyping');
  const thread = await requireThreadAccess(ctx, threadId);
  const signals = typingSignals(ctx);
  return isTyping === false ? signals.stop(viewer, thread.id) : signals.start(viewer, thread.id);
}

/** The user sent a message in the thread: they are no longer typing there. */
export async function stopTyping(ctx: Context, threadId: string): Promise<void> {
  await typingSignals(ctx).stop(requireViewer(ctx.viewer), threadId);
}
