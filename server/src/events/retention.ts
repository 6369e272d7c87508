import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/knex.js';
import type { Logger } from '../logger.js';

/**
 * Event log retention (docs/architecture.md, "Retention"). The log of each tenant is pruned from its oldest end only:
 * what is kept is always every event after a tenant's watermark (`events_pruned.through_seq`), so "was anything after
 * this cursor pruned?" is one indexed read, exact, and never a guess from the oldest row left.
 */

export interface PruneOptions {
  /** Events committed before this instant may go (the periodic job passes now minus `EVENT_RETENTION`). */
  before: Date;
  /** Rows deleted per statement (one transaction each). @default 2000 */
  batchSize?: number;
  /** Pause between batches, so writers and readers run in between. @default 20 */
  pauseMs?: number;
  /** Stops between batches (the instance is shutting down). */
  signal?: AbortSignal;
}

export interface PruneResult {
  /** Events deleted by this call. */
  deleted: number;
  /** Statements (batches) that deleted something. */
  batches: number;
}

/** Every event of the tenant with `seq` up to this was pruned; 0 when none ever was. */
export async function prunedThrough(db: Db, tenantId: string): Promise<number> {
  const row = (await db('eventsPruned').where({ tenantId }).first('throughSeq')) as { throughSeq: number } | undefined;
  return Number(row?.throughSeq ?? 0);
}

/**
 * Deletes one batch from the start of a tenant's log: the oldest `batchSize` events, up to (not including) the first
 * one committed at or after `before`, and moves the watermark in the same transaction. Only a prefix ever goes:
 * `occurred_at` is the writing transaction's start, so it does not grow strictly with `seq`, and an old event behind a
 * newer one waits for it. Returns how many went (0: this tenant is done for this round, or another instance is on it).
 *
 * The rows are found and deleted by primary key range; writers append above them and take no lock they hold. A
 * transaction-level advisory lock per tenant lets one instance do a round's work while the others skip the tenant.
 */
async function pruneBatch(db: Db, tenantId: string, before: Date, batchSize: number): Promise<number> {
  return db.transaction(async (trx) => {
    const { rows } = (await trx.raw('select pg_try_advisory_xact_lock(?, hashtext(?)) as locked', [
      PRUNE_LOCK,
      tenantId,
    ])) as { rows: { locked: boolean }[] };
    if (!rows[0].locked) return 0;
    const from = await prunedThrough(trx, tenantId);
    const oldest = (await trx('events')
      .where({ tenantId })
      .andWhere('seq', '>', from)
      .orderBy('seq')
      .limit(batchSize)
      .select('seq', 'occurredAt')) as { seq: number; occurredAt: Date }[];
    const keep = oldest.findIndex((e) => e.occurredAt >= before);
    const doomed = keep === -1 ? oldest : oldest.slice(0, keep);
    if (doomed.length === 0) return 0;
    const through = doomed[doomed.length - 1].seq;
    // Only pruning deletes events, and this tenant's pruning holds the lock: every row found is there to delete.
    await trx('events').where({ tenantId }).andWhere('seq', '>', from).andWhere('seq', '<=', through).delete();
    await trx('eventsPruned')
      .insert({ tenantId, throughSeq: through, prunedAt: trx.fn.now() })
      .onConflict('tenantId')
      .merge({
        throughSeq: trx.raw('greatest(events_pruned.through_seq, excluded.through_seq)'),
        prunedAt: trx.fn.now(),
      });
    return doomed.length;
  });
}

/** The first key of the advisory locks pruning takes (the second is the tenant's): "derm" in ASCII. */
const PRUNE_LOCK = 0x6465726d;

/** Prunes every tenant's log of the events committed before `before`, in small batches with a pause between them. */
export async function pruneEvents(
  db: Db,
  { before, batchSize = 2000, pauseMs = 20, signal }: PruneOptions,
): Promise<PruneResult> {
  const result: PruneResult = { deleted: 0, batches: 0 };
  const tenants = (await db('eventCounters').select('tenantId')) as { tenantId: string }[];
  for (const { tenantId } of tenants) {
    for (;;) {
      if (signal?.aborted) return result;
      const deleted = await pruneBatch(db, tenantId, before, batchSize);
      if (deleted === 0) break;
      result.deleted += deleted;
      result.batches += 1;
      if (deleted < batchSize) break;
      await sleep(pauseMs);
    }
  }
  return result;
}

/**
 * Runs `pruneEvents` on a timer on every instance, each round for the events older than `retentionDays`. Rounds do
 * not overlap on an instance; across instances, each tenant's batches are taken by one at a time (advisory lock) and
 * are idempotent anyway.
 */
export class EventPruner {
  private timer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly retentionDays: number,
    private readonly log: Logger,
    /** Between rounds; the first comes after a random part of it, so instances started together do not align. */
    private readonly everyMs = 10 * 60_000,
  ) {}

  start(): void {
    const next = (delay: number) => {
      this.timer = setTimeout(() => {
        this.running = this.round().finally(() => {
          this.running = null;
          if (!this.abort.signal.aborted) next(this.everyMs);
        });
      }, delay).unref();
    };
    next(Math.round(this.everyMs * (0.1 + 0.9 * Math.random())));
  }

  /** One round now: what the timer runs. Never throws (a failing database is logged and retried next round). */
  async round(now = new Date()): Promise<void> {
    const before = new Date(now.getTime() - this.retentionDays * 86_400_000);
    const started = Date.now();
    try {
      const { deleted, batches } = await pruneEvents(this.db, { before, signal: this.abort.signal });
      if (deleted > 0) this.log.info({ deleted, batches, before, ms: Date.now() - started }, 'event log pruned');
    } catch (err) {
      this.log.warn({ err, before }, 'pruning the event log failed; trying again next round');
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
