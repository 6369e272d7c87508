// Presence, chart viewing and typing concern signed-in staff only.
import type { UserViewer as Viewer } from '../../auth/tokens.js';
import type { Config } from '../../config.js';
import { tenantChannel, type ViewingSignal } from '../../events/channels.js';
import { EphemeralKey, parseEphemeralKey } from '../../realtime/keys.js';
import type { LapsedMember, Realtime } from '../../realtime/service.js';

type Scope = Pick<Viewer, 'tenantId' | 'userId'>;

/**
 * Who has a patient's chart open (docs/architecture.md, invariant 3): the tenant's expiring set per patient, members the user ids,
 * renewed by the client's `viewPatient` every 20 seconds. Each change publishes the whole list of viewers (ids only:
 * nothing about the patient transits pub/sub), so a subscriber that missed one signal is right again at the next.
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

  /** Opens (or renews) the user's view of the chart; returns the ids of the other viewers. */
  async view(scope: Scope, patientId: string): Promise<string[]> {
    const change = await this.realtime.sets.touchAndList(
      EphemeralKey.viewing(scope, patientId),
      scope.userId,
      this.ttlMs,
    );
    if (!change.wasLive) await this.publish(scope.tenantId, { patientId, userIds: change.members });
    return change.members.filter((id) => id !== scope.userId);
  }

  /** Closes the user's view of the chart; true when it was open. */
  async leave(scope: Scope, patientId: string): Promise<boolean> {
    const change = await this.realtime.sets.removeAndList(EphemeralKey.viewing(scope, patientId), scope.userId);
    // Also when it had lapsed unswept: that lapse will not be reported now, and was never announced.
    if (change.wasStored) await this.publish(scope.tenantId, { patientId, userIds: change.members });
    return change.wasLive;
  }

  async viewers(tenantId: string, patientId: string): Promise<string[]> {
    return this.realtime.sets.members(EphemeralKey.viewing({ tenantId }, patientId));
  }

  /** Views that were not renewed: announce each chart's remaining viewers once. */
  private async lapsed(lapsed: LapsedMember[]): Promise<void> {
    const charts = new Map<string, { tenantId: string; patientId: string }>();
    for (const { key } of lapsed) {
      const parsed = parseEphemeralKey(key);
      if (parsed?.kind === 'viewing') charts.set(key, parsed);
    }
    await Promise.all(
      [...charts].map(async ([key, { tenantId, patientId }]) =>
        this.publish(tenantId, { patientId, userIds: await this.realtime.sets.members(key) }),
      ),
    );
  }

  private async publish(tenantId: string, signal: ViewingSignal): Promise<void> {
    await this.realtime.hub.publish(tenantChannel({ tenantId }, 'viewing'), signal);
  }
}
