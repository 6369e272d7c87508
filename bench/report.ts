/**
 * The fan-out benchmark's figures (bench/fanout.ts) and their tables: per N and case, each server's figure and the
 * ratio; over several runs, the median with its min–max spread.
 */
import { caseName } from './scenarios.js';
import { median, percentile } from './support.js';

export interface EventSample {
  /** Trigger sent → first / last subscriber received, ms. */
  first: number;
  last: number;
  /** Trigger sent → its HTTP answer (the mutation's response), ms. */
  answered: number;
  /** Frames the event gave: the subscribers it reached. */
  delivered: number;
  /** CPU of the server from just before the trigger to the end of the pause after the event, ns. */
  serverCpuNs: number;
  /** Of which on its main thread, ns (`mainThreadCpuNs`; NaN where it cannot be read). */
  serverMainCpuNs: number;
  /** CPU of all client workers over the same window, ns. */
  clientCpuNs: number;
  /** That window, in ms of the benchmark's clock (see `nowMs`). */
  fromMs: number;
  toMs: number;
}

export interface Side {
  samples: EventSample[];
  /** utime + stime over the whole measured span (a cross-check of the per-event sums), ns. */
  statCpuNs: number;
  /**
   * VmRSS before connecting, bytes: after a forced garbage collection (the baseline of `rssEndGc`), and plain (the
   * baseline of the others).
   */
  rssBeforeGc: number;
  rssBefore: number;
  rssConnected: number;
  rssEnd: number;
  /** After the events and a forced garbage collection. */
  rssEndGc: number;
  /**
   * The JavaScript heap in use (`process.memoryUsage().heapUsed`) where `rssBeforeGc` and `rssEndGc` are read, bytes:
   * the part of RSS that is objects, apart from native memory (socket buffers, ws's and Node's native parts).
   */
  heapBeforeGc: number;
  heapEndGc: number;
  /**
   * glibc malloc's main arena where `rssBeforeGc` and `rssEndGc` are read, bytes (`procMallocHeapBytes`): native memory
   * in use, and freed memory malloc kept.
   */
  mallocBeforeGc: number;
  mallocEndGc: number;
  /** CPU while holding the N connections with no event, ns per second (timers, keep-alive pings, presence renewals). */
  restCpuNsPerS: number;
  /** From the first handshake to the last subscription live (graphql) or socket open (raw), ms. */
  connectMs: number;
  /**
   * CPU per event over the second half of the prewarm (`prewarmTriggers`), ns: events sent one after another with no
   * pause and nobody subscribed. NaN without a prewarm.
   */
  prewarmCpuNs: number;
}

/** One run of one case at one N, with fresh servers. */
export interface CaseRun {
  n: number;
  /** "1 clinic", "10 clinics", "mixed". */
  scenario: string;
  /** Events reach different numbers of subscribers: CPU is then pooled over the events rather than a median. */
  mixed: boolean;
  graphql: Side;
  raw: Side;
  /** Size of each distinct frame delivered, bytes. */
  frameBytes: number[];
  /** The server's delivery groups and their members with the N subscriptions live (/metrics). */
  groups: number;
  groupMembers: number;
}

interface Figures {
  cpuUs: number;
  cpuPooledUs: number;
  cpuStatUs: number;
  /** Share of the events' server CPU spent on the main thread, %. */
  mainThreadShare: number;
  p50: number;
  p99: number;
  firstP50: number;
  answeredP50: number;
  rssKiB: number;
  rssEndKiB: number;
  rssGcKiB: number;
  heapGcKiB: number;
  mallocGcKiB: number;
  clientCpuUs: number;
  connectS: number;
  restMsPerS: number;
  restUsPerConnection: number;
  prewarmMs: number;
}

function figures(side: Side, n: number): Figures {
  const deliveries = side.samples.reduce((sum, s) => sum + s.delivered, 0);
  const perConnection = (bytes: number) => bytes / n / 1024;
  return {
    cpuUs: median(side.samples.map((s) => s.serverCpuNs / s.delivered)) / 1000,
    cpuPooledUs: side.samples.reduce((sum, s) => sum + s.serverCpuNs, 0) / deliveries / 1000,
    cpuStatUs: side.statCpuNs / deliveries / 1000,
    mainThreadShare:
      (100 * side.samples.reduce((sum, s) => sum + s.serverMainCpuNs, 0)) /
      side.samples.reduce((sum, s) => sum + s.serverCpuNs, 0),
    p50: median(side.samples.map((s) => s.last)),
    p99: percentile(
      side.samples.map((s) => s.last),
      99,
    ),
    firstP50: median(side.samples.map((s) => s.first)),
    answeredP50: median(side.samples.map((s) => s.answered)),
    rssKiB: perConnection(side.rssConnected - side.rssBefore),
    rssEndKiB: perConnection(side.rssEnd - side.rssBefore),
    rssGcKiB: perConnection(side.rssEndGc - side.rssBeforeGc),
    heapGcKiB: perConnection(side.heapEndGc - side.heapBeforeGc),
    mallocGcKiB: perConnection(side.mallocEndGc - side.mallocBeforeGc),
    clientCpuUs: median(side.samples.map((s) => s.clientCpuNs / s.delivered)) / 1000,
    connectS: side.connectMs / 1000,
    restMsPerS: side.restCpuNsPerS / 1e6,
    restUsPerConnection: side.restCpuNsPerS / n / 1000,
    prewarmMs: side.prewarmCpuNs / 1e6,
  };
}

const fmt = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/** The middle of the runs' values; of two, their mean (the nearest rank would be the lower one). */
function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = sorted.length >> 1;
  return sorted.length % 2 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
}

/** One figure over the runs: the value, or the median with its min–max spread (when the runs differ). */
function cell(values: number[], digits: number): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return 'n/a';
  const [low, high] = [fmt(Math.min(...finite), digits), fmt(Math.max(...finite), digits)];
  return low === high ? low : `${fmt(middle(finite), digits)} (${low}–${high})`;
}

/** Ratios of the runs, each run's figures divided by each other. */
function ratioCell(pairs: [number, number][]): string {
  const ratios = pairs.filter(([, b]) => b > 0).map(([a, b]) => a / b);
  if (ratios.length === 0 || !ratios.every(Number.isFinite)) return 'n/a';
  const [value, spread] = cell(ratios, 1).split(' ');
  return spread ? `${value}× ${spread}` : `${value}×`;
}

/** A Markdown table, the first `textColumns` left-aligned, numbers right-aligned: paste-able into the README as is. */
function markdown(rows: string[][], textColumns = 3): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) =>
    `| ${row.map((c, i) => (i >= textColumns ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i >= textColumns ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}

const HEADER = ['N', 'case', 'metric', 'derm-realtime', 'raw ws', 'ratio'];

/** The runs of each N and case, in the order they were run. */
function byCase(runs: CaseRun[]): CaseRun[][] {
  const cases = new Map<string, CaseRun[]>();
  for (const run of runs) {
    const key = `${run.n}|${run.scenario}`;
    cases.set(key, [...(cases.get(key) ?? []), run]);
  }
  return [...cases.values()];
}

/** Builds the rows of one N and case: each metric over its runs. */
function rowsOf(runs: CaseRun[]) {
  const { n, scenario } = runs[0];
  const figs = runs.map((r) => ({ graphql: figures(r.graphql, n), raw: figures(r.raw, n) }));
  const prefix = [n.toLocaleString('en-US'), scenario];
  return {
    metric(label: string, pick: (f: Figures) => number, digits: [number, number], withRatio = true): string[] {
      return [
        ...prefix,
        label,
        cell(
          figs.map((f) => pick(f.graphql)),
          digits[0],
        ),
        cell(
          figs.map((f) => pick(f.raw)),
          digits[1],
        ),
        withRatio ? ratioCell(figs.map((f) => [pick(f.graphql), pick(f.raw)])) : '—',
      ];
    },
    text(label: string, graphql: string): string[] {
      return [...prefix, label, graphql, '—', '—'];
    },
    figs,
  };
}

/** The headline figures. */
export function table(runs: CaseRun[]): string {
  const rows = [HEADER];
  for (const group of byCase(runs)) {
    const r = rowsOf(group);
    const events = group[0].graphql.samples.length;
    const cpu = group[0].mixed
      ? r.metric("server CPU per delivered event (µs, all events' CPU / frames)", (f) => f.cpuPooledUs, [1, 2])
      : r.metric('server CPU per delivered event (µs, median of events)', (f) => f.cpuUs, [1, 2]);
    rows.push(
      cpu,
      r.metric('fan-out latency p50 (ms, sent → last subscriber)', (f) => f.p50, [1, 1]),
      r.metric(`fan-out latency p99 (ms, of ${events} events)`, (f) => f.p99, [1, 1]),
      r.metric('server RSS per connection (KiB)', (f) => f.rssKiB, [1, 1]),
      r.metric('server RSS per connection after the events, forced GC (KiB)', (f) => f.rssGcKiB, [1, 1]),
      r.text(
        'delivery groups (members)',
        `${cell(
          group.map((g) => g.groups),
          0,
        )} (${cell(
          group.map((g) => g.groupMembers),
          0,
        )})`,
      ),
    );
  }
  return markdown(rows);
}

/** Figures that explain the headline ones. */
export function details(runs: CaseRun[]): string {
  const rows = [HEADER];
  for (const group of byCase(runs)) {
    const r = rowsOf(group);
    // The headline has one of the two ways of counting CPU per delivery; this is the other.
    const cpu = group[0].mixed
      ? r.metric('server CPU per delivery, median of events (µs)', (f) => f.cpuUs, [1, 2])
      : r.metric('server CPU per delivery, mean of events (µs)', (f) => f.cpuPooledUs, [1, 2]);
    rows.push(
      r.metric('trigger answered p50 (ms: mutation / broadcast POST)', (f) => f.answeredP50, [1, 1]),
      r.metric('first subscriber received p50 (ms)', (f) => f.firstP50, [1, 1]),
      cpu,
      r.metric('same, from utime+stime over the whole span (µs)', (f) => f.cpuStatUs, [1, 2]),
      r.metric(
        "share of the events' server CPU on its main thread (%; the rest: V8's GC and compiler threads)",
        (f) => f.mainThreadShare,
        [0, 0],
        false,
      ),
      r.metric('server RSS per connection after the events (KiB)', (f) => f.rssEndKiB, [1, 1]),
      r.metric('of which heap used per connection, forced GC (KiB)', (f) => f.heapGcKiB, [1, 1]),
      r.metric("of which malloc's main arena per connection, forced GC (KiB)", (f) => f.mallocGcKiB, [1, 1]),
      r.metric('time to connect the N clients (s; graphql: until subscribed)', (f) => f.connectS, [1, 1]),
      r.metric(
        'server CPU at rest with the N connections open (ms/s)',
        (f) => f.restMsPerS,
        [1, 1],
        r.figs.every((f) => f.raw.restMsPerS >= 1),
      ),
      r.metric('server CPU at rest per idle connection (µs/s)', (f) => f.restUsPerConnection, [2, 3]),
      r.metric('load generator CPU per received frame (µs)', (f) => f.clientCpuUs, [1, 1]),
      r.metric(
        "server CPU per event sent back to back, nobody subscribed (ms; the prewarm's second half)",
        (f) => f.prewarmMs,
        [2, 2],
      ),
    );
  }
  const frames = byCase(runs).map((group) => {
    const sizes = group.flatMap((g) => g.frameBytes);
    const range =
      Math.min(...sizes) === Math.max(...sizes) ? `${sizes[0]} B` : `${Math.min(...sizes)}–${Math.max(...sizes)} B`;
    return `${group[0].n.toLocaleString('en-US')} ${group[0].scenario}: ${range}`;
  });
  return `${markdown(rows)}\nframes: ${frames.join('; ')} (the same bytes to both servers' subscribers)`;
}

/** The reference case, always run: the name `caseName` gives it. */
const ONE_CLINIC = caseName({ kind: 'clinics', clinics: 1 });

/**
 * C clinics against 1, per N: CPU per delivered event of each server (median of runs) and how C compares to 1. The
 * goal is that the GraphQL server's figure does not grow with the number of clinics.
 */
export function clinicsComparison(runs: CaseRun[], clinics: number): string[] {
  const lines: string[] = [];
  const name = caseName({ kind: 'clinics', clinics });
  for (const n of [...new Set(runs.map((r) => r.n))]) {
    const one = runs.filter((r) => r.n === n && r.scenario === ONE_CLINIC);
    const many = runs.filter((r) => r.n === n && r.scenario === name);
    if (one.length === 0 || many.length === 0) continue;
    const cpu = (list: CaseRun[], side: 'graphql' | 'raw') => middle(list.map((r) => figures(r[side], n).cpuUs));
    const side = (label: string, key: 'graphql' | 'raw') => {
      const [a, b] = [cpu(many, key), cpu(one, key)];
      return `${label} ${fmt(a, 2)} against ${fmt(b, 2)} µs (${fmt(a / b, 2)}×)`;
    };
    lines.push(
      `N = ${n.toLocaleString('en-US')}, ${name} against 1, server CPU per delivered event: ` +
        `${side('derm-realtime', 'graphql')}; ${side('raw ws', 'raw')}. Goal: derm-realtime ≤ 1.0× (as the raw server).`,
    );
  }
  return lines;
}

/**
 * What an event costs however many receive it, and what each further delivery adds, from the 1-clinic case's server
 * CPU per event at each N (the median over the events, then the middle of the runs): per server, the CPU added per
 * delivery between consecutive sizes, and the event's own cost, where the line through the two smallest sizes meets
 * N = 0 (for derm-realtime the mutation: HTTP, authentication, the transaction, the wake-up, the delivery's reads; for
 * the raw server its HTTP trigger). It tells how much of the ratio per delivered event is the event's fixed cost and
 * how much the fan-out itself. Needs two sizes or more; a small one (`--sizes=10,1000,5000`) pins the fixed cost.
 */
export function costSplit(runs: CaseRun[]): string[] {
  const single = runs.filter((r) => r.scenario === ONE_CLINIC);
  const sizes = [...new Set(single.map((r) => r.n))].sort((a, b) => a - b);
  if (sizes.length < 2) return [];
  // The headline's figure (each event reaches all N here), back to ns per event.
  const perEventNs = (side: 'graphql' | 'raw') =>
    sizes.map((n) => middle(single.filter((r) => r.n === n).map((r) => figures(r[side], n).cpuUs * n * 1000)));
  const [graphql, raw] = [perEventNs('graphql'), perEventNs('raw')];
  const count = (n: number) => n.toLocaleString('en-US');
  const ms = (ns: number) => `${fmt(ns / 1e6, 2)} ms`;
  const slope = (ns: number[], i: number) => (ns[i + 1] - ns[i]) / (sizes[i + 1] - sizes[i]);
  const steps = sizes.slice(1).map((n, i) => {
    const [a, b] = [slope(graphql, i), slope(raw, i)];
    return `from ${count(sizes[i])} to ${count(n)}: ${fmt(a / 1000, 2)} against ${fmt(b / 1000, 2)} µs (${fmt(a / b, 2)}×)`;
  });
  const fixed = (ns: number[]) => ns[0] - slope(ns, 0) * sizes[0];
  const [fixedGraphql, fixedRaw] = [fixed(graphql), fixed(raw)];
  const shares = sizes.slice(1).map((n, i) => `${fmt((100 * fixedGraphql) / graphql[i + 1], 0)}% at ${count(n)}`);
  // Nobody is subscribed during the prewarm: every size's runs measure the same event, sent without a pause.
  const [warmGraphql, warmRaw] = (['graphql', 'raw'] as const).map((side) =>
    middle(single.map((r) => r[side].prewarmCpuNs).filter(Number.isFinite)),
  );
  const backToBack = Number.isFinite(warmGraphql)
    ? [
        `  The same event sent back to back, nobody subscribed (the prewarm's second half, middle of runs): ` +
          `derm-realtime ${ms(warmGraphql)}, raw ws ${ms(warmRaw)} (${fmt(warmGraphql / warmRaw, 1)}×); the measured ` +
          `events come one at a time, each after the last one's pause.`,
      ]
    : [];
  return [
    `Cost split, 1 clinic: server CPU per event (median of events, middle of runs) at N = ${sizes.map(count).join(', ')}: ` +
      `derm-realtime ${graphql.map(ms).join(', ')}; raw ws ${raw.map(ms).join(', ')}.`,
    `  Each further delivery, derm-realtime against raw ws: ${steps.join('; ')}.`,
    `  The event's own cost (the line through the two smallest sizes, at N = 0): derm-realtime ${ms(fixedGraphql)}, ` +
      `raw ws ${ms(fixedRaw)} (${fmt(fixedGraphql / fixedRaw, 1)}×); of derm-realtime's CPU per event, ${shares.join(', ')}.`,
    ...backToBack,
  ];
}
