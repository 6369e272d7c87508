import { serverAudits } from 'graphql-http';
import { beforeAll, describe, expect, it } from 'vitest';
import { createIntegrationClient, integrationToken } from '../helpers/integrations.js';
import { startTestServer, type TestServer } from '../helpers/testServer.js';
import { useTestServer } from '../helpers/setup.js';

const t = useTestServer();
let server: TestServer;
let nurse: string;
let presenceOnly: string;

beforeAll(async () => {
  ({ server } = t);
  nurse = await server.login('sunrise-derm', 'nurse');
  presenceOnly = await integrationToken(server.url, await createIntegrationClient(server, ['presence:read']));
});

/**
 * SHOULDs of graphql-http's audit (v1) that this server deliberately does otherwise, because the specification has
 * moved on: since its "legacy watershed" (2025-01-01) a request without Accept SHOULD be answered as
 * application/graphql-response+json, which we also pick for `*∕*`. The audit still checks the pre-watershed default.
 */
const WATERSHED = [
  'SHOULD accept */* and use application/json for the content-type',
  'SHOULD assume application/json content-type when accept is missing',
];

describe('GraphQL over HTTP audit (graphql-http)', () => {
  it('should pass every MUST and SHOULD, but for the legacy watershed', async () => {
    const results = [];
    for (const audit of serverAudits({ url: `${server.url}/graphql` })) results.push(await audit.fn());
    const failed = results.filter((r) => (r.status === 'error' || r.status === 'warn') && !WATERSHED.includes(r.name));
    expect(failed.map((r) => `${r.name}: ${'reason' in r ? r.reason : ''}`)).toEqual([]);
    expect(results.filter((r) => r.status === 'ok').length).toBeGreaterThan(50);
  });
});

describe('Media types and status codes', () => {
  const post = (body: unknown, accept: string | null, token?: string) =>
    fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(accept ? { accept } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it.each([
    ['no Accept header', null],
    ['Accept: */*', '*/*'],
    ['Accept: application/graphql-response+json', 'application/graphql-response+json'],
    ['what Apollo Client sends', 'application/graphql-response+json,application/json;q=0.9'],
  ])('should answer %s as application/graphql-response+json', async (_case, accept) => {
    const res = await post({ query: '{ __typename }' }, accept);
    expect(res.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
  });

  it.each([
    // case, body, token, status with graphql-response+json, status with legacy application/json, code
    ['a document that does not parse', { query: '{ me {' }, 'nurse', 400, 200, 'GRAPHQL_PARSE_FAILED'],
    ['a field that does not exist', { query: '{ nope }' }, 'nurse', 400, 200, 'GRAPHQL_VALIDATION_FAILED'],
    [
      'a variable of the wrong type',
      { query: 'query($d: LocalDate!) { schedule(date: $d) { id } }', variables: { d: 'tuesday' } },
      'nurse',
      400,
      200,
      'BAD_USER_INPUT',
    ],
    [
      'an unknown operation name',
      { query: 'query A { me { id } }', operationName: 'B' },
      'nurse',
      400,
      200,
      'OPERATION_RESOLUTION_FAILURE',
    ],
    ['no token where one is needed', { query: '{ me { id } }' }, null, 401, 401, 'UNAUTHENTICATED'],
    ['a token without the scope', { query: '{ staff { name } }' }, 'integration', 403, 200, 'FORBIDDEN'],
    [
      'an operation that would cost too much',
      {
        query: `{ appointments(from: "2030-01-01T00:00:00Z", to: "2030-01-30T00:00:00Z") { ${'patient { appointments(from: "2030-01-01T00:00:00Z", to: "2031-01-01T00:00:00Z") { '.repeat(4)}id${' } }'.repeat(4)} } }`,
      },
      'nurse',
      400,
      200,
      'GRAPHQL_VALIDATION_FAILED',
    ],
  ])(
    'should refuse %s before running it: %i with graphql-response+json, %i with legacy application/json',
    async (_case, body, who, status, legacyStatus, code) => {
      const token = who === 'nurse' ? nurse : who === 'integration' ? presenceOnly : undefined;
      for (const [accept, expected] of [
        ['application/graphql-response+json', status],
        ['application/json', legacyStatus],
      ] as const) {
        const res = await post(body, accept, token);
        const json = (await res.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
        expect({ accept, status: res.status, code: json.errors[0].extensions.code, hasData: 'data' in json }).toEqual({
          accept,
          status: expected,
          code,
          hasData: false,
        });
        expect(res.headers.get('content-type')).toBe(`${accept}; charset=utf-8`);
      }
    },
  );

  it('should answer 200 when the operation ran, even with a field error', async () => {
    const res = await post(
      { query: 'mutation { markNotificationRead(id: "00000000-0000-4000-8000-000000000000") { id } }' },
      'application/graphql-response+json',
      nurse,
    );
    expect(res.status).toBe(200);
    const json = (await res.json()) as { data: unknown; errors: unknown[] };
    expect(json.data).toBeNull();
    expect(json.errors).toHaveLength(1);
  });

  it('should answer a body that is not JSON with 400 and a GraphQL error, not an HTML page', async () => {
    const res = await post('{"query": "{ me', 'application/graphql-response+json', nurse);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
    expect(await res.json()).toEqual({
      errors: [{ message: expect.stringContaining('not valid JSON'), extensions: { code: 'BAD_REQUEST' } }],
    });
  });

  it('should answer a body over 256 kB with 413', async () => {
    const res = await post({ query: '{ __typename }', variables: { pad: 'x'.repeat(300_000) } }, null);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe(
      'BAD_REQUEST',
    );
  });

  it('should keep CSRF prevention on: a simple GET is refused', async () => {
    const res = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/graphql-response+json' },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/CSRF/);
  });
});

describe('For developers and integrators', () => {
  it('should answer the standard introspection query that GraphiQL and Apollo Sandbox send, without a token', async () => {
    const { getIntrospectionQuery } = await import('graphql');
    const res = await server.gql(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }));
    expect(res.errors).toBeUndefined();
    expect(res.data!.__schema.queryType.name).toBe('Query');
  });

  it('should still refuse introspection nested to multiply work (graphql-js MaxIntrospectionDepthRule)', async () => {
    const res = await server.gql('{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }');
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('should serve the SDL as one file, with descriptions and scope directives', async () => {
    const res = await fetch(`${server.url}/graphql/schema.graphql`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const sdl = await res.text();
    expect(sdl).toContain('directive @requiresScope(');
    expect(sdl).toContain(
      'appointmentChanged(providerId: ID, after: String): AppointmentEvent! @requiresScope(scope: "appointments:read")',
    );
  });

  it("should link Apollo's development landing page plainly to the local explorer", async () => {
    const res = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('embeddable-sandbox');
    expect(html).toMatch(/<a href="\/explorer\/">\/explorer<\/a>/);
    // Its style carries the page's nonce, or the page's Content-Security-Policy would drop it.
    const nonce = /'nonce-([0-9a-f]+)'/.exec(html)![1];
    expect(html).toContain(`<style nonce="${nonce}">#derm-explorer-bar`);
  });

  it('should tell the explorer page the demo accounts outside production', async () => {
    const res = await fetch(`${server.url}/explorer/config.json`);
    const config = (await res.json()) as {
      demo: { password: string; accounts: { email: string }[] };
      eventStreamPath: string;
    };
    expect(config.eventStreamPath).toBe('/graphql/stream');
    expect(config.demo.accounts.map((a) => a.email)).toContain('frontdesk@sunrise.example');
  });

  it('should say how to turn the explorer on where it is off', async () => {
    const off = await startTestServer({ explorerEnabled: false });
    try {
      const res = await fetch(`${off.url}/explorer/`);
      expect(res.status).toBe(404);
      expect(await res.text()).toContain('EXPLORER_ENABLED=true');
    } finally {
      await off.stop();
    }
  });
});
