import type { Logger } from '../logger.js';
import type { EphemeralSets, SetEntry } from './ephemeralSets.js';

/**
 * Members of expiring sets that this instance holds while something of its own lives (a thread-viewing subscription),
 * all renewed together on one timer (docs/architecture.md, invariant 3): no timer per holder, and a few round trips
 * per renewal whatever their number (`renewLive`). One that lapsed meanwhile (a stall, a Redis outage) is added back.
 * A crashed instance stops renewing, and its members lapse by themselves.
 */
export class HeldMembers {
  private readonly held = new Set<SetEntry>();
  private readonly timer: NodeJS.Timeout;
  private renewing = false;

  constructor(
    private readonly sets: EphemeralSets,
    private readonly ttlMs: number,
    renewEveryMs: number,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.renew(), renewEveryMs);
    this.timer.unref();
  }

  /** How many members this instance holds now. */
  get size(): number {
    return this.held.size;
  }

  /**
   * Adds the member and holds it until the returned `release` is called. A failing set (Redis away) is logged, not
   * thrown: the next renewal adds it.
   */
  async hold(key: string, member: string): Promise<() => void> {
    const entry: SetEntry = { key, member };
    this.held.add(entry);
    await this.touch(entry);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held.delete(entry);
      void this.remove(entry);
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async renew(): Promise<void> {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    try {
      const entries = [...this.held];
      const renewed = await this.sets.renewLive(entries, this.ttlMs);
      // Not live: lapsed, or never added (an outage). Added back if still held.
      await Promise.all(entries.filter((entry, i) => !renewed[i] && this.held.has(entry)).map((e) => this.touch(e)));
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'could not renew held members');
    } finally {
      this.renewing = false;
    }
  }

  private async touch(entry: SetEntry): Promise<void> {
    try {
      await this.sets.touch(entry.key, entry.member, this.ttlMs);
      // Released while it was being added: take it out again, or it would outlive its holder by a time to live.
      if (!this.held.has(entry)) await this.sets.remove(entry.key, entry.member);
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'could not add a held member');
    }
  }

  private async remove(entry: SetEntry): Promise<void> {
    try {
      await this.sets.remove(entry.key, entry.member);
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'could not remove a held member');
    }
  }
}
