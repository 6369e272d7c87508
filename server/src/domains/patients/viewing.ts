// Presence, chart viewing and typing concern signed-in staff only.
import { randomUUID } from 'node:crypto';
import type { UserViewer as Viewer } from '../../auth/tokens.js';
import type { Config } from '../../config.js';
import { tenantChannel, type ViewingSignal } from '../../events/channels.js';
import type { SetChange } from '../../realtime/ephemeralSets.js';
import { EphemeralKey, parseEphemeralKey } from '../../realtime/keys.js';
import type { LapsedMember, Realtime } from '../../realtime/service.js';

type Scope = Pick<Viewer, 'tenantId' | 'userId'>;

/** The user a member of a chart's set stands for: `userId|subscriptionId` (held) or `userId` (announced). */
const userOf = (member: string): string => {
  const bar = member.indexOf('|');
  return bar === -1 ? member : member.slice(0, bar);
};

/** The distinct users among a chart's members. */
const usersOf = (members: readonly string[]): string[] => [...new Set(members.map(userOf))];

/**
 * Who has a patient's chart open (docs/architecture.md, invariant 3): the tenant's expiring set per patient. A staff
 * member is a viewer while a `patientViewersChanged(patientId)` subscription of theirs lives: one member
 * `userId|subscriptionId` per subscription, held by the instance that serves it (`Realtime.held`, renewed by its
 * heartbeat, removed the moment the subscription or its socket closes), so two tabs keep the user a viewer until both
 * close. The deprecated `viewPatient` adds a member `userId`, renewed by the client's calls. The viewers are the
 * distinct users of both kinds.
 *
 * When a user appears among the viewers or disappears, the whole list is published (ids only: nothing about the
 * patient transits pub/sub), so a subscriber that missed one signal is right again at the next. Whether the user
 * appeared or disappeared is read from the members in the same atomic step as the change, so of two tabs (or two
 * instances) racing, exactly one announces it.
 */
export class ViewingService {
  private readonly ttlMs: number;

  constructor(
    private readonly realtime: Realtime,
    config: Pick<Config, 'viewingTtlSeconds'>,
  ) {
    this.ttlMs = config.viewingTtlSeconds * 1000;
    realtime.onLapsed.push((lapsed) => this.lapsed(lapsed));
  }

  /**
   * Makes the user a viewer of the chart until the returned `leave` is called (when their subscription ends). A failing
   * set (Redis away) is not fatal: the heartbeat adds the member once it can, and announces it then.
   */
  hold(scope: Scope, patientId: string): Promise<() => void> {
    return this.realtime.held.hold({
      key: EphemeralKey.viewing(scope, patientId),
      member: `${scope.userId}|${randomUUID()}`,
      ttlMs: this.ttlMs,
      onChange: (change, added) => this.changed(scope, patientId, change, added),
    });
  }

  /**
   * Opens (or renews) the user's view of the chart (deprecated `viewPatient`); returns the ids of the other viewers.
   */
  async view(scope: Scope, patientId: string): Promise<string[]> {
    const change = await this.realtime.sets.touchAndList(
      EphemeralKey.viewing(scope, patientId),
      scope.userId,
      this.ttlMs,
    );
    // Renewing is not a change.
    if (!change.wasLive) await this.changed(scope, patientId, change, true);
    return usersOf(change.members).filter((id) => id !== scope.userId);
  }

  /** Closes the user's announced view of the chart (deprecated `leavePatient`); true when it was open. */
  async leave(scope: Scope, patientId: string): Promise<boolean> {
    const change = await this.realtime.sets.removeAndList(EphemeralKey.viewing(scope, patientId), scope.userId);
    // Also when it had lapsed unswept: that lapse will not be reported now, and was never announced.
    if (change.wasStored) await this.changed(scope, patientId, change, false);
    return change.wasLive;
  }

  async viewers(tenantId: string, patientId: string): Promise<string[]> {
    return usersOf(await this.realtime.sets.members(EphemeralKey.viewing({ tenantId }, patientId)));
  }

  /**
   * One of the user's members was added or removed: the list is announced when that made the user appear (the member
   * is their only live one) or disappear (none of theirs is left). A member added back by a renewal after a sweep took
   * it counts the same: if it was the user's only one, that sweep announced them gone.
   */
  private async changed(scope: Scope, patientId: string, change: SetChange, added: boolean): Promise<void> {
    const mine = change.members.filter((m) => userOf(m) === scope.userId).length;
    if (added ? mine !== 1 : mine !== 0) return;
    await this.publish(scope.tenantId, { patientId, userIds: usersOf(change.members) });
  }

  /** Members that were not renewed: announce each chart's remaining viewers once. */
  private async lapsed(lapsed: LapsedMember[]): Promise<void> {
    const charts = new Map<string, { tenantId: string; patientId: string; users: Set<string> }>();
    for (const { key, member } of lapsed) {
      const parsed = parseEphemeralKey(key);
      if (parsed?.kind !== 'viewing') continue;
      const chart = charts.get(key) ?? { tenantId: parsed.tenantId, patientId: parsed.patientId, users: new Set() };
      chart.users.add(userOf(member));
      charts.set(key, chart);
    }
    await Promise.all(
      [...charts].map(async ([key, { tenantId, patientId, users }]) => {
        const userIds = usersOf(await this.realtime.sets.members(key));
        // A user still viewing in another tab (or by an announcement) did not leave.
        if ([...users].every((id) => userIds.includes(id))) return;
        await this.publish(tenantId, { patientId, userIds });
      }),
    );
  }

  private async publish(tenantId: string, signal: ViewingSignal): Promise<void> {
    await this.realtime.hub.publish(tenantChannel({ tenantId }, 'viewing'), signal);
  }
}
