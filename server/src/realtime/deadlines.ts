/**
 * What falls due at a deadline: a connection's session at its token's expiry, a new socket at the end of its wait for
 * `connection_init` (http/graphqlWs.ts). An object, not a closure.
 */
export interface Due {
  due(): void;
}

/**
 * The deadlines of every connection of this instance (token expiries, `connection_init` waits) on one timer, armed for
 * the earliest pending tick only: it runs what fell due by then, so a deadline runs at most one tick late and never
 * early, deadlines of the same tick run in one wake-up, and an instance whose next deadline is an hour away sleeps for
 * an hour. Holding thousands of connections costs no timer each, and no wake-up a second either: on a virtual machine
 * each wake-up of an idle process costs ~0.1-0.2 ms of CPU (docs/architecture.md, "Sessions" and "CPU at rest").
 */
export class Deadlines {
  /** Pending deadlines by tick number (epoch ms / tickMs, rounded up). */
  private readonly due = new Map<number, Set<Due>>();
  private timer: NodeJS.Timeout | undefined;
  /** The tick the timer is armed for. */
  private armedFor = Infinity;

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
    if (tick < this.armedFor) this.arm(tick);
    return tick;
  }

  /**
   * `target` will not fall due at the deadline `at` returned (nothing if it has run, or `tick` is 0). The timer stays
   * armed: when it fires with nothing due, it arms for the next pending tick, if any.
   */
  cancel(tick: number, target: Due): void {
    const set = this.due.get(tick);
    if (set?.delete(target) && set.size === 0) this.due.delete(tick);
  }

  /** Stops the timer; what is pending never runs. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.due.clear();
  }

  private arm(tick: number): void {
    clearTimeout(this.timer);
    this.armedFor = tick;
    // setTimeout takes at most 2^31-1 ms (~24.8 days); a later deadline is re-armed for when that one fires.
    const delay = Math.min(Math.max(0, tick * this.tickMs - Date.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    // A timer may fire a little before the wall clock reaches its tick: what is not yet due waits for the next arm.
    const now = Math.floor(Date.now() / this.tickMs);
    const dueTicks: number[] = [];
    let next = Infinity;
    for (const tick of this.due.keys()) {
      if (tick <= now) dueTicks.push(tick);
      else next = Math.min(next, tick);
    }
    for (const tick of dueTicks.sort((a, b) => a - b)) {
      // A `due` before may have cancelled the rest of a later tick.
      const set = this.due.get(tick);
      if (!set) continue;
      this.due.delete(tick);
      for (const target of set) target.due();
    }
    // A `due` above may have added a deadline, and armed for it.
    if (next < this.armedFor) this.arm(next);
  }
}
