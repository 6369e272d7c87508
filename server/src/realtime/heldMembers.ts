import type { Logger } from '../logger.js';
import type { EphemeralSets, SetChange, SetEntry } from './ephemeralSets.js';

/** A member held in an expiring set for as long as its holder lives. */
export interface Hold extends SetEntry {
  /**
   * How long the member lives past its last renewal. At least three of the instance's heartbeats (a third of the
   * shortest configured time to live: PRESENCE_TTL, VIEWING_TTL), so one late renewal does not let it lapse.
   */
  ttlMs: number;
  /**
   * Told of each change this hold made to its set, with the live members just after it, read in the same atomic step:
   * the member added (on `hold`, or added back by a renewal after it lapsed or could not be added), or removed (on
   * release, when it was there). Chart viewers announce the set's users here; thread viewers need nothing.
   */
  onChange?: (change: SetChange, added: boolean) => void | Promise<void>;
}

/**
 * Members of expiring sets that this instance holds while something of its own lives (a viewing subscription), all
 * renewed together by the instance's heartbeat (`Realtime.onHeartbeat`, docs/architecture.md, invariant 3): no timer
 * per holder nor per feature, and a few round trips per renewal whatever their number (`renewLive`). One that lapsed
 * meanwhile (a stall, a Redis outage) is added back. A crashed instance stops renewing, and its members lapse by
 * themselves. One per instance: `Realtime.held`.
 */
export class HeldMembers {
  private readonly held = new Set<Hold>();
  private renewing = false;

  constructor(
    private readonly sets: EphemeralSets,
    private readonly log: Logger,
  ) {}

  /** How many members this instance holds now. */
  get size(): number {
    return this.held.size;
  }

  /**
   * Adds the member and holds it until the returned `release` is called. A failing set (Redis away) is logged, not
   * thrown: the next renewal adds it.
   */
  async hold(hold: Hold): Promise<() => void> {
    const entry: Hold = { ...hold };
    this.held.add(entry);
    await this.add(entry);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held.delete(entry);
      void this.remove(entry);
    };
  }

  /**
   * Renews every held member (one `renewLive` per time to live among them); one that is not live any more is added
   * back if still held. Run by the instance's heartbeat; a renewal still running when the next is due is not doubled.
   */
  async renew(): Promise<void> {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    try {
      const byTtl = new Map<number, Hold[]>();
      for (const entry of this.held) {
        const same = byTtl.get(entry.ttlMs);
        if (same) same.push(entry);
        else byTtl.set(entry.ttlMs, [entry]);
      }
      await Promise.all(
        [...byTtl].map(async ([ttlMs, entries]) => {
          const renewed = await this.sets.renewLive(entries, ttlMs);
          // Not live: lapsed, or never added (an outage). Added back if still held.
          await Promise.all(entries.filter((entry, i) => !renewed[i] && this.held.has(entry)).map((e) => this.add(e)));
        }),
      );
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'could not renew held members');
    } finally {
      this.renewing = false;
    }
  }

  private async add(entry: Hold): Promise<void> {
    try {
      const change = await this.sets.touchAndList(entry.key, entry.member, entry.ttlMs);
      // Released while it was being added: take it out again, or it would outlive its holder by a time to live. Its
      // release tells of the removal; this addition, already undone, is not told.
      if (!this.held.has(entry)) return await this.remove(entry);
      await entry.onChange?.(change, true);
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'could not add a held member');
    }
  }

  private async remove(entry: Hold): Promise<void> {
    try {
      const change = await this.sets.removeAndList(entry.key, entry.member);
      if (change.wasStored) await entry.onChange?.(change, false);
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message } }, 'could not remove a held member');
    }
  }
}
