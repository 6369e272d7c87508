import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Under the repository, so that the built files find node_modules/ and schema/ as the sources do. */
const CACHE = path.join(ROOT, 'node_modules/.cache/derm-test-server');
const ENV = 'DERM_TEST_SERVER_JS';

/**
 * The server's own processes (spawnServer, the operators' commands) run as JavaScript built once per run, as
 * `npm start` runs dist/, not through tsx: tsx's loader makes every start slower (idle, 2.2-2.5 s to "listening"
 * against 1.6-2.0 s), and more so beside other processes (client/test/retention.test.tsx, four starts and a prune:
 * 17-20 s through tsx, 9-11 s built). The sources are transpiled file by file (isolatedModules and
 * verbatimModuleSyntax make that what tsc emits; the types are `npm run typecheck`'s business) into a folder named
 * after their content, so an unchanged tree is not built again (1.6 s when it is). Runs in vitest's main process
 * (globalSetup.ts); the workers and the processes they start inherit the variable.
 */
export function buildServer(): string {
  const files = sources(path.join(ROOT, 'server/src'));
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  const key = hash.digest('hex').slice(0, 16);
  const out = path.join(CACHE, key);
  if (!existsSync(out)) {
    const building = `${out}.${process.pid}`;
    const { options } = ts.convertCompilerOptionsFromJson(
      { target: 'ES2022', module: 'ES2022', isolatedModules: true, verbatimModuleSyntax: true },
      ROOT,
    );
    for (const file of files) {
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
        compilerOptions: options,
        fileName: file,
      });
      const target = path.join(building, path.relative(ROOT, file).replace(/\.ts$/, '.js'));
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
    // Whole or not at all: another run of the same tree may be building it too.
    try {
      renameSync(building, out);
    } catch {
      rmSync(building, { recursive: true, force: true });
    }
  }
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
 * The command line that runs a server script (`server/src/….ts`, from the repository's root): its built JavaScript
 * when the run built it, else the sources through tsx.
 */
export function serverScript(script: string): string[] {
  const built = process.env[ENV];
  if (built) return [path.join(built, script.replace(/\.ts$/, '.js'))];
  return ['--import', 'tsx', path.join(ROOT, script)];
}
