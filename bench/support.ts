import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

/** The repository root: every child process runs from here so that `--import tsx` resolves. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Which server a socket, an event or a figure belongs to. */
export type Target = 'graphql' | 'raw';

/**
 * Sockets of one audience receive the same events with the same bytes: the subscribers of one clinic, of one
 * selection, of one user's notifications. The orchestrator tells the workers which audiences each event is for, so
 * that a socket's n-th frame is the n-th event of its audience.
 */
export interface AudienceShare {
  name: string;
  /** Sockets of this audience the worker opens. */
  count: number;
  /** graphql only: what its sockets subscribe to, and with which tokens (used round-robin). */
  subscription?: { query: string; variables?: Record<string, unknown>; tokens: string[] };
}

/** Orchestrator → client worker (bench/clients.ts), over the fork IPC channel. */
export type WorkerCommand =
  | {
      type: 'connect';
      target: Target;
      /** `ws://host:port/graphql`. */
      url: string;
      audiences: AudienceShare[];
      /** Handshakes in flight at once. */
      concurrency: number;
    }
  /** Event `index` of `target` is about to be sent to these audiences: answered with `expecting`. */
  | { type: 'expect'; target: Target; index: number; audiences: string[] }
  | { type: 'close' };

/** Client worker → orchestrator. Times are milliseconds since the orchestrator's `epoch` (see `nowMs`). */
export type WorkerReport =
  | { type: 'ready'; pid: number }
  | { type: 'connected'; target: Target; count: number }
  /** How many of the worker's sockets will receive event `index`; an `event` report follows only if any. */
  | { type: 'expecting'; target: Target; index: number; receivers: number }
  | {
      type: 'event';
      target: Target;
      /** 0-based, over the events of the target. */
      index: number;
      /** When the worker's first and last receiver got it. */
      first: number;
      last: number;
      /**
       * Per audience, the exact text the worker's first socket of it received: replayed to the raw server (graphql),
       * compared (raw).
       */
      samples: Record<string, string>;
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

/**
 * CPU time of a process's main thread in ns (its /proc/<pid>/task/<pid>/schedstat): the JavaScript, and whatever of
 * the garbage collector runs on it; `procCpuNs` less this is V8's worker threads (concurrent marking, parallel
 * scavenges, the optimising compiler) and libuv's pool. NaN where schedstat is missing.
 */
export function mainThreadCpuNs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status). */
export function procRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * Resident bytes of glibc malloc's main arena, the process's `[heap]` mapping in /proc/<pid>/smaps: native memory that
 * Node and its addons took with malloc on the main thread, with what was freed and malloc kept (it gives back only the
 * top of that heap). Part of RSS that a forced garbage collection does not touch.
 */
export function procMallocHeapBytes(pid: number): number {
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const start = smaps.search(/ \[heap\]\n/);
  if (start < 0) return 0;
  const match = /^Rss:\s+(\d+) kB$/m.exec(smaps.slice(start));
  if (!match) throw new Error(`no Rss for the [heap] of process ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * How many local ports Linux hands out to outgoing connections (net.ipv4.ip_local_port_range). Every socket to one
 * server needs its own: a size above this cannot connect, whatever the open-file limit.
 */
export function ephemeralPortCount(): number {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return high - low + 1;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** The soft limit on open files of this process (children inherit it). */
export function openFileLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (!match || match[1] === 'unlimited') return Number.POSITIVE_INFINITY;
  return Number(match[1]);
}

/**
 * The server as `npm run build` makes it and `npm start` runs it: compiled by tsc. Not through tsx, as the tests run
 * it: tsx's esbuild transform keeps function names (`keepNames`) by redefining `name` on every function it creates,
 * which gives each closure a property table of its own (measured: 20.8 against 15.8 KB of heap per subscribed
 * connection) and costs CPU wherever closures are made.
 */
export const SERVER_BUILD = 'dist/server/src/main.js';

/**
 * The V8 flags `npm start` gives the server (package.json `config.nodeFlags`; README, "Node's heap"). The
 * benchmark starts both servers with them: the server as it ships, and the raw one on the same terms.
 */
export const SERVER_NODE_FLAGS: readonly string[] = (
  (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { config?: { nodeFlags?: string } }).config
    ?.nodeFlags ?? ''
)
  .split(/\s+/)
  .filter(Boolean);

/** Compiles the server into `dist/` as `npm run build` does (codegen, then tsc); returns a line saying so. */
export function buildServer(): string {
  const t = Date.now();
  execFileSync('npm', ['run', 'codegen', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  return `server built (${SERVER_BUILD}, as \`npm run build\` does) in ${((Date.now() - t) / 1000).toFixed(0)} s`;
}

export interface Spawned {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The http URL the process printed when it started listening. */
  url: string;
  /** The inspector's `ws://` URL, when started with `inspect`. */
  inspectorUrl?: string;
  /** The last lines the process printed (for error messages). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a Node process running an entry point (TypeScript through tsx, JavaScript as it is), keeps draining its output
 * (a full pipe would block it), and resolves once it prints a JSON line with `"url":"http://…"` (with a trailing
 * `/graphql` or not). With `inspect`, the inspector listens on a free local port (see `collectGarbage`).
 */
export function spawnListening(
  name: string,
  entry: string,
  env: Record<string, string>,
  options: { timeoutMs?: number; ipc?: boolean; nodeArgs?: readonly string[]; inspect?: boolean } = {},
): Promise<Spawned> {
  const { timeoutMs = 60_000, ipc = false, nodeArgs = [], inspect = false } = options;
  // TypeScript through tsx; JavaScript (a build) as it is.
  const loader = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const args = [...nodeArgs, ...(inspect ? ['--inspect=127.0.0.1:0'] : []), ...loader, path.join(ROOT, entry)];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  // Node prints it first thing on stderr: caught as it comes, before later output pushes it out of `output`.
  let inspectorUrl: string | undefined;
  const findInspector = (chunk: Buffer) => {
    inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(chunk.toString())?.[1];
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
        inspectorUrl,
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
    child.stderr!.on('data', (chunk: Buffer) => {
      if (inspect) findInspector(chunk);
      keep(chunk);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!listening) reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${output.slice(-4000)}`));
    });
  });
}

/** A Chrome DevTools Protocol session with another Node process's inspector. */
export interface InspectorSession {
  call(method: string, params?: Record<string, unknown>): Promise<unknown>;
  /** Hears the process's notifications (`Debugger.scriptParsed`, …). */
  on(event: string, listener: (params: Record<string, unknown>) => void): void;
}

/**
 * Opens a session with a Node process's inspector (its `ws://` URL, see `spawnListening`), runs `use` and closes it:
 * a session left open would make the process wait for its debugger when it exits.
 */
export async function withInspector<T>(
  inspectorUrl: string,
  use: (session: InspectorSession) => Promise<T>,
): Promise<T> {
  const socket = new WebSocket(inspectorUrl, { perMessageDeflate: false, maxPayload: 0 });
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (err: Error) => void }>();
  const listeners = new Map<string, (params: Record<string, unknown>) => void>();
  let lastId = 0;
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
      method?: string;
      params?: Record<string, unknown>;
    };
    if (message.method) listeners.get(message.method)?.(message.params ?? {});
    const call = message.id === undefined ? undefined : pending.get(message.id);
    if (!call) return;
    pending.delete(message.id!);
    if (message.error) call.reject(new Error(message.error.message));
    else call.resolve(message.result);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  socket.on('error', (err) => pending.forEach(({ reject }) => reject(err)));
  socket.on('close', () => pending.forEach(({ reject }) => reject(new Error('the inspector closed the session'))));
  const session: InspectorSession = {
    call: (method, params) =>
      new Promise((resolve, reject) => {
        const id = ++lastId;
        pending.set(id, { resolve, reject });
        socket.send(JSON.stringify({ id, method, params }));
      }),
    on: (event, listener) => listeners.set(event, listener),
  };
  try {
    return await use(session);
  } finally {
    if (socket.readyState === WebSocket.OPEN) socket.close();
  }
}

/**
 * A full garbage collection in another Node process, through its inspector (`HeapProfiler.collectGarbage`): what is
 * left in its RSS afterwards is held, not garbage yet to be collected.
 */
export async function collectGarbage(inspectorUrl: string): Promise<void> {
  await withInspector(inspectorUrl, (session) => session.call('HeapProfiler.collectGarbage'));
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
