import http from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorCode, startTestServer, type TestServer } from './helpers/testServer.js';
import { useTestServer } from './helpers/setup.js';

const t = useTestServer();
let server: TestServer;
beforeAll(async () => {
  ({ server } = t);
});

describe('health', () => {
  it('answers /livez while the process runs', async () => {
    const res = await fetch(`${server.url}/livez`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with the database engine when the database answers', async () => {
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'ok',
      database: server.db.client.config.client === 'pg' ? 'postgresql' : 'pglite',
    });
  });
});

describe('keep-alive', () => {
  it('keeps an idle connection open longer than proxies keep theirs (65 s), says so, and serves the next request on it', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        http
          .get(`${server.url}/livez`, { agent }, (res) => {
            res.resume();
            res.once('end', () => resolve(res));
          })
          .once('error', reject);
      });
    try {
      const first = await get();
      // What clients size their pools by (Node's fetch keeps a connection this long, less a second or two), not
      // Node's 5 s.
      expect(first.headers['keep-alive']).toBe('timeout=65');
      const second = await get();
      expect((second as http.IncomingMessage & { req: http.ClientRequest }).req.reusedSocket).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});

describe('CSRF prevention', () => {
  it('refuses a GET query without a CSRF-safe header', async () => {
    const res = await fetch(`${server.url}/graphql?query=${encodeURIComponent('{ me { id } }')}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/CSRF/i);
  });

  it('refuses a simple form POST', async () => {
    const res = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(res.status).toBe(400);
  });
});

describe('caching', () => {
  it('tells browsers and proxies to keep no GraphQL answer, a GET query of patient records included', async () => {
    const token = await server.login('sunrise-derm', 'nurse');
    const query = encodeURIComponent('{ patients(first: 1) { edges { node { firstName } } } }');
    const got = await fetch(`${server.url}/graphql?query=${query}`, {
      headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    });
    const body = (await got.json()) as { data?: { patients: { edges: unknown[] } } };
    expect(body.data?.patients.edges).toHaveLength(1);
    expect(got.headers.get('cache-control')).toBe('no-store');
    expect(got.headers.get('etag')).toBeNull();
    const posted = await server.gql('{ me { id } }', {}, token);
    expect(posted.headers.get('cache-control')).toBe('no-store');
    // Refused at the door (no valid token) and refused by validation alike.
    const refused = await server.gql('{ me { id } }', {}, 'not-a-token');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    const invalid = await server.gql('{ me { ssn } }', {}, token);
    expect(invalid.headers.get('cache-control')).toBe('no-store');
  });

  it('answers the schema file with an ETag and 304 when it has not changed', async () => {
    const first = await fetch(`${server.url}/graphql/schema.graphql`);
    expect(first.status).toBe(200);
    expect(await first.text()).toMatch(/type Query/);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    // node:http, not fetch: fetch adds `cache-control: no-cache` to a conditional request, asking for a full answer.
    const again = await new Promise<number | undefined>((resolve, reject) => {
      http
        .get(`${server.url}/graphql/schema.graphql`, { headers: { 'if-none-match': etag! } }, (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode));
        })
        .once('error', reject);
    });
    expect(again).toBe(304);
  });
});

describe('CORS', () => {
  it('allows the configured front-end origin and not others', async () => {
    const preflight = (origin: string) =>
      fetch(`${server.url}/graphql`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,authorization',
        },
      });
    const allowed = await preflight('http://localhost:5173');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('operation limits', () => {
  it('refuses a document nested deeper than allowed', async () => {
    const token = await server.login('sunrise-derm', 'nurse');
    const deep =
      '{ threads { lastMessage { thread { lastMessage { thread { lastMessage { thread { lastMessage { thread { lastMessage { id } } } } } } } } } } }';
    const res = await server.gql(deep, {}, token);
    expect(errorCode(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors![0].message).toMatch(/nested 11 levels deep; at most 10/);
  });

  it('refuses a document with too many aliases', async () => {
    const token = await server.login('sunrise-derm', 'nurse');
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: me { id }`).join(' ');
    const res = await server.gql(`{ ${aliases} }`, {}, token);
    expect(errorCode(res)).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses an operation whose nested lists would cost too much, before running it', async () => {
    const token = await server.login('sunrise-derm', 'nurse');
    const from = '2026-01-01T00:00:00Z';
    const to = '2026-01-31T00:00:00Z';
    const nest = (depth: number): string =>
      depth === 0 ? 'id' : `patient { appointments(from: "${from}", to: "${to}") { ${nest(depth - 1)} } }`;
    const res = await server.gql(`{ appointments(from: "${from}", to: "${to}") { ${nest(4)} } }`, {}, token);
    expect(errorCode(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors![0].extensions).toMatchObject({ reason: 'TOO_COMPLEX', maxCost: 20_000 });
    expect(res.data).toBeUndefined();
    // The everyday shape of the same data is well within the limit.
    const everyday = await server.gql(`{ appointments(from: "${from}", to: "${to}") { ${nest(1)} } }`, {}, token);
    expect(everyday.errors).toBeUndefined();
  });

  it('estimates the cost of one document anew when a variable sets its page size, and remembers it when none does', async () => {
    const token = await server.login('sunrise-derm', 'nurse');
    // 1 + first × (1 + 10 participants × 1): over 20,000 from first = 1,819 on.
    const paged =
      'query Paged($first: Int, $with: Boolean!) { threads(first: $first) { participants @include(if: $with) { id } } }';
    const asked = async (first: number, withParticipants = true) =>
      server.gql(paged, { first, with: withParticipants }, token);
    for (const [first, withParticipants, answer] of [
      [5, true, 'ran'],
      [2_000, true, 'TOO_COMPLEX'],
      [5, true, 'ran'],
      // Without the nested list the same page costs 2,001: it runs, and meets the field's own bound.
      [2_000, false, 'BAD_USER_INPUT'],
      [2_000, true, 'TOO_COMPLEX'],
    ] as const) {
      const res = await asked(first, withParticipants);
      if (answer === 'ran') expect(res.errors).toBeUndefined();
      else if (answer === 'BAD_USER_INPUT') expect(errorCode(res)).toBe('BAD_USER_INPUT');
      else {
        expect(errorCode(res)).toBe('GRAPHQL_VALIDATION_FAILED');
        expect(res.errors![0].extensions).toMatchObject({ reason: 'TOO_COMPLEX', cost: 22_001 });
      }
    }
    // A variable that includes a nested list changes the cost too.
    const included =
      'query Included($with: Boolean!) { threads(first: 2000) { participants @include(if: $with) { id } } }';
    expect(errorCode(await server.gql(included, { with: false }, token))).toBe('BAD_USER_INPUT');
    expect(errorCode(await server.gql(included, { with: true }, token))).toBe('GRAPHQL_VALIDATION_FAILED');
    // No variable in the cost: refused the second time as the first, whatever the (unrelated) variable says.
    const fixed =
      'query Fixed($search: String) { threads(first: 2000) { participants { id } } patients(search: $search) { pageInfo { hasNextPage } } }';
    for (const search of ['a', 'b']) {
      const res = await server.gql(fixed, { search }, token);
      expect(res.errors![0].extensions).toMatchObject({ reason: 'TOO_COMPLEX' });
    }
  });

  it('refuses an oversized document with 413 before parsing it', async () => {
    const res = await server.gql(`{ me { id } } # ${'x'.repeat(25_000)}`);
    expect(res.status).toBe(413);
    expect(errorCode(res)).toBe('BAD_REQUEST');
  });

  it('answers a syntax error with GRAPHQL_PARSE_FAILED', async () => {
    const res = await server.gql('{ me { id }');
    expect(errorCode(res)).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('answers a field that does not exist with GRAPHQL_VALIDATION_FAILED', async () => {
    const res = await server.gql('{ me { ssn } }');
    expect(errorCode(res)).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('answers a variable of the wrong type with BAD_USER_INPUT', async () => {
    const token = await server.login('sunrise-derm', 'nurse');
    const res = await server.gql('query($d: LocalDate!) { schedule(date: $d) { id } }', { d: '2026-02-30' }, token);
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
  });
});

describe('text PostgreSQL cannot store', () => {
  it('answers a NUL character in any text argument with BAD_USER_INPUT, and writes nothing', async () => {
    const token = await server.login('sunrise-derm', 'frontdesk');
    const before = await server.db('patients').count('* as n').first();
    const search = await server.gql(
      'query($s: String) { patients(search: $s) { edges { node { id } } } }',
      { s: 'ab\u0000c' },
      token,
    );
    expect(errorCode(search)).toBe('BAD_USER_INPUT');
    const create = await server.gql(
      'mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }',
      { i: { mrn: 'NUL-1', firstName: 'A\u0000', lastName: 'B', dateOfBirth: '1990-01-01' } },
      token,
    );
    expect(errorCode(create)).toBe('BAD_USER_INPUT');
    expect(await server.db('patients').count('* as n').first()).toEqual(before);
  });
});

describe('request ids', () => {
  it('echoes a sane x-request-id and makes one up otherwise', async () => {
    const given = await server.gql('{ me { id } }', {}, null, { 'x-request-id': 'trace-123' });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    const made = await server.gql('{ me { id } }', {}, null, { 'x-request-id': 'bad id with spaces' });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('unexpected errors', () => {
  it('are masked, carry the request id, and do not reveal SQL or stack traces', async () => {
    const broken = await startTestServer();
    try {
      const token = await broken.login('sunrise-derm', 'nurse');
      const [patientId] = (await broken.ids('sunrise-derm')).patients;
      await broken.db.raw('alter table patients rename to patients_gone');
      const res = await broken.gql('query($id: ID!) { patient(id: $id) { id } }', { id: patientId }, token, {
        'x-request-id': 'support-42',
      });
      expect(res.errors).toEqual([
        {
          message: 'Internal server error',
          locations: [{ line: 1, column: 19 }],
          path: ['patient'],
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'support-42' },
        },
      ]);
    } finally {
      await broken.stop();
    }
  });
});
