import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryEphemeralSets, RedisEphemeralSets, type EphemeralSets } from '../../src/realtime/ephemeralSets.js';
import { TEST_REDIS_URL } from '../helpers/services.js';
import { eventually } from '../helpers/ws.js';

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

  it('lets an unrenewed member lapse, and the sweep reports it exactly once across sweepers', async () => {
    const [one, two] = [make(), make()];
    const key = `test:${randomUUID()}`;
    await one.touch(key, 'gone', 150);
    await one.touch(key, 'stays', 60_000);
    await eventually(async () => (await one.members(key)).length === 1, 5000, 'lapse');
    const swept = [...(await one.sweep()), ...(await two.sweep())].filter((e) => e.key === key);
    // The in-memory kind belongs to one process: only `one` knew the member.
    expect(swept).toEqual([{ key, member: 'gone' }]);
    expect(await one.members(key)).toEqual(['stays']);
  });
});
