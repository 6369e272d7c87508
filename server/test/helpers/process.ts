import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serverScript } from './serverBuild.js';
import { TEST_PASSWORD_HASH_COST } from './services.js';
import { copyPgliteTemplate } from './templates.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process logged so far. */
  output(): string;
  /** SIGTERM (graceful) or SIGKILL (crash); resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A TCP port free now on 127.0.0.1, for a server that must come back on the same port after a restart. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Prunes an embedded database's event log of everything committed before now, with the operators' command
 * (`npm run db -- prune`; the server must be stopped: the embedded database has one process at a time). Resolves with
 * what it printed.
 */
export async function pruneEventLog(dataDir: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...serverScript('server/src/db/cli.ts'), 'prune', '--before', new Date().toISOString()],
    { cwd: ROOT, env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir } },
  );
  return stdout;
}

/** What an operators' command printed, and its exit code. */
export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of an operators' command in the tests: quiet, no server to look for, the tests' hash cost. */
export function operatorEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    PORT: '0',
    PASSWORD_HASH_COST: String(TEST_PASSWORD_HASH_COST),
    ...env,
  };
}

/**
 * An operators' command (`npm run integrations`, `npm run clinics`) as an operator starts it: its own process (the
 * script, built (serverBuild.ts), without npm's banner), with `stdin` piped to it. PORT 0: no server to look for.
 */
export function operatorScript(
  script: string,
  args: string[],
  env: Record<string, string>,
  stdin = '',
): Promise<ScriptResult> {
  const child = spawn(process.execPath, [...serverScript(script), ...args], {
    cwd: ROOT,
    env: operatorEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.end(stdin);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** A shared secret so that tokens from one instance are accepted by another, as in a real deployment. */
export const SHARED_JWT_SECRET = randomBytes(32).toString('base64url');

/**
 * Starts the real server (`server/src/main.ts`, built: serverBuild.ts) as its own process on an ephemeral port and
 * resolves once it listens. Used where one process is not enough: several instances sharing PostgreSQL and Redis,
 * crashes, signals.
 */
export function spawnServer(env: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
  // A fresh embedded database starts as a copy of the run's seeded template (templates.ts), not with initdb.
  if (env.DATA_DIR && !env.DATABASE_URL && !existsSync(path.join(env.DATA_DIR, 'pglite'))) {
    copyPgliteTemplate(path.join(env.DATA_DIR, 'pglite'));
  }
  const child = spawn(process.execPath, serverScript('server/src/main.ts'), {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      JWT_SECRET: SHARED_JWT_SECRET,
      SEED_DEMO: 'true',
      // As startTestServer: tests sign in from one address far faster than a clinic does.
      RATE_LIMIT_ANONYMOUS: '1000000',
      PASSWORD_HASH_COST: String(TEST_PASSWORD_HASH_COST),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)\/graphql","msg":"derm-realtime listening"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({
          child,
          url: match[1],
          output: () => output,
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
}
