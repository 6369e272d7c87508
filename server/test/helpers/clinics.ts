import { clinicsCli as runClinicsCli } from '../../src/domains/clinics/cli.js';
import { operatorEnv, operatorScript, type ScriptResult } from './process.js';

/**
 * `npm run clinics -- <args>` run in this process: the operators' command itself, against the database of `env`, with
 * `stdin` as what is piped to it. PORT 0: no server to look for.
 */
export async function clinicsCli(args: string[], env: Record<string, string>, stdin?: string): Promise<ScriptResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runClinicsCli(args, operatorEnv(env), {
    log: (line) => stdout.push(line),
    error: (line) => stderr.push(line),
    ...(stdin === undefined ? {} : { readStdin: async () => stdin }),
  });
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

/** The same, as an operator starts it: its own process, `stdin` piped to it. */
export function clinicsScript(args: string[], env: Record<string, string>, stdin?: string): Promise<ScriptResult> {
  return operatorScript('server/src/domains/clinics/cli.ts', args, env, stdin);
}

/** `create <slug>` with every required option; `extra` adds or overrides options. */
export function createArgs(slug: string, extra: string[] = []): string[] {
  return [
    'create',
    slug,
    '--name',
    'Harbor Dermatology',
    '--time-zone',
    'Europe/Lisbon',
    '--admin-name',
    'Rita Alves',
    '--admin-email',
    `rita@${slug}.example`,
    ...extra,
  ];
}
