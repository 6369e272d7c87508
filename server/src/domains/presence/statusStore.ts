import type { Redis } from 'ioredis';
import { EphemeralKey } from '../../realtime/keys.js';
import { redisCall } from '../../events/pubsub.js';

/** A status a user can choose; OFFLINE is not one of them (it follows from having no connection). */
export type ChosenStatus = 'ONLINE' | 'AWAY' | 'BUSY';

/**
 * Each online user's chosen status, in Redis (one hash per tenant) or in memory, never in SQL (docs/architecture.md,
 * invariant 3). No entry means ONLINE; the entry is dropped when the user goes offline, so a new session starts ONLINE.
 */
export interface PresenceStatusStore {
  get(tenantId: string, userIds: string[]): Promise<Map<string, ChosenStatus>>;
  set(tenantId: string, userId: string, status: ChosenStatus): Promise<void>;
  clear(tenantId: string, userId: string): Promise<void>;
}

export class MemoryStatusStore implements PresenceStatusStore {
  private readonly tenants = new Map<string, Map<string, ChosenStatus>>();

  async get(tenantId: string, userIds: string[]): Promise<Map<string, ChosenStatus>> {
    const statuses = this.tenants.get(tenantId);
    return new Map(userIds.map((id) => [id, statuses?.get(id) ?? 'ONLINE']));
  }

  async set(tenantId: string, userId: string, status: ChosenStatus): Promise<void> {
    if (status === 'ONLINE') return this.clear(tenantId, userId);
    let statuses = this.tenants.get(tenantId);
    if (!statuses) this.tenants.set(tenantId, (statuses = new Map()));
    statuses.set(userId, status);
  }

  async clear(tenantId: string, userId: string): Promise<void> {
    const statuses = this.tenants.get(tenantId);
    statuses?.delete(userId);
    if (statuses?.size === 0) this.tenants.delete(tenantId);
  }
}

/** One hash per clinic, under the deployment's namespace like every key of ours in Redis. */
export class RedisStatusStore implements PresenceStatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly namespace: string,
  ) {}

  private key(tenantId: string): string {
    return `${this.namespace}:${EphemeralKey.presenceStatus({ tenantId })}`;
  }

  async get(tenantId: string, userIds: string[]): Promise<Map<string, ChosenStatus>> {
    if (userIds.length === 0) return new Map();
    const values = await redisCall(() => this.redis.hmget(this.key(tenantId), ...userIds));
    return new Map(userIds.map((id, i) => [id, values[i] === 'AWAY' || values[i] === 'BUSY' ? values[i] : 'ONLINE']));
  }

  async set(tenantId: string, userId: string, status: ChosenStatus): Promise<void> {
    if (status === 'ONLINE') return this.clear(tenantId, userId);
    await redisCall(() => this.redis.hset(this.key(tenantId), userId, status));
  }

  async clear(tenantId: string, userId: string): Promise<void> {
    await redisCall(() => this.redis.hdel(this.key(tenantId), userId));
  }
}
