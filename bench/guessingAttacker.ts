/**
 * The attacker of `npm run bench:guessing`, in a process of its own: an attacker is another machine, so its requests
 * and their answers must not hold up the event loop that times the live subscriber's frames. guessing.ts starts it with
 * the order in ATTACK_ORDER and reads every answer, as JSON, from its output; `login` is shared with it (the right
 * password, once, after the attack).
 */

export interface Answer {
  /** ms since the attack started */
  at: number;
  status: number;
  /** `extensions.code` and, for TOO_MANY_REQUESTS, why: LOCKED or SLOWED (the account), BUSY, SOURCE_RATE. */
  code: string;
  ms: number;
}

export interface AttackOrder {
  url: string;
  guesses: number;
  concurrency: number;
  runId: string;
}

/** Where the attack comes from, as the trusted proxy in front of the server says (X-Forwarded-For). */
export const ATTACKER_ADDRESS = '203.0.113.66';

export async function login(
  url: string,
  email: string,
  password: string,
  from: string,
): Promise<Omit<Answer, 'at'> & { token?: string }> {
  const started = performance.now();
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
    body: JSON.stringify({
      query: 'mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { token } }',
      variables: { t: 'sunrise-derm', e: email, p: password },
    }),
  });
  const body = (await res.json()) as {
    data?: { login: { token: string } };
    errors?: { extensions?: { code?: string; reason?: string } }[];
  };
  const extensions = body.errors?.[0]?.extensions;
  return {
    status: res.status,
    code: [extensions?.code ?? 'OK', extensions?.reason].filter(Boolean).join(' '),
    ms: performance.now() - started,
    token: body.data?.login.token,
  };
}

/** `guesses` wrong passwords for the demo admin, `concurrency` at a time, each sent as soon as one is answered. */
async function attack({ url, guesses, concurrency, runId }: AttackOrder): Promise<Answer[]> {
  const answers: Answer[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < guesses) {
        const i = next++;
        const { token: _none, ...answer } = await login(
          url,
          'admin@sunrise.example',
          `wrong-guess-${i}-${runId}`,
          ATTACKER_ADDRESS,
        );
        answers.push({ at: performance.now() - started, ...answer });
      }
    }),
  );
  return answers;
}

/** What the attacker's process hands back: every answer, and the CPU it spent sending them. */
export interface AttackReport {
  answers: Answer[];
  cpuMs: number;
}

if (process.env.ATTACK_ORDER) {
  const cpu = process.cpuUsage();
  const answers = await attack(JSON.parse(process.env.ATTACK_ORDER) as AttackOrder);
  const spent = process.cpuUsage(cpu);
  const report: AttackReport = { answers, cpuMs: (spent.user + spent.system) / 1000 };
  process.stdout.write(JSON.stringify(report));
}
