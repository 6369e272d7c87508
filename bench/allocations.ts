/**
 * What the server allocates while the N clients connect and subscribe (BENCH_ALLOC): V8's sampling heap profiler,
 * started through the server's inspector before the first client connects and stopped once all N subscriptions are
 * live, keeping the samples of objects already collected (by scavenges and full collections alike). RSS right after
 * connecting is mostly this garbage, not yet collected or not yet given back (README, "Results"); this says which
 * functions make it.
 */
import { type ScriptMaps, label } from './profile.js';
import { withInspector } from './support.js';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

interface SamplingHeapProfile {
  head: ProfileNode;
}

/** A sampling in progress; `stop` ends it and answers what was allocated, by function. */
export interface AllocationSampling {
  stop(): Promise<SamplingHeapProfile>;
}

/** One sample per 16 KiB allocated on average: some ten thousand samples for 1,000 connections. */
const SAMPLING_INTERVAL = 16 * 1024;

/** Starts sampling the allocations of the process behind `inspectorUrl`; the session stays open until `stop`. */
export async function startAllocationSampling(inspectorUrl: string): Promise<AllocationSampling> {
  let started!: () => void;
  let failed!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => ((started = resolve), (failed = reject)));
  let finish!: () => void;
  const stopping = new Promise<void>((resolve) => (finish = resolve));
  const done = withInspector(inspectorUrl, async (session) => {
    await session.call('HeapProfiler.startSampling', {
      samplingInterval: SAMPLING_INTERVAL,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    started();
    await stopping;
    const { profile } = (await session.call('HeapProfiler.stopSampling')) as { profile: SamplingHeapProfile };
    return profile;
  });
  done.catch(failed);
  await ready;
  return {
    stop: () => {
      finish();
      return done;
    },
  };
}

/**
 * Bytes allocated per connection by function: self (allocated by the function itself) and total (by it and what it
 * called; once per sample however often it is on the stack), the `top` heaviest of each, as lines.
 */
export function allocationReport(profile: SamplingHeapProfile, maps: ScriptMaps, connections: number, top = 20) {
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  const add = (counts: Map<string, number>, name: string, bytes: number) =>
    counts.set(name, (counts.get(name) ?? 0) + bytes);
  const walk = (node: ProfileNode, stack: string[]) => {
    const name = label(node.callFrame, maps);
    const onStack = [...stack, name];
    if (node.selfSize > 0) {
      all += node.selfSize;
      add(self, name, node.selfSize);
      for (const caller of new Set(onStack)) if (caller !== '(root)') add(total, caller, node.selfSize);
    }
    for (const child of node.children) walk(child, onStack);
  };
  walk(profile.head, []);
  const lines = (counts: Map<string, number>) =>
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, bytes]) => `${(bytes / connections / 1024).toFixed(2).padStart(7)} KiB  ${name}`);
  // Node's own frames (streams, ticks) are on nearly every stack and say nothing of where the allocation starts.
  const ours = new Map([...total].filter(([name]) => / {2}(?!node:)/.test(name)));
  return {
    perConnectionKiB: all / connections / 1024,
    self: lines(self),
    total: lines(ours),
  };
}
