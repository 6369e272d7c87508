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
