import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ALL_SCOPES } from '../../auth/scopes.js';
import { loadConfig } from '../../config.js';
import type { Db } from '../../db/knex.js';
import type { IntegrationClientRow } from '../../db/rows.js';
import { tenantChannel, type IntegrationRevokedSignal } from '../../events/channels.js';
import {
  announcing,
  exitCodeOf,
  openOperatorDb,
  processOutput,
  UsageError,
  type CliOutput,
} from '../../operatorCli.js';
import { createIntegrationClient } from './clients.js';
import { integrationClientsOfTenant, revokeIntegrationClientRow } from './data.js';

const USAGE = `Integration clients, for operators (admins can do the same in the API: createIntegrationClient, ...).

  npm run integrations -- create --tenant <clinic-slug> --name <name> --scopes <scope,scope,...> [--json]
  npm run integrations -- list   --tenant <clinic-slug> [--all] [--json]
  npm run integrations -- revoke --tenant <clinic-slug> <client-id> [--json]

Scopes: ${ALL_SCOPES.join(', ')}
Uses DATABASE_URL, or the embedded database under DATA_DIR (stop the server first: the embedded database has one
process at a time). With REDIS_URL, a revocation closes the client's live connections at once; without it, each server
closes them at its next check (within 5 seconds).`;

async function tenantIdOf(db: Db, slug: string | undefined): Promise<string> {
  if (!slug) throw new UsageError('--tenant <clinic-slug> is required');
  const tenant = await db('tenants').where({ slug: slug.trim().toLowerCase() }).first('id');
  if (!tenant) throw new UsageError(`No clinic with the slug "${slug}"`);
  return tenant.id as string;
}

function describe(c: IntegrationClientRow): string {
  const state = c.revokedAt
    ? `revoked ${c.revokedAt.toISOString()}`
    : c.lastUsedAt
      ? `last token ${c.lastUsedAt.toISOString()}`
      : 'never used';
  return `${c.id}  ${c.name}  [${c.scopes.join(' ')}]  created ${c.createdAt.toISOString()}  ${state}`;
}

const publicFields = (c: IntegrationClientRow) => ({
  clientId: c.id,
  name: c.name,
  scopes: c.scopes,
  createdAt: c.createdAt,
  lastUsedAt: c.lastUsedAt,
  revokedAt: c.revokedAt,
});

/**
 * `npm run integrations -- <args>`: runs the command against the database of `env` and resolves with the exit code
 * (0 done, 2 bad usage or unknown clinic/client, 1 unexpected). Bad input is refused before any database is opened.
 */
export async function integrationsCli(
  args: string[],
  env: Record<string, string | undefined> = process.env,
  out: CliOutput = processOutput,
): Promise<number> {
  return exitCodeOf(() => run(args, env, out), out, USAGE);
}

async function run(args: string[], env: Record<string, string | undefined>, out: CliOutput): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        tenant: { type: 'string' },
        name: { type: 'string' },
        scopes: { type: 'string' },
        all: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    out.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (!['create', 'list', 'revoke'].includes(command)) throw new UsageError(`Unknown command "${command}"`);
  if (!values.tenant) throw new UsageError('--tenant <clinic-slug> is required');
  if (command === 'create' && !values.name) throw new UsageError('--name is required');
  if (command === 'create' && !values.scopes) throw new UsageError('--scopes is required');
  if (command === 'revoke' && !rest[0]) throw new UsageError('revoke needs the client id');
  const config = loadConfig(env);
  const db = await openOperatorDb(
    config,
    'Stop it first, or use the API as a clinic admin (createIntegrationClient, integrationClients, revokeIntegrationClient).',
  );
  try {
    const tenantId = await tenantIdOf(db, values.tenant);
    if (command === 'create') {
      const { client, secret } = await createIntegrationClient(db, tenantId, {
        name: values.name!,
        scopes: values.scopes!.split(/[\s,]+/),
        createdBy: null,
      });
      if (values.json) out.log(JSON.stringify({ ...publicFields(client), clientSecret: secret }));
      else {
        out.log(`created ${describe(client)}`);
        out.log(`client_id:     ${client.id}`);
        out.log(`client_secret: ${secret}`);
        out.log('Store the secret now: it is not shown again (only its hash is kept).');
      }
    } else if (command === 'list') {
      const clients = await integrationClientsOfTenant(db, tenantId, values.all);
      if (values.json) out.log(JSON.stringify(clients.map(publicFields)));
      else if (clients.length === 0)
        out.log(values.all ? 'no integration clients' : 'no active integration clients (--all lists revoked ones too)');
      else for (const c of clients) out.log(describe(c));
    } else {
      const id = rest[0];
      // Connecting while the change is made, so that the signal follows its commit at once.
      const { client, announced } = await announcing(config, async (announcer) => {
        const revoked = await revokeIntegrationClientRow(db, tenantId, id);
        if (!revoked) throw new UsageError(`No integration client ${id} in that clinic`);
        const signal: IntegrationRevokedSignal = { clientId: revoked.id };
        return {
          client: revoked,
          announced: await announcer.publish(tenantChannel({ tenantId }, 'integrations'), signal),
        };
      });
      if (values.json) out.log(JSON.stringify({ ...publicFields(client), announced }));
      else {
        out.log(`revoked ${describe(client)}`);
        out.log(
          announced
            ? 'Its live connections were told to close.'
            : 'Servers close its live connections at their next check (within 5 seconds).',
        );
      }
    }
  } finally {
    await db.destroy();
  }
  return 0;
}

// Run as a script (`npm run integrations`), not when imported by a test.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await integrationsCli(process.argv.slice(2));
}
