import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { dayInZone, formatClinicInstant } from '../../clinicTime.js';
import { loadConfig } from '../../config.js';
import type { TenantRow } from '../../db/rows.js';
import { tenantChannel, type SessionSignal } from '../../events/channels.js';
import {
  announcing,
  exitCodeOf,
  openOperatorDb,
  processOutput,
  UsageError,
  type CliOutput,
} from '../../operatorCli.js';
import { clinicSummaries, disableTenant, enableTenant, type ClinicSummary } from './data.js';
import { createClinic } from './onboarding.js';

const USAGE = `Clinics, for operators (docs/architecture.md, "Clinics").

  npm run clinics -- create <slug> --name <name> --time-zone <IANA zone> --admin-name <name> --admin-email <email>
                               [--password-stdin] [--json]
  npm run clinics -- list [--json]
  npm run clinics -- disable <slug> [--json]
  npm run clinics -- enable <slug> [--json]

create makes the clinic and its first admin in one transaction. The admin's password is generated (32 random
characters), printed once and never stored in clear: hand it over safely; the admin can change it (changePassword).
With --password-stdin the password is read from standard input instead, and must meet the password rules.
disable refuses the clinic's tokens and sign-ins from now on and closes its live connections; enable lets its staff
sign in again (sessions from before the disable stay over).
Uses DATABASE_URL, or the embedded database under DATA_DIR (stop the server first: the embedded database has one
process at a time). With REDIS_URL, disable closes the clinic's live connections on every server at once; without it,
each server closes them at its next check (within 5 seconds).`;

/** The option that gives each field of the input, for messages (the slug's messages name it). */
const OPTION_OF: Record<string, string> = {
  name: '--name',
  timeZone: '--time-zone',
  adminName: '--admin-name',
  adminEmail: '--admin-email',
  password: '--password-stdin',
};

const status = (t: TenantRow) => (t.disabledAt ? 'disabled' : 'active');

const publicFields = (t: TenantRow) => ({
  id: t.id,
  slug: t.slug,
  name: t.name,
  timeZone: t.timeZone,
  status: status(t),
  createdAt: t.createdAt,
  disabledAt: t.disabledAt,
});

/** Columns padded to their widest cell. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function listing(clinics: ClinicSummary[]): string[] {
  if (clinics.length === 0) return ['no clinics yet: npm run clinics -- create'];
  return table(
    ['SLUG', 'NAME', 'TIME ZONE', 'STATUS', 'STAFF', 'CREATED'],
    clinics.map((c) => [
      c.slug,
      c.name,
      c.timeZone,
      status(c),
      String(c.staff),
      // The day it was created in the clinic's own zone (docs/architecture.md, "Time").
      dayInZone(c.createdAt, c.timeZone),
    ]),
  );
}

/**
 * `npm run clinics -- <args>`: runs the command against the database of `env` and resolves with the exit code (0 done,
 * 2 bad usage or bad input, with nothing written; 1 unexpected). Bad usage is refused before any database is opened.
 */
export async function clinicsCli(
  args: string[],
  env: Record<string, string | undefined> = process.env,
  out: CliOutput = processOutput,
): Promise<number> {
  return exitCodeOf(
    () => run(args, env, out),
    out,
    USAGE,
    (err) => {
      const option = OPTION_OF[err.extensions.field as string];
      return `error: ${err.message}${option ? ` (${option})` : ''}; nothing was written`;
    },
  );
}

async function run(args: string[], env: Record<string, string | undefined>, out: CliOutput): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        'time-zone': { type: 'string' },
        'admin-name': { type: 'string' },
        'admin-email': { type: 'string' },
        'password-stdin': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, slug, ...extra] = positionals;
  if (values.help || !command) {
    out.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (!['create', 'list', 'disable', 'enable'].includes(command)) throw new UsageError(`Unknown command "${command}"`);
  if (command !== 'list' && !slug) throw new UsageError(`${command} needs the clinic's slug`);
  if (command === 'list' && slug) throw new UsageError(`list takes no argument ("${slug}")`);
  if (extra.length > 0) throw new UsageError(`Unexpected argument "${extra[0]}"`);
  if (command === 'create') {
    for (const option of ['name', 'time-zone', 'admin-name', 'admin-email'] as const)
      if (values[option] === undefined) throw new UsageError(`--${option} is required`);
  }
  let password: string | undefined;
  if (values['password-stdin']) {
    if (command !== 'create') throw new UsageError('--password-stdin is for create');
    if (!out.readStdin) throw new UsageError('Nothing is piped to standard input');
    // One line: what `echo` or a password manager pipes ends with a newline that is not part of it.
    password = (await out.readStdin()).replace(/\r?\n$/, '');
  }

  const config = loadConfig(env);
  const db = await openOperatorDb(config, 'Stop it first: clinics are managed with the servers stopped.');
  try {
    if (command === 'create') {
      const { tenant, admin, generatedPassword } = await createClinic(
        db,
        {
          slug: slug!,
          name: values.name!,
          timeZone: values['time-zone']!,
          adminName: values['admin-name']!,
          adminEmail: values['admin-email']!,
          adminPassword: password,
        },
        config.passwordHashCost,
      );
      const adminFields = { id: admin.id, name: admin.name, email: admin.email, role: admin.role };
      if (values.json) {
        out.log(JSON.stringify({ ...publicFields(tenant), admin: { ...adminFields, password: generatedPassword } }));
      } else {
        out.log(`created clinic ${tenant.slug} (${tenant.name}), time zone ${tenant.timeZone}`);
        out.log(`admin: ${admin.name} <${admin.email}>`);
        if (generatedPassword) {
          out.log(`password: ${generatedPassword}`);
          out.log('Hand the password over safely now: it is not shown again (only its hash is kept).');
        }
        out.log(`Staff sign in with the clinic "${tenant.slug}", their email and password.`);
      }
    } else if (command === 'list') {
      const clinics = await clinicSummaries(db);
      if (values.json) out.log(JSON.stringify(clinics.map((c) => ({ ...publicFields(c), staff: c.staff }))));
      else for (const line of listing(clinics)) out.log(line);
    } else {
      const normalized = slug!.trim().toLowerCase();
      const { tenant, announced } =
        command === 'disable'
          ? // Connecting while the change is made, so that the signal follows its commit at once.
            await announcing(config, async (announcer) => {
              const disabled = await disableTenant(db, normalized);
              if (!disabled) return { tenant: undefined, announced: false };
              // Every instance closes the clinic's live connections at once (domains/identity/sessions.ts).
              const signal: SessionSignal = { kind: 'tenantDisabled' };
              const channel = tenantChannel({ tenantId: disabled.id }, 'sessions');
              return { tenant: disabled, announced: await announcer.publish(channel, signal) };
            })
          : { tenant: await enableTenant(db, normalized), announced: false };
      if (!tenant) throw new UsageError(`No clinic with the slug "${slug}"`);
      if (values.json)
        out.log(JSON.stringify({ ...publicFields(tenant), ...(command === 'disable' ? { announced } : {}) }));
      else if (command === 'disable') {
        out.log(
          `disabled ${tenant.slug} (${tenant.name}) since ${formatClinicInstant(tenant.disabledAt!, tenant.timeZone)} (${tenant.timeZone})`,
        );
        out.log(
          announced
            ? 'Its tokens are refused from now on, and its live connections were told to close.'
            : 'Its tokens are refused from now on; servers close its live connections at their next check (within 5 seconds).',
        );
      } else {
        out.log(`enabled ${tenant.slug} (${tenant.name}): its staff can sign in again`);
      }
    }
  } finally {
    await db.destroy();
  }
  return 0;
}

// Run as a script (`npm run clinics`), not when imported by a test.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await clinicsCli(process.argv.slice(2));
}
