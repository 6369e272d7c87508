/**
 * What falls due at a deadline: a connection's session at its token's expiry, a new socket at the end of its wait for
 * `connection_init` (http/graphqlWs.ts). An object, not a closure.
 */
export interface Due {
  due(): void;
}

/**
 * The deadlines of every connection of this instance (token expiries, `connection_init` waits) on one timer: while any
 * is pending, one interval ticks every `tickMs` and runs what fell due since the last tick, so a deadline runs at most
 * one tick late and never early. Holding thousands of connections costs no timer each (docs/architecture.md,
 * "Sessions").
 */
export class Deadlines {
  /** Pending deadlines by tick number (epoch ms / tickMs, rounded up). */
  private readonly due = new Map<number, Set<Due>>();
  private timer: NodeJS.Timeout | undefined;
  /** The last tick whose deadlines have run. */
  private ran = 0;

  constructor(private readonly tickMs = 1000) {}

  /** Pending deadlines (for tests and metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.due.values()) n += set.size;
    return n;
  }

  /**
   * Calls `target.due()` once the epoch-ms instant `at` has passed (at once if it has). Returns what `cancel` takes:
   * a number, so that a connection keeps no closure for its deadline (docs/architecture.md, "Per-connection cost").
   * A target has one deadline at a time: cancel the old one before setting another.
   */
  at(at: number, target: Due): number {
    if (at <= Date.now()) {
      target.due();
      return 0;
    }
    const tick = Math.ceil(at / this.tickMs);
    let set = this.due.get(tick);
    if (!set) this.due.set(tick, (set = new Set()));
    set.add(target);
    if (!this.timer) {
      this.ran = Math.floor(Date.now() / this.tickMs);
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
    return tick;
  }

  /** `target` will not fall due at the deadline `at` returned (nothing if it has run, or `tick` is 0). */
  cancel(tick: number, target: Due): void {
    const set = this.due.get(tick);
    if (set?.delete(target) && set.size === 0) this.due.delete(tick);
  }

  /** Stops the timer; what is pending never runs. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.due.clear();
  }

  private tick(): void {
    const now = Math.floor(Date.now() / this.tickMs);
    for (let tick = this.ran + 1; tick <= now; tick++) {
      const set = this.due.get(tick);
      if (!set) continue;
      this.due.delete(tick);
      for (const target of set) target.due();
    }
    this.ran = Math.max(this.ran, now);
    if (this.due.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
