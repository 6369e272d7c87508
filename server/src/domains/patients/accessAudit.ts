import type { Knex } from 'knex';
import type { Viewer } from '../../auth/tokens.js';
import type { Context } from '../../context.js';
import type { Db } from '../../db/knex.js';
import type { AccessAction, AccessTransport, PatientAccessRow } from '../../db/rows.js';
import type { Logger } from '../../logger.js';

/**
 * The access audit (docs/architecture.md, "Access audit"): every patient record that reaches a caller, on any path and
 * transport, is a row of `patient_access_log`. Reads are noted where a `Patient` is resolved (schema.ts,
 * `auditPatientFields`) into the operation's `PatientReads`, then written in batches by the instance's
 * `AccessAuditWriter`: one statement for whatever is waiting, whatever the number of records, readers or groups.
 */

/** One patient record given to the caller by one field path. */
export interface PatientRead {
  patientId: string;
  /** The field path, as the schema names it: `Query.schedule > Appointment.patient`. */
  through: string;
  at: Date;
}

export type AccessEntry = Omit<PatientAccessRow, 'id'>;

/**
 * The patient records one execution gave out, once per patient and field path (a schedule that shows one patient
 * twice is one read of it there). Knows nothing of who asked: a delivery group's execution is shared by its members,
 * each of whom becomes a reader of what it gave (subscriptions/groups.ts), and reading the caller there would make
 * the group personal.
 */
export class PatientReads {
  private reads: Map<string, PatientRead> | undefined;

  add(patientId: string, through: string): void {
    const key = `${patientId}|${through}`;
    this.reads ??= new Map();
    if (!this.reads.has(key)) this.reads.set(key, { patientId, through, at: new Date() });
  }

  /** What was read since the last take, and forget it (a stream's next event is a new read). */
  take(): PatientRead[] {
    if (!this.reads) return NO_READS;
    const reads = [...this.reads.values()];
    this.reads = undefined;
    return reads;
  }
}

const NO_READS: PatientRead[] = [];

/** The audit entries of `reads` by one reader. */
export function entriesOf(
  reads: readonly PatientRead[],
  reader: Viewer,
  transport: AccessTransport,
  requestId: string,
  into: AccessEntry[] = [],
): AccessEntry[] {
  const userId = reader.kind === 'user' ? reader.userId : null;
  const integrationClientId = reader.kind === 'integration' ? reader.clientId : null;
  for (const read of reads) {
    into.push({
      tenantId: reader.tenantId,
      patientId: read.patientId,
      userId,
      integrationClientId,
      action: 'VIEW',
      transport,
      through: read.through,
      requestId,
      at: read.at,
    });
  }
  return into;
}

/** One audit entry written with a change, in its transaction (`createPatient`, `updatePatient`). */
export async function recordPatientChange(
  db: Db,
  patientId: string,
  reader: Viewer,
  action: AccessAction,
  transport: AccessTransport,
  through: string,
  requestId: string,
): Promise<void> {
  const [entry] = entriesOf([{ patientId, through, at: new Date() }], reader, transport, requestId);
  await db('patientAccessLog').insert({ ...entry, action });
}

/** Entries read by subscribers kept for a retry while the database fails; beyond, the oldest are dropped (logged). */
const MAX_RETAINED = 100_000;
const RETRY_MS = [500, 2000, 5000, 15_000, 30_000];

interface Waiting {
  entries: AccessEntry[];
  settle?: { resolve(): void; reject(err: unknown): void };
  attempt: number;
}

/**
 * Writes audit entries in batches: what arrives while a write is in flight (or in the same turn of the event loop)
 * goes out together in the next statement, so an event delivered to many groups, or many requests at once, cost one
 * insert, not one per reader.
 *
 * - `write`: the caller waits, and learns of a failure (HTTP, WebSocket and SSE queries answer an error instead of
 *   the records: nothing goes out unaudited).
 * - `writeDelivered`: for subscription events already sent; a failed write is retried (0.5 s to 30 s, five times)
 *   and logged with counts, never with names.
 */
export class AccessAuditWriter {
  private waiting: Waiting[] = [];
  private retained = 0;
  private flushing = false;
  private scheduled = false;
  /** Statements in flight or pending; `stop` waits for them. */
  private idle: Promise<void> = Promise.resolve();
  private markIdle: (() => void) | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  write(entries: AccessEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.enqueue({ entries, settle: { resolve, reject }, attempt: 0 });
    });
  }

  writeDelivered(entries: AccessEntry[]): void {
    if (entries.length === 0) return;
    this.enqueue({ entries, attempt: 0 });
  }

  /** Resolves once nothing is waiting or being written (shutdown, tests). */
  settled(): Promise<void> {
    return this.idle;
  }

  private enqueue(item: Waiting): void {
    if (!item.settle && item.attempt === 0) {
      this.retained += item.entries.length;
      while (this.retained > MAX_RETAINED) {
        const oldest = this.waiting.findIndex((w) => !w.settle);
        if (oldest < 0) break;
        const [dropped] = this.waiting.splice(oldest, 1);
        this.retained -= dropped.entries.length;
        this.log.error({ entries: dropped.entries.length }, 'patient access audit entries dropped: too many waiting');
      }
    }
    this.waiting.push(item);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    if (!this.markIdle) this.idle = new Promise((resolve) => (this.markIdle = resolve));
    // The next turn: the groups of one event, and requests ending together, join one statement.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    const batch = this.waiting;
    this.waiting = [];
    try {
      await this.insert(batch.flatMap((w) => w.entries));
      for (const w of batch) this.done(w);
    } catch (err) {
      // One waiter's entries must not fail another's request: apart, each learns of its own outcome.
      if (batch.length === 1) this.failed(batch[0], err);
      else {
        for (const w of batch) {
          try {
            await this.insert(w.entries);
            this.done(w);
          } catch (own) {
            this.failed(w, own);
          }
        }
      }
    } finally {
      this.flushing = false;
      if (this.waiting.length > 0) this.schedule();
      else if (this.markIdle && !this.scheduled) {
        this.markIdle();
        this.markIdle = undefined;
      }
    }
  }

  /**
   * One statement whatever the number of rows: nine arrays, unnested. Nothing to split at PostgreSQL's 65,535 bind
   * parameters, and little to build (a multi-row VALUES of 5,000 readers would be 45,000 placeholders).
   */
  private async insert(rows: AccessEntry[]): Promise<void> {
    const column = (key: keyof AccessEntry): Knex.Value => rows.map((row) => row[key]) as Knex.Value;
    await this.db.raw(
      `insert into patient_access_log
         (tenant_id, patient_id, user_id, integration_client_id, action, transport, through, request_id, at)
       select * from unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[],
         ?::timestamptz[])`,
      [
        column('tenantId'),
        column('patientId'),
        column('userId'),
        column('integrationClientId'),
        column('action'),
        column('transport'),
        column('through'),
        column('requestId'),
        column('at'),
      ],
    );
  }

  private failed(w: Waiting, err: unknown): void {
    this.log.error({ err, entries: w.entries.length }, 'patient access audit write failed');
    if (w.settle) w.settle.reject(err);
    else this.retry(w);
  }

  private done(w: Waiting): void {
    if (w.settle) w.settle.resolve();
    else this.retained -= w.entries.length;
  }

  /** Entries of delivered events are kept (counted in `retained`) until written, given up, or crowded out. */
  private retry(w: Waiting): void {
    const delay = RETRY_MS[w.attempt];
    if (delay === undefined || this.retained > MAX_RETAINED) {
      this.retained -= w.entries.length;
      this.log.error({ entries: w.entries.length }, 'patient access audit entries lost after retries');
      return;
    }
    setTimeout(() => this.enqueue({ entries: w.entries, attempt: w.attempt + 1 }), delay).unref();
  }
}

/** Who the audit names for an operation: the caller as authenticated (a subscription's is watched; this is no read). */
const readerOf = (ctx: Context): Viewer | null => ctx.transport?.identity.viewer ?? ctx.viewer;

/**
 * Writes the entries of what one operation read (HTTP, or a query or mutation over WebSocket or SSE) and resolves once
 * they are written; rejects when they could not be (the caller then withholds the result).
 */
export function auditOperation(ctx: Context): Promise<void> {
  const reads = ctx.patientReads.take();
  const reader = readerOf(ctx);
  if (reads.length === 0 || !reader) return Promise.resolve();
  return ctx.services.audit.write(entriesOf(reads, reader, ctx.via, ctx.requestId));
}

/** A stream that graphql-js runs per subscriber (not a delivery group): what its last event read, written after. */
export function auditStreamEvent(ctx: Context): void {
  const reads = ctx.patientReads.take();
  const reader = readerOf(ctx);
  if (reads.length > 0 && reader) ctx.services.audit.writeDelivered(entriesOf(reads, reader, ctx.via, ctx.requestId));
}
