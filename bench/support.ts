import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: every child process runs from here so that `--import tsx` resolves. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Which server a socket, an event or a figure belongs to. */
export type Target = 'graphql' | 'raw';

/** Orchestrator → client worker (bench/clients.ts), over the fork IPC channel. */
export type WorkerCommand =
  | {
      type: 'connect';
      target: Target;
      /** `ws://host:port/graphql`. */
      url: string;
      count: number;
      /** graphql only: a token per subscriber, used round-robin. */
      tokens?: string[];
      /** graphql only: the subscription document. */
      query?: string;
      /** Handshakes in flight at once. */
      concurrency: number;
    }
  | { type: 'close' };

/** Client worker → orchestrator. Times are milliseconds since the orchestrator's `epoch` (see `nowMs`). */
export type WorkerReport =
  | { type: 'ready'; pid: number }
  | { type: 'connected'; target: Target; count: number }
  | {
      type: 'event';
      target: Target;
      /** 0-based: the n-th frame every socket of this target received. */
      index: number;
      first: number;
      last: number;
      /** The exact text the worker's first socket received: replayed to the raw server (graphql), compared (raw). */
      sample?: string;
    }
  | { type: 'failed'; message: string }
  | { type: 'closed' };

/**
 * A clock shared by every process of the run: `process.hrtime` reads CLOCK_MONOTONIC, which is system-wide on Linux,
 * so a time taken in a client worker and one taken here compare directly. Relative to an epoch, in ms, to stay small.
 */
export function nowMs(epoch: bigint): number {
  return Number(process.hrtime.bigint() - epoch) / 1e6;
}

let clockTicks: number | undefined;
/** USER_HZ, the unit of /proc/<pid>/stat's times (100 on mainstream Linux builds). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of a whole process (all threads) from /proc/<pid>/stat, in ns; 10 ms resolution. */
export function procStatCpuNs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // fields 14 (utime) and 15 (stime)
  return (ticks * 1e9) / ticksPerSecond();
}

/**
 * CPU time of a whole process in ns, with ns resolution: the sum of `sum_exec_runtime` over its threads
 * (/proc/<pid>/task/<tid>/schedstat, first field). Node's threads (main, V8 platform workers, libuv pool) live as long
 * as the process, so the sum is monotonic in practice. Falls back to /proc/<pid>/stat where schedstat is missing.
 */
export function procCpuNs(pid: number): number {
  try {
    let sum = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        sum += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended between the listing and the read
      }
    }
    if (sum > 0) return sum;
  } catch {
    // no schedstat
  }
  return procStatCpuNs(pid);
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status). */
export function procRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** The soft limit on open files of this process (children inherit it). */
export function openFileLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (!match || match[1] === 'unlimited') return Number.POSITIVE_INFINITY;
  return Number(match[1]);
}

export interface Spawned {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The http URL the process printed when it started listening. */
  url: string;
  /** The last lines the process printed (for error messages). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a Node process running a TypeScript entry point through tsx, keeps draining its output (a full pipe would
 * block it), and resolves once it prints a JSON line with `"url":"http://…"` (with a trailing `/graphql` or not).
 */
export function spawnListening(
  name: string,
  entry: string,
  env: Record<string, string>,
  options: { timeoutMs?: number; ipc?: boolean; nodeArgs?: string[] } = {},
): Promise<Spawned> {
  const { timeoutMs = 60_000, ipc = false, nodeArgs = [] } = options;
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(ROOT, entry)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let listening = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${output.slice(-4000)}`));
    }, timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (listening) return;
      const match = /"url":"(http:\/\/[^"/]+)(?:\/graphql)?"/.exec(output);
      if (!match) return;
      listening = true;
      clearTimeout(timer);
      resolve({
        name,
        child,
        pid: child.pid!,
        url: match[1],
        output: () => output,
        async stop(graceMs = 15_000) {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(force);
        },
      });
    });
    child.stderr!.on('data', keep);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!listening) reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${output.slice(-4000)}`));
    });
  });
}

/** Nearest-rank percentile of unsorted numbers (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export const median = (values: readonly number[]) => percentile(values, 50);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns true; throws `what` after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: () => string,
  everyMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await sleep(everyMs);
  }
}
