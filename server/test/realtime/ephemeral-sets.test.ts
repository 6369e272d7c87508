import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { MemoryEphemeralSets, RedisEphemeralSets, type EphemeralSets } from '../../src/realtime/ephemeralSets.js';
import { TEST_REDIS_URL } from '../helpers/services.js';

const redis = new Redis(TEST_REDIS_URL);
const namespace = `test-${randomUUID()}`;
afterAll(() => redis.quit());

describe.each([
  ['in memory', () => new MemoryEphemeralSets()],
  ['in Redis', () => new RedisEphemeralSets(redis, namespace)],
] as Array<[string, () => EphemeralSets]>)('expiring sets %s', (_name, make) => {
  it('reports a member as new once, renews it, and removes it', async () => {
    const sets = make();
    const key = `test:${randomUUID()}`;
    expect(await sets.touch(key, 'a', 10_000)).toBe(true);
    expect(await sets.touch(key, 'a', 10_000)).toBe(false);
    expect(await sets.touch(key, 'b', 10_000)).toBe(true);
    expect((await sets.members(key)).sort()).toEqual(['a', 'b']);
    expect(await sets.remove(key, 'a')).toBe(true);
    expect(await sets.remove(key, 'a')).toBe(false);
    expect(await sets.members(key)).toEqual(['b']);
  });

  it('tells what a member was before a change, with the live members after it', async () => {
    const sets = make();
    const key = `test:${randomUUID()}`;
    // Of two racing to add the first members, one sees itself alone.
    const [a, b] = await Promise.all([sets.touchAndList(key, 'a', 10_000), sets.touchAndList(key, 'b', 10_000)]);
    expect([a.members.length, b.members.length].sort()).toEqual([1, 2]);
    expect(a).toMatchObject({ wasLive: false, wasStored: false });
    expect(await sets.touchAndList(key, 'a', 10_000)).toMatchObject({ wasLive: true, wasStored: true });
    // Expired but not yet swept: stored, not live, and no longer among the members.
    await sets.touch(key, 'short', 100);
    await vi.waitFor(async () => expect(await sets.members(key)).not.toContain('short'), { timeout: 10_000 });
    const removed = await sets.removeAndList(key, 'short');
    expect(removed).toMatchObject({ wasLive: false, wasStored: true });
    expect(removed.members.sort()).toEqual(['a', 'b']);
    expect(await sets.removeAndList(key, 'a')).toEqual({ wasLive: true, wasStored: true, members: ['b'] });
    expect(await sets.removeAndList(key, 'a')).toEqual({ wasLive: false, wasStored: false, members: ['b'] });
    // Removed before the sweep came: the sweep does not report it.
    expect((await sets.sweep()).filter((e) => e.key === key)).toEqual([]);
  });

  it('lets an unrenewed member lapse, and the sweep reports it exactly once across sweepers', async () => {
    const [one, two] = [make(), make()];
    const key = `test:${randomUUID()}`;
    await one.touch(key, 'gone', 150);
    await one.touch(key, 'stays', 60_000);
    await vi.waitFor(async () => expect(await one.members(key)).toHaveLength(1), { timeout: 10_000 });
    const swept = [...(await one.sweep()), ...(await two.sweep())].filter((e) => e.key === key);
    // The in-memory kind belongs to one process: only `one` knew the member.
    expect(swept).toEqual([{ key, member: 'gone' }]);
    expect(await one.members(key)).toEqual(['stays']);
  });
});

describe('expiring sets of two deployments sharing one Redis', () => {
  it('should keep each deployment to its own members and its own sweep', async () => {
    const [ours, theirs] = [
      new RedisEphemeralSets(redis, `test-${randomUUID()}`),
      new RedisEphemeralSets(redis, `test-${randomUUID()}`),
    ];
    const key = `test:${randomUUID()}`;
    await ours.touch(key, 'ours', 150);
    await theirs.touch(key, 'theirs', 60_000);
    expect(await ours.members(key)).toEqual(['ours']);
    expect(await theirs.members(key)).toEqual(['theirs']);
    await vi.waitFor(async () => expect(await ours.members(key)).toEqual([]), { timeout: 10_000 });
    expect(await theirs.sweep()).toEqual([]);
    expect(await ours.sweep()).toEqual([{ key, member: 'ours' }]);
  });
});
