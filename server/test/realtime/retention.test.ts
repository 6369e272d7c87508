import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventCursor } from '../../src/events/eventLog.js';
import { latestSeq } from '../../src/events/feed.js';
import { prunedThrough, pruneEvents } from '../../src/events/retention.js';
import { createIntegrationClient, integrationToken } from '../helpers/integrations.js';
import { spawnServer } from '../helpers/process.js';
import { APPOINTMENT_CHANGED, bookFreeSlot, subscribeLive } from '../helpers/realtime.js';
import { useSockets, useTestServer, type ClinicIds } from '../helpers/setup.js';
import { openEventStream } from '../helpers/sse.js';
import { type TestServer } from '../helpers/testServer.js';
import { collect } from '../helpers/ws.js';

/**
 * Event log retention (docs/architecture.md, "Retention"): the log is pruned from its oldest end, each tenant's
 * watermark says how far, and a resume cursor behind it is answered `CURSOR_EXPIRED` with where the log stands, on
 * WebSocket and SSE alike. Pruning is called with an explicit instant, and events are aged by writing their
 * `occurred_at`, so nothing waits 30 days.
 */
const t = useTestServer();
const sockets = useSockets(t);
let server: TestServer;
let sunrise: ClinicIds;
let frontDesk: string;

const DAY = 86_400_000;
const RETENTION_CUTOFF = () => new Date(Date.now() - 30 * DAY);

beforeAll(async () => {
  ({ server, sunrise } = t);
  frontDesk = await t.token('frontdesk');
});

/** A booking; resolves with the seq of its event. */
async function book(): Promise<number> {
  await bookFreeSlot(server, frontDesk);
  return latestSeq(server.db, sunrise.tenantId);
}

/** Makes the clinic's events up to `seq` (or only those listed) 40 days old. */
async function age(seqs: { through: number } | number[]): Promise<void> {
  const query = server.db('events').where({ tenantId: sunrise.tenantId });
  if (Array.isArray(seqs)) query.whereIn('seq', seqs);
  else query.andWhere('seq', '<=', seqs.through);
  await query.update({ occurredAt: new Date(Date.now() - 40 * DAY) });
}

const seqsOf = async (tenantId: string) =>
  (await server.db('events').where({ tenantId }).orderBy('seq').pluck('seq')).map(Number);

const cursor = (seq: number) => eventCursor(sunrise.tenantId, seq);

describe('Pruning', () => {
  it('should delete only the oldest events, in batches, from the start of the log, and leave the rest and other clinics alone', async () => {
    const lakesideBefore = await seqsOf(t.lakeside.tenantId);
    const [a, b, c, d] = [await book(), await book(), await book(), await book()];
    // Everything up to `b` is old, then `c` is recent and `d` old again (a transaction that started long before it
    // committed): only the prefix before the first recent event goes, `d` waits for `c`.
    await age({ through: b });
    await age([d]);

    const result = await pruneEvents(server.db, { before: RETENTION_CUTOFF(), batchSize: 1, pauseMs: 0 });

    expect(result.deleted).toBe(b);
    expect(result.batches, 'one event per batch').toBe(b);
    expect((await seqsOf(sunrise.tenantId))[0]).toBe(c);
    expect(await seqsOf(sunrise.tenantId)).toEqual(expect.arrayContaining([c, d]));
    expect(await prunedThrough(server.db, sunrise.tenantId)).toBe(b);
    expect(await seqsOf(t.lakeside.tenantId)).toEqual(lakesideBefore);
    expect(await prunedThrough(server.db, t.lakeside.tenantId)).toBe(0);
    // The counter is untouched: the next event follows the newest one, pruned or not.
    expect(await book()).toBe(d + 1);
    expect(a).toBeLessThan(b);

    // Again: nothing more is old at the start of the log, nothing goes.
    expect(await pruneEvents(server.db, { before: RETENTION_CUTOFF() })).toEqual({ deleted: 0, batches: 0 });
  });
});

describe('Resuming after pruning', () => {
  it('should answer a cursor behind what the log keeps with CURSOR_EXPIRED and the cursor of the newest event (WebSocket)', async () => {
    const first = await subscribeLive(server, sockets.open(frontDesk), APPOINTMENT_CHANGED);
    await book();
    const [{ data }] = await first.waitFor(1);
    const seen: string = data!.appointmentChanged.cursor;
    first.stop();

    const pruned = await book();
    await book();
    const newest = await book();
    await age({ through: pruned });
    await pruneEvents(server.db, { before: RETENTION_CUTOFF(), pauseMs: 0 });
    expect(await prunedThrough(server.db, sunrise.tenantId)).toBe(pruned);

    const expired = collect(sockets.open(frontDesk), APPOINTMENT_CHANGED, { after: seen });
    await expired.completed;
    expect(expired.results).toHaveLength(1);
    expect(expired.results[0].data).toBeFalsy();
    expect(expired.results[0].errors).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/older than the event log keeps: read again what you show/),
        extensions: { code: 'CURSOR_EXPIRED', cursor: cursor(newest) },
      }),
    ]);

    // The cursor of the last pruned event is exactly what is kept: it replays what followed it, once, in order.
    const resumed = await subscribeLive(server, sockets.open(frontDesk), APPOINTMENT_CHANGED, {
      after: cursor(pruned),
    });
    const replayed = await resumed.waitFor(2);
    expect(replayed.map((r) => r.data!.appointmentChanged.cursor)).toEqual([cursor(pruned + 1), cursor(newest)]);
    // Resuming after the cursor the error gave: nothing replayed, then live.
    const fromHead = await subscribeLive(server, sockets.open(frontDesk), APPOINTMENT_CHANGED, {
      after: cursor(newest),
    });
    const next = await book();
    await resumed.waitFor(3);
    const [live] = await fromHead.waitFor(1);
    expect(live.data!.appointmentChanged.cursor).toBe(cursor(next));
    expect(fromHead.results).toHaveLength(1);
    expect(resumed.results).toHaveLength(3);
  });

  it('should answer the same over SSE: a last event with CURSOR_EXPIRED and the newest cursor, then complete', async () => {
    const integration = await integrationToken(
      server.url,
      await createIntegrationClient(server, ['appointments:read']),
    );
    const old = await book();
    const pruned = await book();
    const newest = await book();
    await age({ through: pruned });
    await pruneEvents(server.db, { before: RETENTION_CUTOFF(), pauseMs: 0 });

    const stream = await openEventStream(server.url, integration, APPOINTMENT_CHANGED, { after: cursor(old) });
    await stream.ended;
    expect(stream.status).toBe(200);
    expect(stream.results()).toEqual([
      {
        errors: [expect.objectContaining({ extensions: { code: 'CURSOR_EXPIRED', cursor: cursor(newest) } })],
      },
    ]);
    expect(stream.events.at(-1)!.event).toBe('complete');

    const kept = await openEventStream(server.url, integration, APPOINTMENT_CHANGED, { after: cursor(pruned) });
    const [replayed] = await kept.waitFor(1);
    expect(replayed.data.appointmentChanged.cursor).toBe(cursor(newest));
    kept.close();
  });

  it('should keep resuming from the newest cursor once the whole log is pruned (the counter says where it stands)', async () => {
    const newest = await book();
    // The instance's own round, as its timer runs it, 31 days from now: every event of both clinics is old.
    await server.app.services.pruner.round(new Date(Date.now() + 31 * DAY));
    expect(await seqsOf(sunrise.tenantId)).toEqual([]);
    expect(await prunedThrough(server.db, sunrise.tenantId)).toBe(newest);

    const resumed = await subscribeLive(server, sockets.open(frontDesk), APPOINTMENT_CHANGED, {
      after: cursor(newest),
    });
    const next = await book();
    const [live] = await resumed.waitFor(1);
    expect(live.data!.appointmentChanged.cursor).toBe(cursor(next));

    const behind = collect(sockets.open(frontDesk), APPOINTMENT_CHANGED, { after: cursor(newest - 1) });
    await behind.completed;
    expect(behind.results[0].errors?.[0].extensions).toEqual({ code: 'CURSOR_EXPIRED', cursor: cursor(next) });
  });
});

// Every bad value is refused by loadConfig (config.test.ts); one of them here, through the real process.
describe('EVENT_RETENTION at start-up', () => {
  it.each(['abc'])('should refuse EVENT_RETENTION=%s: exit code 2, naming the variable', async (value) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'derm-retention-'));
    try {
      await expect(spawnServer({ DATA_DIR: dataDir, EVENT_RETENTION: value })).rejects.toThrow(
        /exited with 2[\s\S]*Configuration error: EVENT_RETENTION must be a whole number of days from 1 to 3650/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
