import { vi } from 'vitest';
import { integrationsCli as runIntegrationsCli } from '../../src/domains/integrations/cli.js';
import { operatorScript, type ScriptResult } from './process.js';
import { APPOINTMENT_CHANGED } from './realtime.js';
import { collect, wsClient } from './ws.js';
import type { TestServer } from './testServer.js';

export const CREATE_CLIENT = `mutation($i: CreateIntegrationClientInput!) {
  createIntegrationClient(input: $i) { clientSecret client { id name scopes createdAt revokedAt createdBy { email } } }
}`;
export const REVOKE_CLIENT = 'mutation($id: ID!) { revokeIntegrationClient(id: $id) { id revokedAt } }';
export const LIST_CLIENTS =
  'query($all: Boolean) { integrationClients(includeRevoked: $all) { id name scopes revokedAt lastUsedAt } }';

export interface IntegrationCredentials {
  id: string;
  secret: string;
}

/** Creates an integration client of the clinic as its demo admin would, through the API. */
let created = 0;

export async function createIntegrationClient(
  server: TestServer,
  scopes: string[],
  tenant: 'sunrise-derm' | 'lakeside-skin' = 'sunrise-derm',
  name = `Test client ${++created}`,
): Promise<IntegrationCredentials> {
  const admin = await server.login(tenant, 'admin');
  const res = await server.gql(CREATE_CLIENT, { i: { name, scopes } }, admin);
  if (!res.data?.createIntegrationClient)
    throw new Error(`createIntegrationClient failed: ${JSON.stringify(res.errors)}`);
  return { id: res.data.createIntegrationClient.client.id, secret: res.data.createIntegrationClient.clientSecret };
}

export interface TokenResponse {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

/** POSTs a form to /oauth/token, with HTTP Basic credentials unless told otherwise. */
export async function requestToken(
  url: string,
  params: Record<string, string>,
  { basic, headers = {} }: { basic?: IntegrationCredentials; headers?: Record<string, string> } = {},
): Promise<TokenResponse> {
  const auth: Record<string, string> = basic
    ? {
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`).toString('base64')}`,
      }
    : {};
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth, ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers };
}

/** A token for the client (all its scopes unless `scope` narrows them). */
export async function integrationToken(url: string, client: IntegrationCredentials, scope?: string): Promise<string> {
  const res = await requestToken(
    url,
    { grant_type: 'client_credentials', ...(scope ? { scope } : {}) },
    { basic: client },
  );
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

export type CliResult = ScriptResult;

/**
 * `npm run integrations -- <args>` run in this process: the operators' command itself, against the database of `env`.
 * PORT 0: no server to look for, unless a test says which port the embedded database's server listens on.
 */
export async function integrationsCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runIntegrationsCli(
    args,
    { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', PORT: '0', ...env },
    { log: (line) => stdout.push(line), error: (line) => stderr.push(line) },
  );
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

/** The same, as an operator starts it: its own process (the script, without npm's banner). */
export function integrationsScript(args: string[], env: Record<string, string>): Promise<CliResult> {
  return operatorScript('server/src/domains/integrations/cli.ts', args, env);
}

/**
 * Opens an integration client's socket with one live subscription, and records how it closes. `connected` resolves
 * when the server acknowledged the socket: by then the instance listens for the client's revocation
 * (integrations/service.ts `track`, awaited before the acknowledgement).
 */
export async function liveSocket(server: { url: string }, token: string) {
  let closed: { code: number; reason: string; at: number } | undefined;
  let acknowledged!: () => void;
  const connected = new Promise<void>((resolve) => (acknowledged = resolve));
  const socket = wsClient(server.url, {
    token,
    onClosed: (e) => (closed ??= { code: e.code, reason: e.reason, at: Date.now() }),
    onConnected: () => acknowledged(),
  });
  const sub = collect(socket, APPOINTMENT_CHANGED);
  const whenClosed = (timeoutMs: number) => vi.waitUntil(() => closed, { timeout: timeoutMs, interval: 25 });
  return { socket, sub, connected, closed: () => closed, whenClosed };
}
