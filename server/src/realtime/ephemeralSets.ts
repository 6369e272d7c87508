import type { Redis, Result } from 'ioredis';
import { redisCall } from '../events/pubsub.js';

// ioredis's way of typing a command added with `defineCommand` (its README, "Lua Scripting").
declare module 'ioredis' {
  interface RedisCommander<Context> {
    // The scripts below, defined on the client by `RedisEphemeralSets`: each run by EVALSHA.
    /** TOUCH_ALL_AND_COUNT. */
    ephemeralTouchAllAndCount(index: string, ...args: string[]): Result<Array<string | number | null>, Context>;
    /** RENEW_LIVE. */
    ephemeralRenewLive(index: string, ...args: string[]): Result<number[], Context>;
    /** TOUCH_AND_LIST. */
    ephemeralTouchAndList(index: string, ...args: string[]): Result<[string | null, string[]], Context>;
    /** REMOVE_AND_READ. */
    ephemeralRemoveAndRead(index: string, ...args: string[]): Result<Array<string | number | string[] | null>, Context>;
    /** REMOVE_AND_COUNT_THEN. */
    ephemeralRemoveAndCountThen(index: string, ...args: string[]): Result<Array<string | number | null>, Context>;
    /** SWEEP. */
    ephemeralSweep(index: string, now: string, prefix: string): Result<string[], Context>;
  }
}

/**
 * Named sets whose members expire unless renewed (docs/architecture.md, invariant 3): presence, chart viewers, thread
 * viewers. Nothing here is stored in SQL; a member whose owner stops renewing it (a crashed instance, a closed laptop)
 * disappears within its time to live, and `sweep()` reports it so that watchers can be told.
 */
export interface EphemeralSets {
  /** Adds or renews a member until now + ttlMs; true when it was not a live member before. */
  touch(key: string, member: string, ttlMs: number): Promise<boolean>;
  /**
   * Renews those of the members that are live, and only those: one that lapsed or was removed is left as it is (so a
   * renewal racing with a removal never brings a member back). Per entry, whether it was live and is renewed. One
   * round trip per page of entries: an instance renews all its members with a few calls, not one per member.
   */
  renewLive(entries: readonly SetEntry[], ttlMs: number): Promise<boolean[]>;
  /** The live members of a set. */
  members(key: string): Promise<string[]>;
  /**
   * `touch`, and the live members just after it, read in the same atomic step: of two callers racing to add the
   * first members, exactly one sees itself alone (presence's "first connection" is decided this way).
   */
  touchAndList(key: string, member: string, ttlMs: number): Promise<SetChange>;
  /** Removes a member, and reads the live members just after it in the same atomic step. */
  removeAndList(key: string, member: string): Promise<SetChange>;
  /**
   * `touch` of every entry, and for each how many live members its set holds just after all of them, in one atomic
   * step and one round trip: `touchAndList` for a caller that needs only how many, not who (O(log n) in Redis where the
   * list is O(n)). Presence's join touches a connection and its user this way, on every connection.
   */
  touchAllAndCount(entries: readonly SetEntry[], ttlMs: number): Promise<SetCount[]>;
  /** `removeAndList`, counting the live members after it instead of listing them. */
  removeAndCount(key: string, member: string): Promise<SetCount>;
  /**
   * `removeAndCount` of `entry` and, when its set holds no live member after it, of `then` too, in one atomic step and
   * one round trip; null for `then` when the first set still holds someone. Presence's leave removes a connection and,
   * when it was its user's last, the user from the clinic's online set this way: a join elsewhere comes before the
   * step (the user stays) or after it (the user is added back), never between the two removals.
   */
  removeAndCountThen(entry: SetEntry, then: SetEntry): Promise<[SetCount, SetCount | null]>;
  /**
   * Removes expired members everywhere and returns them, each reported once over all instances, so exactly one
   * instance announces each lapse.
   */
  sweep(): Promise<Array<{ key: string; member: string }>>;
}

/** One member of one set. */
export interface SetEntry {
  key: string;
  member: string;
}

/** What a member was just before a change, and how many live members the set holds right after it. */
export interface SetCount {
  wasLive: boolean;
  /** Live, or expired but not yet swept: after this change the sweep will not report it. */
  wasStored: boolean;
  live: number;
}

/** What a member was just before a change, and the live members right after it. */
export interface SetChange extends SetCount {
  members: string[];
}

export class MemoryEphemeralSets implements EphemeralSets {
  private readonly sets = new Map<string, Map<string, number>>();

  async touch(key: string, member: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const before = this.put(key, member, now + ttlMs);
    return before === undefined || before <= now;
  }

  async renewLive(entries: readonly SetEntry[], ttlMs: number): Promise<boolean[]> {
    const now = Date.now();
    return entries.map(({ key, member }) => {
      const set = this.sets.get(key);
      const expiry = set?.get(member);
      if (!set || expiry === undefined || expiry <= now) return false;
      set.set(member, now + ttlMs);
      return true;
    });
  }

  async members(key: string): Promise<string[]> {
    const now = Date.now();
    return [...(this.sets.get(key) ?? [])].filter(([, expiry]) => expiry > now).map(([member]) => member);
  }

  // No await between the change and the read: atomic in this single-threaded process.
  async touchAndList(key: string, member: string, ttlMs: number): Promise<SetChange> {
    const now = Date.now();
    const before = this.put(key, member, now + ttlMs);
    return changed(before, now, liveMembers(this.sets.get(key)!, now));
  }

  async removeAndList(key: string, member: string): Promise<SetChange> {
    return this.take(key, member, Date.now());
  }

  // The sets of one process are small: a count is the list's length, read once every entry is touched.
  async touchAllAndCount(entries: readonly SetEntry[], ttlMs: number): Promise<SetCount[]> {
    const now = Date.now();
    const before = entries.map(({ key, member }) => this.put(key, member, now + ttlMs));
    return entries.map(({ key }, i) => counting(changed(before[i], now, liveMembers(this.sets.get(key)!, now))));
  }

  async removeAndCount(key: string, member: string): Promise<SetCount> {
    return counting(this.take(key, member, Date.now()));
  }

  async removeAndCountThen(entry: SetEntry, then: SetEntry): Promise<[SetCount, SetCount | null]> {
    const now = Date.now();
    const first = counting(this.take(entry.key, entry.member, now));
    return [first, first.live > 0 ? null : counting(this.take(then.key, then.member, now))];
  }

  /** Removes a member: what it was before, and the live members of its set after. */
  private take(key: string, member: string, now: number): SetChange {
    const set = this.sets.get(key) ?? new Map<string, number>();
    const before = set.get(member);
    set.delete(member);
    if (set.size === 0) this.sets.delete(key);
    return changed(before, now, liveMembers(set, now));
  }

  /** Sets a member's expiry, making its set if need be: its expiry before, if it was stored. */
  private put(key: string, member: string, expiry: number): number | undefined {
    let set = this.sets.get(key);
    if (!set) this.sets.set(key, (set = new Map()));
    const before = set.get(member);
    set.set(member, expiry);
    return before;
  }

  async sweep(): Promise<Array<{ key: string; member: string }>> {
    const now = Date.now();
    const lapsed: Array<{ key: string; member: string }> = [];
    for (const [key, set] of this.sets) {
      for (const [member, expiry] of set) {
        if (expiry <= now) {
          set.delete(member);
          lapsed.push({ key, member });
        }
      }
      if (set.size === 0) this.sets.delete(key);
    }
    return lapsed;
  }
}

function liveMembers(set: Map<string, number>, now: number): string[] {
  return [...set].filter(([, expiry]) => expiry > now).map(([member]) => member);
}

/** A change's count, without its list. */
function counting({ members: _, ...count }: SetChange): SetCount {
  return count;
}

function changed(before: number | undefined, now: number, members: string[]): SetChange {
  return {
    wasLive: before !== undefined && before > now,
    wasStored: before !== undefined,
    live: members.length,
    members,
  };
}

const SEP = '\n';

/** An entry as the index and the scripts hold it: "key\nmember", the key without the namespace's prefix. */
const entryText = (key: string, member: string) => `${key}${SEP}${member}`;

/** Most lapses one Redis sweep returns; a full page means more may be due. */
export const SWEEP_PAGE = 500;

// What the scripts below share. An entry of the index (and of a script's ARGV) is "key\nmember", its key without the
// namespace's prefix: `split` gives the prefixed key and the member. `touch` sets a member's expiry in its set and in
// the index, and the set's own time to live (a multiple of the members', so an abandoned set goes in the end);
// `touchEntry` touches an entry and `remove` takes one out of its set and of the index, each giving its score before
// (false: not stored) and its prefixed key. `live`
// counts a set's members whose expiry is after `now`, `listLive` lists them. Each script runs atomically, as a
// MULTI/EXEC would: no other client's command comes between its change and its read.
const ENTRIES = `
local function split(entry, prefix)
  local sep = string.find(entry, '\\n', 1, true)
  return prefix .. string.sub(entry, 1, sep - 1), string.sub(entry, sep + 1)
end
local function touch(key, member, entry, expiry, setTtl)
  redis.call('ZADD', key, expiry, member)
  redis.call('ZADD', KEYS[1], expiry, entry)
  redis.call('PEXPIRE', key, setTtl)
end
local function touchEntry(entry, prefix, expiry, setTtl)
  local key, member = split(entry, prefix)
  local before = redis.call('ZSCORE', key, member)
  touch(key, member, entry, expiry, setTtl)
  return before, key
end
local function remove(entry, prefix)
  local key, member = split(entry, prefix)
  local before = redis.call('ZSCORE', key, member)
  redis.call('ZREM', key, member)
  redis.call('ZREM', KEYS[1], entry)
  return before, key
end
local function live(key, now)
  return redis.call('ZCOUNT', key, '(' .. now, '+inf')
end
local function listLive(key, now)
  return redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf')
end`;

// Removes lapsed entries atomically: of several instances sweeping at once, only one gets each entry back.
const SWEEP = `${ENTRIES}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ${SWEEP_PAGE})
local lapsed = {}
for _, entry in ipairs(due) do
  local key, member = split(entry, ARGV[2])
  local score = redis.call('ZSCORE', key, member)
  redis.call('ZREM', KEYS[1], entry)
  if score and tonumber(score) <= tonumber(ARGV[1]) then
    redis.call('ZREM', key, member)
    table.insert(lapsed, entry)
  end
end
return lapsed`;

// Touches every entry of ARGV[5..], then counts each one's set: the scores before (false where there was none), then
// the live counts. One EVALSHA serves `touch` and presence's join (which took two MULTIs of six commands, one after the
// other).
const TOUCH_ALL_AND_COUNT = `${ENTRIES}
local n = #ARGV - 4
local out = {}
local keys = {}
for i = 1, n do
  out[i], keys[i] = touchEntry(ARGV[i + 4], ARGV[4], ARGV[2], ARGV[3])
end
for i = 1, n do
  out[n + i] = live(keys[i], ARGV[1])
end
return out`;

// Touches the entry ARGV[5] as TOUCH_ALL_AND_COUNT does, then lists its set's live members: the score before, the list.
const TOUCH_AND_LIST = `${ENTRIES}
local before, key = touchEntry(ARGV[5], ARGV[4], ARGV[2], ARGV[3])
return {before, listLive(key, ARGV[1])}`;

// Removes the entry ARGV[3]; then reads its set: with ARGV[4] 'list' its live members' list, else their count. The
// score before, then what was read.
const REMOVE_AND_READ = `${ENTRIES}
local before, key = remove(ARGV[3], ARGV[2])
if ARGV[4] == 'list' then return {before, listLive(key, ARGV[1])} end
return {before, live(key, ARGV[1])}`;

// Removes the entry ARGV[3] and counts its set's live members; when none is left, removes the entry ARGV[4] too and
// counts its set. The first's score before and count, then (only then) the second's.
const REMOVE_AND_COUNT_THEN = `${ENTRIES}
local before, key = remove(ARGV[3], ARGV[2])
local count = live(key, ARGV[1])
if count > 0 then return {before, count} end
local thenBefore, thenKey = remove(ARGV[4], ARGV[2])
return {before, count, thenBefore, live(thenKey, ARGV[1])}`;

/** Entries one Redis renewal script takes: a few milliseconds of Redis time per call. */
export const RENEW_PAGE = 1000;

// Renews the live entries among ARGV[5..], leaving absent and lapsed ones alone; 1 for each renewed.
const RENEW_LIVE = `${ENTRIES}
local now = tonumber(ARGV[1])
local out = {}
for i = 5, #ARGV do
  local entry = ARGV[i]
  local key, member = split(entry, ARGV[4])
  local score = redis.call('ZSCORE', key, member)
  if score and tonumber(score) > now then
    touch(key, member, entry, ARGV[2], ARGV[3])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out`;

/**
 * Redis sorted sets scored by expiry time, plus one index of every entry for the sweeper. Every key is prefixed with
 * the deployment's namespace (deployments or test runs sharing one Redis never meet, and each sweeps only its own
 * entries); callers and the index speak of the keys without it.
 */
export class RedisEphemeralSets implements EphemeralSets {
  private readonly index: string;
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    namespace: string,
  ) {
    this.prefix = `${namespace}:`;
    this.index = `${namespace}:ephemeral:expiry`;
    // Each by its SHA1, sent whole only to a Redis that has not cached it yet (ioredis retries NOSCRIPT with EVAL).
    redis.defineCommand('ephemeralTouchAllAndCount', { numberOfKeys: 1, lua: TOUCH_ALL_AND_COUNT });
    redis.defineCommand('ephemeralRenewLive', { numberOfKeys: 1, lua: RENEW_LIVE });
    redis.defineCommand('ephemeralTouchAndList', { numberOfKeys: 1, lua: TOUCH_AND_LIST });
    redis.defineCommand('ephemeralRemoveAndRead', { numberOfKeys: 1, lua: REMOVE_AND_READ });
    redis.defineCommand('ephemeralRemoveAndCountThen', { numberOfKeys: 1, lua: REMOVE_AND_COUNT_THEN });
    redis.defineCommand('ephemeralSweep', { numberOfKeys: 1, lua: SWEEP });
  }

  touch(key: string, member: string, ttlMs: number): Promise<boolean> {
    return redisCall(() => this.touchNow(key, member, ttlMs));
  }

  async renewLive(entries: readonly SetEntry[], ttlMs: number): Promise<boolean[]> {
    const renewed: boolean[] = [];
    for (let i = 0; i < entries.length; i += RENEW_PAGE) {
      const page = entries.slice(i, i + RENEW_PAGE).map(({ key, member }) => entryText(key, member));
      const args = [...this.touchArgs(Date.now(), ttlMs), ...page];
      const out = await redisCall(() => this.redis.ephemeralRenewLive(this.index, ...args));
      for (const flag of out) renewed.push(flag === 1);
    }
    return renewed;
  }

  members(key: string): Promise<string[]> {
    return redisCall(() => this.redis.zrangebyscore(this.prefix + key, `(${Date.now()}`, '+inf'));
  }

  touchAndList(key: string, member: string, ttlMs: number): Promise<SetChange> {
    return redisCall(() => this.touchAndListNow(key, member, ttlMs));
  }

  removeAndList(key: string, member: string): Promise<SetChange> {
    return redisCall(() => this.removeAndListNow(key, member));
  }

  touchAllAndCount(entries: readonly SetEntry[], ttlMs: number): Promise<SetCount[]> {
    return redisCall(() => this.touchAllAndCountNow(entries, ttlMs));
  }

  removeAndCount(key: string, member: string): Promise<SetCount> {
    return redisCall(() => this.removeAndCountNow(key, member));
  }

  removeAndCountThen(entry: SetEntry, then: SetEntry): Promise<[SetCount, SetCount | null]> {
    return redisCall(() => this.removeAndCountThenNow(entry, then));
  }

  sweep(): Promise<Array<{ key: string; member: string }>> {
    return redisCall(() => this.sweepNow());
  }

  // The commands themselves; the methods above turn any failure into DependencyUnavailableError.
  private async touchNow(key: string, member: string, ttlMs: number): Promise<boolean> {
    const [{ wasLive }] = await this.touchAllAndCountNow([{ key, member }], ttlMs);
    return !wasLive;
  }

  private async touchAndListNow(key: string, member: string, ttlMs: number): Promise<SetChange> {
    const now = Date.now();
    const [before, members] = await this.redis.ephemeralTouchAndList(
      this.index,
      ...this.touchArgs(now, ttlMs),
      entryText(key, member),
    );
    return { ...counted(before, now, members.length), members };
  }

  // One script, atomic as MULTI/EXEC is: every entry's score before, then every set's count after all the touches.
  private async touchAllAndCountNow(entries: readonly SetEntry[], ttlMs: number): Promise<SetCount[]> {
    const now = Date.now();
    const replies = await this.redis.ephemeralTouchAllAndCount(
      this.index,
      ...this.touchArgs(now, ttlMs),
      ...entries.map(({ key, member }) => entryText(key, member)),
    );
    return entries.map((_, i) => counted(replies[i], now, Number(replies[entries.length + i])));
  }

  private async removeAndCountThenNow(entry: SetEntry, then: SetEntry): Promise<[SetCount, SetCount | null]> {
    const now = Date.now();
    const [before, live, thenBefore, thenLive] = await this.redis.ephemeralRemoveAndCountThen(
      this.index,
      String(now),
      this.prefix,
      entryText(entry.key, entry.member),
      entryText(then.key, then.member),
    );
    const first = counted(before, now, Number(live));
    return [first, first.live > 0 ? null : counted(thenBefore, now, Number(thenLive))];
  }

  private async removeAndListNow(key: string, member: string): Promise<SetChange> {
    const now = Date.now();
    const [before, members] = await this.removeAndRead(key, member, now, 'list');
    return { ...counted(before, now, (members as string[]).length), members: members as string[] };
  }

  private async removeAndCountNow(key: string, member: string): Promise<SetCount> {
    const now = Date.now();
    const [before, live] = await this.removeAndRead(key, member, now, 'count');
    return counted(before, now, Number(live));
  }

  /** REMOVE_AND_READ: the member's score before its removal, and what `read` asked of its set afterwards. */
  private removeAndRead(key: string, member: string, now: number, read: 'count' | 'list') {
    return this.redis.ephemeralRemoveAndRead(this.index, String(now), this.prefix, entryText(key, member), read);
  }

  /** The arguments every touching script starts with (ARGV[1..4]): now, the new expiry, the set's TTL, the prefix. */
  private touchArgs(now: number, ttlMs: number): [string, string, string, string] {
    return [String(now), String(now + ttlMs), String(ttlMs * 4), this.prefix];
  }

  private async sweepNow(): Promise<Array<{ key: string; member: string }>> {
    const lapsed = await this.redis.ephemeralSweep(this.index, String(Date.now()), this.prefix);
    return lapsed.map((entry) => {
      const i = entry.indexOf(SEP);
      return { key: entry.slice(0, i), member: entry.slice(i + 1) };
    });
  }
}

/** A change's count from the member's score before it (null: not stored) and the live members after it. */
function counted(before: unknown, now: number, live: number): SetCount {
  return { wasLive: before !== null && Number(before) > now, wasStored: before !== null, live };
}
