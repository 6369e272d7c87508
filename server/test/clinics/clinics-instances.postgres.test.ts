import { describe, expect, it, vi } from 'vitest';
import { clinicsScript, createArgs } from '../helpers/clinics.js';
import { instanceClients } from '../helpers/instances.js';
import { liveSocket } from '../helpers/integrations.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { metric } from '../helpers/realtime.js';
import { TEST_REDIS_URL } from '../helpers/services.js';
import { createTestDatabase } from '../helpers/testServer.js';

const LOGIN = `mutation($t: String!, $e: String!, $p: String!) {
  login(tenant: $t, email: $e, password: $p) { token user { role tenant { slug name timeZone } } }
}`;
const CREATE_USER = 'mutation($i: CreateUserInput!) { createUser(input: $i) { id email role } }';

// The operators' command and several instances sharing PostgreSQL and Redis: the embedded project has one process.
describe("Onboarding and disabling a clinic with the operators' command", () => {
  it('should create a clinic whose admin signs in and adds staff, list it, and disable it on every instance at once', async () => {
    const database = await createTestDatabase();
    const env = {
      DATABASE_URL: database.url!,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_NAMESPACE: `test-${Date.now()}`,
      // The instances' periodic re-check out of the way, so that only the command's signal can close the connections.
      RECHECK_INTERVAL: '3600',
    };
    const servers: ServerProcess[] = [];
    const clients = instanceClients();
    try {
      const created = await clinicsScript(createArgs('harbor-derm', ['--json']), env);
      expect(created.code).toBe(0);
      const clinic = JSON.parse(created.stdout) as {
        slug: string;
        timeZone: string;
        status: string;
        admin: { email: string; role: string; password: string };
      };
      expect(clinic).toMatchObject({ slug: 'harbor-derm', timeZone: 'Europe/Lisbon', status: 'active' });
      expect(clinic.admin).toMatchObject({ email: 'rita@harbor-derm.example', role: 'ADMIN' });
      expect(clinic.admin.password).toMatch(/^[\w-]{32}$/);

      const [a, b] = await Promise.all([spawnServer(env), spawnServer(env)]);
      servers.push(a, b);
      // Its admin signs in over HTTP with the password printed once, and adds a nurse.
      const signIn = await clients.post(a, LOGIN, {
        t: 'harbor-derm',
        e: clinic.admin.email,
        p: clinic.admin.password,
      });
      expect(signIn.data.login.user).toEqual({
        role: 'ADMIN',
        tenant: { slug: 'harbor-derm', name: 'Harbor Dermatology', timeZone: 'Europe/Lisbon' },
      });
      const admin = signIn.data.login.token as string;
      const nursePassword = 'copper kettle lighthouse 42';
      const nurse = await clients.post(
        a,
        CREATE_USER,
        { i: { email: 'joao@harbor-derm.example', name: 'João Costa', role: 'NURSE', password: nursePassword } },
        admin,
      );
      expect(nurse.data.createUser).toMatchObject({ email: 'joao@harbor-derm.example', role: 'NURSE' });

      const listed = await clinicsScript(['list'], env);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^SLUG +NAME +TIME ZONE +STATUS +STAFF +CREATED$/m);
      expect(listed.stdout).toMatch(/^harbor-derm +Harbor Dermatology +Europe\/Lisbon +active +2 +\d{4}-\d{2}-\d{2}$/m);
      const json = JSON.parse((await clinicsScript(['list', '--json'], env)).stdout) as Array<Record<string, unknown>>;
      expect(json.find((c) => c.slug === 'harbor-derm')).toMatchObject({ status: 'active', staff: 2 });
      expect(json.find((c) => c.slug === 'sunrise-derm')).toMatchObject({ status: 'active', staff: 5 });

      // A socket of the clinic on each instance, each with a live subscription; and another clinic's socket.
      const nurseToken = (
        await clients.post(b, LOGIN, { t: 'harbor-derm', e: 'joao@harbor-derm.example', p: nursePassword })
      ).data.login.token as string;
      const streams = async (instance: ServerProcess) => metric(instance.url, 'derm_subscription_streams');
      const onA = await liveSocket(a, admin);
      const onB = await liveSocket(b, nurseToken);
      const otherClinic = await liveSocket(a, await clients.login(a, 'frontdesk'));
      await vi.waitFor(async () => expect([await streams(a), await streams(b)]).toEqual([2, 1]), { timeout: 10_000 });

      const disabled = await clinicsScript(['disable', 'harbor-derm'], env);
      expect(disabled.code).toBe(0);
      expect(disabled.stdout).toContain('disabled harbor-derm (Harbor Dermatology) since');
      expect(disabled.stdout).toContain('its live connections were told to close');
      for (const socket of [onA, onB]) {
        expect(await socket.whenClosed(10_000)).toMatchObject({ code: 4403, reason: 'Clinic disabled' });
      }
      // Closed by the signal the command sent through Redis, not by the instances' periodic check.
      for (const instance of [a, b]) {
        expect(instance.output()).toContain('"why":"clinic disabled"');
        expect(instance.output()).not.toContain('clinic disabled (periodic check)');
      }

      // The admin's token is refused over HTTP on either instance, and signing in again says why.
      for (const instance of [a, b]) {
        const res = await fetch(`${instance.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
          body: JSON.stringify({ query: '{ me { id } }' }),
        });
        expect(res.status).toBe(401);
        const body = (await res.json()) as { errors: Array<{ extensions: Record<string, unknown> }> };
        expect(body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'CLINIC_DISABLED' });
      }
      const refused = await clients.post(b, LOGIN, {
        t: 'harbor-derm',
        e: clinic.admin.email,
        p: clinic.admin.password,
      });
      expect(refused.errors).toEqual([
        expect.objectContaining({
          message: expect.stringContaining('This clinic has been disabled'),
          extensions: expect.objectContaining({ code: 'UNAUTHENTICATED', reason: 'CLINIC_DISABLED' }),
        }),
      ]);
      // A new socket of the clinic is refused at the door; the other clinic's stayed open.
      const again = await liveSocket(b, nurseToken);
      expect(await again.whenClosed(10_000)).toMatchObject({ code: 4403 });
      expect(otherClinic.closed()).toBeUndefined();
      expect(await streams(a)).toBe(1);

      const listedAfter = JSON.parse((await clinicsScript(['list', '--json'], env)).stdout) as Array<
        Record<string, unknown>
      >;
      expect(listedAfter.find((c) => c.slug === 'harbor-derm')).toMatchObject({ status: 'disabled' });

      // Enabled again: its staff sign in anew; the sessions the disable ended stay over.
      expect((await clinicsScript(['enable', 'harbor-derm'], env)).code).toBe(0);
      const back = await clients.post(a, LOGIN, { t: 'harbor-derm', e: clinic.admin.email, p: clinic.admin.password });
      expect(back.data.login.token).toEqual(expect.any(String));
      const old = await clients.post(a, '{ me { id } }', {}, admin);
      expect(old.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED', reason: 'SIGNED_OUT' } });

      await Promise.all([onA, onB, otherClinic, again].map((s) => s.socket.dispose()));
    } finally {
      await clients.dispose();
      await Promise.all(servers.map((s) => s.stop()));
      await database.drop();
    }
    // Two servers and six runs of the command as processes: 36 s on a quiet machine, generous for a loaded one.
  }, 240_000);
});
