/**
 * The deadlines of every connection of this instance (token expiries) on one timer: while any is pending, one
 * interval ticks every `tickMs` and runs what fell due since the last tick, so a deadline runs at most one tick late
 * and never early. Holding thousands of connections costs no timer each (docs/architecture.md, "Sessions").
 */
export class Deadlines {
  /** Pending deadlines by tick number (epoch ms / tickMs, rounded up). */
  private readonly due = new Map<number, Set<() => void>>();
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

  /** Runs `run` once the epoch-ms instant `at` has passed (at once if it has). Returns how to cancel it. */
  at(at: number, run: () => void): () => void {
    if (at <= Date.now()) {
      run();
      return () => {};
    }
    const tick = Math.ceil(at / this.tickMs);
    let set = this.due.get(tick);
    if (!set) this.due.set(tick, (set = new Set()));
    // An entry of its own: the same function may be registered twice.
    const entry = () => run();
    set.add(entry);
    if (!this.timer) {
      this.ran = Math.floor(Date.now() / this.tickMs);
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
    return () => {
      if (set.delete(entry) && set.size === 0 && this.due.get(tick) === set) this.due.delete(tick);
    };
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
      for (const run of set) run();
    }
    this.ran = Math.max(this.ran, now);
    if (this.due.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
