import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  MemoryEphemeralSets,
  RedisEphemeralSets,
  type EphemeralSets,
  type SetCount,
} from '../../src/realtime/ephemeralSets.js';
import { HeldMembers } from '../../src/realtime/heldMembers.js';
import { createLogger } from '../../src/logger.js';
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
    expect(await sets.removeAndCount(key, 'a')).toEqual({ wasLive: true, wasStored: true, live: 1 });
    expect(await sets.removeAndCount(key, 'a')).toEqual({ wasLive: false, wasStored: false, live: 1 });
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
    expect(await sets.removeAndList(key, 'a')).toEqual({ wasLive: true, wasStored: true, live: 1, members: ['b'] });
    expect(await sets.removeAndList(key, 'a')).toEqual({ wasLive: false, wasStored: false, live: 1, members: ['b'] });
    // Removed before the sweep came: the sweep does not report it.
    expect((await sets.sweep()).filter((e) => e.key === key)).toEqual([]);
  });

  it('counts the live members after a change the way it lists them, one racer alone among two', async () => {
    const sets = make();
    const key = `test:${randomUUID()}`;
    const touchAndCount = async (k: string, member: string, ttlMs: number) =>
      (await sets.touchAllAndCount([{ key: k, member }], ttlMs))[0];
    // Presence's "first connection": of two connections of one user arriving at once, exactly one sees itself alone.
    const [a, b] = await Promise.all([touchAndCount(key, 'a', 10_000), touchAndCount(key, 'b', 10_000)]);
    expect([a.live, b.live].sort()).toEqual([1, 2]);
    expect(a).toMatchObject({ wasLive: false, wasStored: false });
    expect(await touchAndCount(key, 'a', 10_000)).toEqual({ wasLive: true, wasStored: true, live: 2 });
    // A lapsed member is stored until swept, and no longer counted.
    await sets.touch(key, 'short', 100);
    await vi.waitFor(async () => expect(await sets.members(key)).not.toContain('short'), { timeout: 10_000 });
    expect(await sets.touchAndList(key, 'c', 10_000)).toMatchObject({ live: 3 });
    expect(await sets.removeAndCount(key, 'short')).toEqual({ wasLive: false, wasStored: true, live: 3 });
    expect(await sets.removeAndCount(key, 'c')).toEqual({ wasLive: true, wasStored: true, live: 2 });
    expect(await sets.removeAndCount(key, 'a')).toEqual({ wasLive: true, wasStored: true, live: 1 });
    expect(await sets.removeAndCount(key, 'b')).toEqual({ wasLive: true, wasStored: true, live: 0 });
    expect(await sets.removeAndCount(key, 'b')).toEqual({ wasLive: false, wasStored: false, live: 0 });
    expect(await sets.members(key)).toEqual([]);
  });

  it('touches several sets in one step, counting each once all of them are touched', async () => {
    const sets = make();
    const [connections, online] = [`test:${randomUUID()}`, `test:${randomUUID()}`];
    const touchAll = (entries: Array<[string, string]>) =>
      sets.touchAllAndCount(
        entries.map(([key, member]) => ({ key, member })),
        10_000,
      );
    const fresh = { wasLive: false, wasStored: false };
    const renewed = { wasLive: true, wasStored: true };
    // Each step: the entries touched together, and what each tells.
    const steps: Array<[Array<[string, string]>, SetCount[]]> = [
      // Presence's join: a connection and its user, together.
      [
        [
          [connections, 'c1'],
          [online, 'u'],
        ],
        [
          { ...fresh, live: 1 },
          { ...fresh, live: 1 },
        ],
      ],
      [
        [
          [connections, 'c2'],
          [online, 'u'],
        ],
        [
          { ...fresh, live: 2 },
          { ...renewed, live: 1 },
        ],
      ],
      // Two members of one set: each counted after both.
      [
        [
          [connections, 'c3'],
          [connections, 'c1'],
        ],
        [
          { ...fresh, live: 3 },
          { ...renewed, live: 3 },
        ],
      ],
    ];
    for (const [entries, counts] of steps) expect(await touchAll(entries)).toEqual(counts);
    // A lapsed member touched again: stored, not live, and live again.
    await sets.touch(connections, 'short', 100);
    await vi.waitFor(async () => expect(await sets.members(connections)).not.toContain('short'), { timeout: 10_000 });
    expect(await touchAll([[connections, 'short']])).toEqual([{ wasLive: false, wasStored: true, live: 4 }]);
    expect((await sets.members(connections)).sort()).toEqual(['c1', 'c2', 'c3', 'short']);
    expect(await sets.members(online)).toEqual(['u']);
    // Touched entries expire like any other: the sweep finds none of them due yet.
    expect((await sets.sweep()).filter((e) => e.key === connections || e.key === online)).toEqual([]);
  });

  it('removes a member and, once its set holds no one live, the next one, in one step', async () => {
    const sets = make();
    const [connections, online] = [`test:${randomUUID()}`, `test:${randomUUID()}`];
    await sets.touchAllAndCount(
      [
        { key: connections, member: 'c1' },
        { key: connections, member: 'c2' },
        { key: online, member: 'u' },
        { key: online, member: 'v' },
      ],
      10_000,
    );
    const leave = (connection: string) =>
      sets.removeAndCountThen({ key: connections, member: connection }, { key: online, member: 'u' });
    const live = { wasLive: true, wasStored: true };
    const gone = { wasLive: false, wasStored: false };
    // Each step: the connection removed, and what the two removals tell (null: the user was left alone).
    const steps: Array<[string, [SetCount, SetCount | null]]> = [
      // Not the user's last connection: the user stays.
      ['c1', [{ ...live, live: 1 }, null]],
      // The last: the user goes too, the set's other member counted.
      [
        'c2',
        [
          { ...live, live: 0 },
          { ...live, live: 1 },
        ],
      ],
      // Again (a leave redone): neither is stored any more.
      [
        'c2',
        [
          { ...gone, live: 0 },
          { ...gone, live: 1 },
        ],
      ],
    ];
    for (const [connection, counts] of steps) expect(await leave(connection)).toEqual(counts);
    expect(await sets.members(online)).toEqual(['v']);
    // A connection that lapsed: stored, not live; still the last, so the user goes.
    await sets.touch(online, 'u', 10_000);
    await sets.touch(connections, 'short', 100);
    await vi.waitFor(async () => expect(await sets.members(connections)).toEqual([]), { timeout: 10_000 });
    expect(await leave('short')).toEqual([
      { wasLive: false, wasStored: true, live: 0 },
      { ...live, live: 1 },
    ]);
    expect(await sets.members(online)).toEqual(['v']);
    // Nothing of theirs left for the sweep to report.
    expect((await sets.sweep()).filter((e) => e.key === connections || (e.key === online && e.member === 'u'))).toEqual(
      [],
    );
  });

  it('renews the live members of many sets at once, and never brings back one that was removed or lapsed', async () => {
    const sets = make();
    const [k1, k2] = [`test:${randomUUID()}`, `test:${randomUUID()}`];
    // More entries than one Redis page, over two sets.
    const many = Array.from({ length: 1_200 }, (_, i) => ({ key: i % 2 ? k1 : k2, member: `m${i}` }));
    const firstExpiry = Date.now() + 3_000;
    await Promise.all(many.map(({ key, member }) => sets.touch(key, member, 3_000)));
    await sets.touch(k1, 'lapses', 100);
    await vi.waitFor(async () => expect(await sets.members(k1)).not.toContain('lapses'), { timeout: 10_000 });
    await sets.removeAndCount(k2, 'm0');
    const renewed = await sets.renewLive(
      [...many, { key: k1, member: 'lapses' }, { key: k1, member: 'never-added' }],
      60_000,
    );
    expect(renewed).toEqual([false, ...many.slice(1).map(() => true), false, false]);
    // The lapsed one stays lapsed (and is swept); the removed and the unknown are not there.
    expect((await sets.sweep()).filter((e) => e.key === k1)).toEqual([{ key: k1, member: 'lapses' }]);
    expect(await sets.members(k2)).not.toContain('m0');
    expect(await sets.members(k1)).not.toContain('never-added');
    // Past the first time to live, the renewed ones are all still there.
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(firstExpiry + 100), { timeout: 10_000 });
    expect((await sets.members(k1)).length + (await sets.members(k2)).length).toBe(1_199);
    expect((await sets.sweep()).filter((e) => e.key === k1 || e.key === k2)).toEqual([]);
  });

  it('holds members past their time to live when renewed, adds back one that lapsed, and lets go on release', async () => {
    const sets = make();
    const held = new HeldMembers(sets, createLogger('silent'));
    // The instance's heartbeat, here: a third of the time to live.
    const heartbeat = setInterval(() => void held.renew(), 200);
    try {
      const key = `test:${randomUUID()}`;
      const changes: Array<[string, boolean, string[]]> = [];
      const hold = (member: string) =>
        held.hold({
          key,
          member,
          ttlMs: 600,
          onChange: (change, added) => void changes.push([member, added, [...change.members].sort()]),
        });
      const releaseA = await hold('a');
      await hold('b');
      // A member of its own, for much longer: renewed with the others, by its own time to live.
      await held.hold({ key, member: 'long', ttlMs: 60_000 });
      expect((await sets.members(key)).sort()).toEqual(['a', 'b', 'long']);
      // Taken out behind the holder's back (as a sweep after a stall would): the next renewal adds it back, and says
      // so.
      await sets.removeAndCount(key, 'b');
      await vi.waitFor(async () => expect(await sets.members(key)).toContain('b'), { timeout: 10_000 });
      // Several times the time to live later, all are still there.
      const since = Date.now();
      await vi.waitUntil(() => Date.now() - since > 1_500, { timeout: 10_000, interval: 50 });
      expect((await sets.members(key)).sort()).toEqual(['a', 'b', 'long']);
      releaseA();
      await vi.waitFor(async () => expect((await sets.members(key)).sort()).toEqual(['b', 'long']), {
        timeout: 10_000,
      });
      expect(held.size).toBe(2);
      await vi.waitFor(() => expect(changes).toHaveLength(4));
      expect(changes).toEqual([
        ['a', true, ['a']],
        ['b', true, ['a', 'b']],
        ['b', true, ['a', 'b', 'long']],
        ['a', false, ['b', 'long']],
      ]);
    } finally {
      clearInterval(heartbeat);
    }
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
