import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Under the repository, so that the built files find node_modules/ and schema/ as the sources do. */
const CACHE = path.join(ROOT, 'node_modules/.cache/derm-test-server');
const ENV = 'DERM_TEST_SERVER_JS';

/** The scripts the tests run as processes of their own: the server and the operators' commands. */
const ENTRIES = [
  'server/src/main.ts',
  'server/src/db/cli.ts',
  'server/src/domains/clinics/cli.ts',
  'server/src/domains/integrations/cli.ts',
];

/**
 * Left to Node at run time: PGlite finds its WebAssembly and data files beside its own module; vite and pino-pretty
 * serve development only; the rest are database drivers knex names but this server never loads.
 */
const EXTERNAL = [
  '@electric-sql/pglite',
  'knex-pglite',
  'vite',
  'pino-pretty',
  'mysql',
  'mysql2',
  'mariadb',
  'sqlite3',
  'better-sqlite3',
  'tedious',
  'oracledb',
  'pg-query-stream',
  'pg-native',
];

/**
 * The server's own processes (spawnServer, the operators' commands) run as JavaScript built once per run, not through
 * tsx: tsx's loader makes every start slower (idle, 2.2-2.5 s to "listening" against 1.6-2.0 s), and more so beside
 * other processes (client/test/retention.test.tsx, four starts and a prune: 17-20 s through tsx, 9-11 s built).
 *
 * Each script is one file with its dependencies (esbuild), not a tree of modules: Node 20 has no compile cache, and a
 * start spent most of its CPU finding, reading and compiling some thousand modules one by one. A start to "listening"
 * took 1.6-2.0 s of CPU transpiled file by file and 1.0-1.3 s bundled, on PostgreSQL (2026-12-03, three each); a run
 * of the suite starts some sixty such processes. The bundle is ESM, as our sources are (package.json's `"type":
 * "module"`, which esbuild reads to give CommonJS packages Node's own interop), in a folder under node_modules/, and
 * its `require` (for the packages bundled as CommonJS, and for those left to Node) is made from its own address.
 * Named after the content of the sources and the lock file, so an unchanged tree is not built again. The types are
 * `npm run typecheck`'s business. Runs in vitest's main process (globalSetup.ts); the workers and the processes they
 * start inherit the variable.
 */
export async function buildServer(): Promise<string> {
  // Imported here, in vitest's main process: the client's test files import this module under jsdom, where esbuild
  // refuses to load (its TextEncoder check fails there).
  const esbuild = await import('esbuild');
  const files = sources(path.join(ROOT, 'server/src'));
  const hash = createHash('sha256').update(esbuild.version).update('\0');
  for (const file of [...files, path.join(ROOT, 'package-lock.json')]) {
    hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  }
  const key = hash.digest('hex').slice(0, 16);
  const out = path.join(CACHE, key);
  if (!existsSync(out)) {
    const building = `${out}.${process.pid}`;
    await esbuild.build({
      entryPoints: ENTRIES.map((entry) => path.join(ROOT, entry)),
      outbase: ROOT,
      outdir: building,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: EXTERNAL,
      banner: {
        js: "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
      },
      logLevel: 'warning',
    });
    // Whole or not at all: another run of the same tree may be building it too.
    try {
      renameSync(building, out);
    } catch {
      rmSync(building, { recursive: true, force: true });
    }
  }
  // Node looks for the package.json that says a file is ESM no further up than a node_modules/ folder, so under the
  // cache the bundle would count as CommonJS: Node reads it, fails to compile it as such, detects its ESM syntax and
  // reads it again (`detectModuleFormat`), some 120 ms of CPU of a start's 1 s. Said here, it is read once.
  const manifest = path.join(out, 'package.json');
  if (!existsSync(manifest)) writeFileSync(manifest, '{ "type": "module" }\n');
  // Builds of trees that are gone.
  for (const old of readdirSync(CACHE)) {
    if (old !== key && !old.includes('.')) rmSync(path.join(CACHE, old), { recursive: true, force: true });
  }
  process.env[ENV] = out;
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/**
 * V8's flags for the processes the tests start. They live seconds, so the embedded database's WebAssembly stays with
 * V8's baseline compiler (Liftoff): its optimising tier recompiles PostgreSQL's hot functions on background threads,
 * about 0.9 s of CPU per start of an embedded server (3.0 against 2.1 s to "listening", 2026-12-03), which a process
 * that serves a test for a few seconds never earns back. The test workers, which run the embedded database for minutes,
 * keep the optimising tier: there it pays (the embedded project took 195 s of CPU with Liftoff alone, 153 s without).
 * Code generation only: what runs, and its results, are the same.
 */
const SHORT_LIVED = ['--liftoff-only'];

/**
 * The command line that runs a server script (`server/src/….ts`, from the repository's root): its built JavaScript
 * when the run built it, else the sources through tsx.
 */
export function serverScript(script: string): string[] {
  if (!ENTRIES.includes(script))
    throw new Error(`${script} is not built for the tests: add it to ENTRIES (serverBuild.ts)`);
  const built = process.env[ENV];
  if (built) return [...SHORT_LIVED, path.join(built, script.replace(/\.ts$/, '.js'))];
  return [...SHORT_LIVED, '--import', 'tsx', path.join(ROOT, script)];
}
