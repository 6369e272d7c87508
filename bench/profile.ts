/**
 * Where the server spent its CPU during the benchmark's events: the self time of each function in a V8 .cpuprofile
 * (written by `--cpu-prof`, see BENCH_CPU_PROF), counting only the samples taken inside given time windows.
 *
 * V8 stamps samples with its monotonic clock in µs, which on Linux is CLOCK_MONOTONIC: the clock of
 * `process.hrtime`, so windows taken by the benchmark itself line up with the profile's samples.
 *
 * The server's TypeScript runs as tsx transpiled it, whitespace stripped (every function of a file on line 1): its
 * positions are mapped back to the sources through the source maps tsx inlines in each script, read from the server's
 * inspector before it exits.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, withInspector } from './support.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** [start, end] in µs of the monotonic clock. */
export type Window = readonly [number, number];

/**
 * Samples per function: those taken while it ran itself (self time), and those taken while it or what it called ran
 * (total time: once per sample, however often the function is on the stack); and the busy samples in all.
 */
export interface Samples {
  self: Map<string, number>;
  total: Map<string, number>;
  /** Busy samples by part of the server's work (`partOf`), and the wall time they stand for, µs. */
  parts: Map<string, { samples: number; us: number }>;
  busy: number;
}

export function noSamples(): Samples {
  return { self: new Map(), total: new Map(), parts: new Map(), busy: 0 };
}

/** A part of the server's work, by the frames that belong to it (their labels: `label`). */
interface Part {
  name: string;
  holds: (label: string) => boolean;
}

/** Parts that take a sample when any frame of its stack is theirs, whatever runs above it: first of the list first. */
const FEATURES: readonly Part[] = [
  {
    name: "the groups' delivery (`deliver`: the frames' writes)",
    holds: (l) => l.startsWith('deliver  server/src/subscriptions/groups.ts'),
  },
  { name: 'the access audit', holds: (l) => l.includes('  server/src/domains/patients/accessAudit.ts') },
];

/**
 * Otherwise, the part of the innermost frame that has one: the library or core module that was running. A stack
 * resumed after an `await` starts at the microtask that resumed it, so an SQL statement's continuation is SQL, and a
 * Redis command sent through the event core's `redisCall` is Redis.
 */
const LIBRARIES: readonly Part[] = [
  { name: 'SQL: knex, tarn, pg', holds: (l) => / {2}node_modules\/(knex|tarn|pg|pg-protocol|pg-pool)\//.test(l) },
  {
    name: 'Redis: ioredis, rate-limiter-flexible',
    holds: (l) => / {2}node_modules\/(ioredis|redis-parser|rate-limiter-flexible)\//.test(l),
  },
  { name: 'graphql-js', holds: (l) => l.includes('  node_modules/graphql/') },
  { name: 'Apollo Server', holds: (l) => / {2}node_modules\/(@apollo|@as-integrations)\//.test(l) },
  {
    name: "HTTP: Node's and Express",
    holds: (l) => / {2}(node:_http_|node_modules\/(express|router|body-parser|raw-body)\/)/.test(l),
  },
  { name: 'the event core (server/src/events/)', holds: (l) => l.includes('  server/src/events/') },
  { name: 'the collector, on the main thread', holds: (l) => l === '(garbage collector)' },
];

/** What no part claims: Node's streams, timers and ticks, and the server's own code outside the parts. */
const REST = 'the rest';

/** The part of a sample, from its stack's labels, innermost first. */
function partOf(stack: ReadonlySet<string>): string {
  for (const part of FEATURES) for (const label of stack) if (part.holds(label)) return part.name;
  for (const label of stack) for (const part of LIBRARIES) if (part.holds(label)) return part.name;
  return REST;
}

/**
 * The main thread's profile of process `pid` (`CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`; thread 0 is the
 * main one, the others are tsx's loader thread).
 */
export function profileOf(dir: string, pid: number): string | undefined {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.0.`));
  return file && path.join(dir, file);
}

/** Source maps of a process's scripts that inline one, by script URL. */
export type ScriptMaps = Map<string, SourceMap>;

function dataUrlJson(url: string): SourceMapPayload {
  const comma = url.indexOf(',');
  const data = url.slice(comma + 1);
  const text = url.slice(0, comma).endsWith(';base64')
    ? Buffer.from(data, 'base64').toString('utf8')
    : decodeURIComponent(data);
  return JSON.parse(text) as SourceMapPayload;
}

/** The inline source maps of the scripts a live Node process has loaded, through its inspector. */
export function scriptSourceMaps(inspectorUrl: string): Promise<ScriptMaps> {
  return withInspector(inspectorUrl, async (session) => {
    const maps: ScriptMaps = new Map();
    session.on('Debugger.scriptParsed', ({ url, sourceMapURL }) => {
      if (typeof url !== 'string' || typeof sourceMapURL !== 'string' || !sourceMapURL) return;
      // tsx inlines its maps; tsc (the build the benchmark runs) writes them beside the scripts.
      if (sourceMapURL.startsWith('data:')) maps.set(url, new SourceMap(dataUrlJson(sourceMapURL)));
      else if (url.startsWith('file:') && url.includes('/dist/')) {
        const file = fileURLToPath(new URL(sourceMapURL, url));
        if (!existsSync(file)) return;
        const payload = JSON.parse(readFileSync(file, 'utf8')) as SourceMapPayload;
        // Its sources are relative to the map: made absolute, so that they print relative to the repository.
        const base = path.resolve(path.dirname(file), payload.sourceRoot ?? '');
        maps.set(url, new SourceMap({ ...payload, sources: payload.sources.map((s) => path.resolve(base, s)) }));
      }
    });
    // Enabling reports every script parsed so far before it answers.
    await session.call('Debugger.enable');
    await session.call('Debugger.disable');
    return maps;
  });
}

/** A file URL or path relative to the repository, without tsx's query. */
function relativeFile(source: string): string {
  const bare = source.replace(/\?.*$/, '');
  if (bare.startsWith('file:')) return path.relative(ROOT, fileURLToPath(bare));
  return path.isAbsolute(bare) ? path.relative(ROOT, bare) : bare;
}

/** A function's name and where it is: `name  file:line`, in the sources when the script has a map. */
export function label({ functionName, url, lineNumber, columnNumber }: CallFrame, maps: ScriptMaps): string {
  if (!url) return functionName;
  // `{}` where the map has nothing at that position.
  const entry = maps.get(url)?.findEntry(lineNumber, columnNumber);
  const [file, line] =
    entry && 'originalSource' in entry ? [entry.originalSource, entry.originalLine] : [url, lineNumber];
  return `${functionName || '(anonymous)'}  ${relativeFile(file)}:${line + 1}`;
}

/** Whether a time falls in one of the windows (which do not overlap): a binary search over their starts. */
function within(windows: readonly Window[]): (at: number) => boolean {
  const sorted = [...windows].sort((a, b) => a[0] - b[0]);
  return (at) => {
    let low = 0;
    let high = sorted.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (sorted[mid][0] > at) high = mid - 1;
      else if (sorted[mid][1] < at) low = mid + 1;
      else return true;
    }
    return false;
  };
}

/** Adds `file`'s samples inside `windows` to `into`; `(idle)` is left out. */
export function addSamples(file: string, windows: readonly Window[], maps: ScriptMaps, into: Samples): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const labels = new Map(profile.nodes.map((node) => [node.id, label(node.callFrame, maps)]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const add = (counts: Map<string, number>, name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);
  const inside = within(windows);
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    // Deltas are almost always positive, not always: each sample is looked up on its own.
    at += profile.timeDeltas[i];
    if (!inside(at)) return;
    const name = labels.get(id)!;
    if (name === '(idle)') return;
    add(into.self, name);
    into.busy += 1;
    const onStack = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parents.get(node))
      onStack.add(labels.get(node)!);
    onStack.delete('(root)');
    for (const caller of onStack) add(into.total, caller);
    const part = partOf(onStack);
    const counted = into.parts.get(part) ?? { samples: 0, us: 0 };
    counted.samples += 1;
    // The time since the sample before: what this one stands for.
    counted.us += Math.max(0, profile.timeDeltas[i]);
    into.parts.set(part, counted);
  });
}

/**
 * Every part of the busy samples (`partOf`), heaviest first, as lines: share of the busy samples, then the time they
 * stand for per window (an event, in the measured events) when `windows` is given. That time is the profiler's wall
 * clock between samples: it counts whole a write during which the kernel ran another process (a client, PostgreSQL)
 * on the same core, so it adds up to more than the thread's CPU.
 */
export function partEntries(samples: Samples, windows?: number): string[] {
  return [...samples.parts]
    .sort((a, b) => b[1].samples - a[1].samples)
    .map(([name, { samples: count, us }]) => {
      const share = `${((100 * count) / samples.busy).toFixed(1).padStart(5)}%`;
      return windows ? `${share}  ${(us / windows / 1000).toFixed(2).padStart(6)} ms  ${name}` : `${share}  ${name}`;
    });
}

/** The `limit` heaviest entries of `counts`, as lines: share of the busy samples, then the function. */
export function topEntries(counts: Map<string, number>, busy: number, limit = 15): string[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, count]) => `${((100 * count) / busy).toFixed(1).padStart(5)}%  ${name}`);
}
