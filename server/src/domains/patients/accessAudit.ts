import type { Knex } from 'knex';
import type { Viewer } from '../../auth/tokens.js';
import type { Db } from '../../db/knex.js';
import type { AccessAction, AccessTransport } from '../../db/rows.js';
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

/**
 * One reader of patient records: who, over which transport, by which request. A delivery group's member is one as it
 * is (subscriptions/groups.ts), so a grant to thousands of members holds a reference to each and nothing more.
 */
export interface Reader {
  readonly viewer: Viewer;
  readonly origin: { readonly via: AccessTransport; readonly requestId: string };
}

/**
 * Who was given what: every reader of a grant read every record of `reads`, so a delivery group's execution, shared by
 * its members, is one grant whose readers are the members. A grant of R records and M readers is R × M entries of
 * `patient_access_log`.
 */
export class AccessGrant {
  readonly readers: Reader[] = [];

  constructor(
    readonly tenantId: string,
    readonly reads: readonly PatientRead[],
    readonly action: AccessAction = 'VIEW',
  ) {}

  /** One more reader of every record of the grant. */
  add(reader: Reader): this {
    this.readers.push(reader);
    return this;
  }

  /** The entries it writes. */
  get size(): number {
    return this.reads.length * this.readers.length;
  }
}

/** The grant of `reads` to one reader (an operation, a stream run per subscriber); none when nothing was read. */
export function grantOf(reads: readonly PatientRead[], viewer: Viewer, via: AccessTransport, requestId: string) {
  if (reads.length === 0) return [];
  return [new AccessGrant(viewer.tenantId, reads).add({ viewer, origin: { via, requestId } })];
}

/**
 * What one delivery gave (an event, a signal, a replay's page): members sent the same execution's result share a
 * grant, keyed by that execution's reads.
 */
export class DeliveredAccess {
  private readonly byReads = new Map<readonly PatientRead[], AccessGrant>();

  add(reads: readonly PatientRead[], reader: Reader): void {
    if (reads.length === 0) return;
    const { tenantId } = reader.viewer;
    let grant = this.byReads.get(reads);
    // A group is one clinic's: a reads array never reaches readers of two (kept apart all the same).
    if (grant && grant.tenantId !== tenantId) grant = undefined;
    if (!grant) this.byReads.set(reads, (grant = new AccessGrant(tenantId, reads)));
    grant.add(reader);
  }

  get grants(): AccessGrant[] {
    return [...this.byReads.values()];
  }
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
  await db('patientAccessLog').insert({
    tenantId: reader.tenantId,
    patientId,
    userId: reader.kind === 'user' ? reader.userId : null,
    integrationClientId: reader.kind === 'integration' ? reader.clientId : null,
    action,
    transport,
    through,
    requestId,
    at: new Date(),
  });
}

/** Grants in one statement: nine bind parameters each. */
const GRANTS_PER_STATEMENT = 1000;

function countEntries(grants: readonly AccessGrant[]): number {
  let n = 0;
  for (const grant of grants) n += grant.size;
  return n;
}

/**
 * A PostgreSQL array literal of ids (uuids we issued, or null): nothing in them needs quoting. Built by appending, as
 * `textArray` is: for thousands of elements V8's `join` measured two to three times slower (it copies every element
 * into one new string; appending builds a rope that is copied once, when pg writes it).
 */
function uuidArray(ids: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < ids.length; i++) out += i === 0 ? (ids[i] ?? 'NULL') : ',' + (ids[i] ?? 'NULL');
  return out + '}';
}

/**
 * A PostgreSQL array literal of text, every element quoted (backslashes and double quotes escaped). A delivery's
 * columns are thousands of request ids and transport names, mostly repeating the element before: each distinct run is
 * checked once.
 */
function textArray(values: readonly string[]): string {
  let out = '{';
  let last: string | undefined;
  let quoted = '';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value !== last) {
      last = value;
      quoted = value.includes('"') || value.includes('\\') ? value.replace(/[\\"]/g, '\\$&') : value;
    }
    out += i === 0 ? '"' + quoted + '"' : ',"' + quoted + '"';
  }
  return out + '}';
}

/** The readers' columns as PostgreSQL array literals, one bind parameter each. */
interface ReaderColumns {
  userIds: string;
  clientIds: string;
  transports: string;
  requestIds: string;
}

function readerColumns(readers: readonly Reader[]): ReaderColumns {
  const userIds: (string | null)[] = [];
  const clientIds: (string | null)[] = [];
  const transports: string[] = [];
  const requestIds: string[] = [];
  for (const { viewer, origin } of readers) {
    userIds.push(viewer.kind === 'user' ? viewer.userId : null);
    clientIds.push(viewer.kind === 'integration' ? viewer.clientId : null);
    transports.push(origin.via);
    requestIds.push(origin.requestId);
  }
  return {
    userIds: uuidArray(userIds),
    clientIds: uuidArray(clientIds),
    transports: textArray(transports),
    requestIds: textArray(requestIds),
  };
}

/** Fewer readers than this are written as built each time: cheap, and not worth keeping. */
const KEPT_FROM = 64;
/** Reader lists whose columns are kept: the largest groups'. */
const KEPT_LISTS = 16;

/**
 * The columns of the reader lists written last, reused while a list stays the same (docs/architecture.md, "Access
 * audit"). A delivery group's readers are its members, the same event after event; at thousands of subscribers each
 * of the four columns is a literal of hundreds of KB. Built anew for every event they were more than half of what the
 * instance allocated during a fan-out to 5,000 (the inspector's sampling heap profiler). A list is compared with the
 * kept ones of its length reader by reader, by reference: the same subscriber (`viewer`) by the same operation
 * (`origin`, its sink's own). Only those two small objects are kept of a reader, never a member: a group's members
 * that have gone, with their sockets, are not held here. A literal once written is flat.
 */
class KeptColumns {
  private readonly kept: { viewers: Viewer[]; origins: Reader['origin'][]; columns: ReaderColumns }[] = [];

  of(readers: readonly Reader[]): ReaderColumns {
    if (readers.length < KEPT_FROM) return readerColumns(readers);
    const at = this.kept.findIndex((entry) => sameReaders(entry, readers));
    const entry =
      at >= 0
        ? this.kept.splice(at, 1)[0]
        : {
            viewers: readers.map((r) => r.viewer),
            origins: readers.map((r) => r.origin),
            columns: readerColumns(readers),
          };
    this.kept.unshift(entry);
    if (this.kept.length > KEPT_LISTS) this.kept.pop();
    return entry.columns;
  }
}

/** The same grant, its readers reduced to who they are (`viewer`, `origin`). */
function detached(grant: AccessGrant): AccessGrant {
  const copy = new AccessGrant(grant.tenantId, grant.reads, grant.action);
  for (const { viewer, origin } of grant.readers) copy.add({ viewer, origin });
  return copy;
}

function sameReaders(kept: { viewers: Viewer[]; origins: Reader['origin'][] }, readers: readonly Reader[]): boolean {
  if (kept.viewers.length !== readers.length) return false;
  for (let i = 0; i < readers.length; i++) {
    const reader = readers[i];
    if (reader.origin !== kept.origins[i] || reader.viewer !== kept.viewers[i]) return false;
  }
  return true;
}

/** Entries read by subscribers kept for a retry while the database fails; beyond, the oldest are dropped (logged). */
const MAX_RETAINED = 100_000;
const RETRY_MS = [500, 2000, 5000, 15_000, 30_000];

interface Waiting {
  grants: AccessGrant[];
  /** Entries the grants make. */
  entries: number;
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
  private readonly columns = new KeptColumns();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  write(grants: AccessGrant[]): Promise<void> {
    const entries = countEntries(grants);
    if (entries === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.enqueue({ grants, entries, settle: { resolve, reject }, attempt: 0 });
    });
  }

  writeDelivered(grants: AccessGrant[]): void {
    const entries = countEntries(grants);
    if (entries === 0) return;
    this.enqueue({ grants, entries, attempt: 0 });
  }

  /** Resolves once nothing is waiting or being written (shutdown, tests). */
  settled(): Promise<void> {
    return this.idle;
  }

  private enqueue(item: Waiting): void {
    if (!item.settle && item.attempt === 0) {
      this.retained += item.entries;
      while (this.retained > MAX_RETAINED) {
        const oldest = this.waiting.findIndex((w) => !w.settle);
        if (oldest < 0) break;
        const [dropped] = this.waiting.splice(oldest, 1);
        this.retained -= dropped.entries;
        this.log.error({ entries: dropped.entries }, 'patient access audit entries dropped: too many waiting');
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
      await this.insert(batch.flatMap((w) => w.grants));
      for (const w of batch) this.done(w);
    } catch (err) {
      // One waiter's entries must not fail another's request: apart, each learns of its own outcome.
      if (batch.length === 1) this.failed(batch[0], err);
      else {
        for (const w of batch) {
          try {
            await this.insert(w.grants);
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
   * One statement for up to `GRANTS_PER_STATEMENT` grants, whatever their number of records and readers: each grant is
   * its records cross-joined with its readers, both unnested from arrays (nothing to split at PostgreSQL's 65,535
   * bind parameters). The readers' arrays go as array literals built here: a delivery to 5,000 subscribers is four
   * strings joined, not 20,000 values escaped one by one by pg and scanned by knex.
   */
  private async insert(grants: AccessGrant[]): Promise<void> {
    for (let at = 0; at < grants.length; at += GRANTS_PER_STATEMENT) {
      const chunk = grants.slice(at, at + GRANTS_PER_STATEMENT).filter((g) => g.size > 0);
      if (chunk.length === 0) continue;
      const bindings: Knex.Value[] = [];
      const selects = chunk.map((grant) => {
        const readers = this.columns.of(grant.readers);
        bindings.push(
          grant.tenantId,
          grant.action,
          uuidArray(grant.reads.map((r) => r.patientId)),
          textArray(grant.reads.map((r) => r.through)),
          textArray(grant.reads.map((r) => r.at.toISOString())),
          readers.userIds,
          readers.clientIds,
          readers.transports,
          readers.requestIds,
        );
        return `select ?::uuid, r.patient_id, m.user_id, m.client_id, ?::text, m.transport, r.through, m.request_id, r.at
          from unnest(?::uuid[], ?::text[], ?::timestamptz[]) as r (patient_id, through, at)
          cross join unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[]) as m (user_id, client_id, transport, request_id)`;
      });
      await this.db.raw(
        `insert into patient_access_log
           (tenant_id, patient_id, user_id, integration_client_id, action, transport, through, request_id, at)
         ${selects.join(' union all ')}`,
        bindings,
      );
    }
  }

  private failed(w: Waiting, err: unknown): void {
    this.log.error({ err, entries: w.entries }, 'patient access audit write failed');
    if (w.settle) w.settle.reject(err);
    else this.retry(w);
  }

  private done(w: Waiting): void {
    if (w.settle) w.settle.resolve();
    else this.retained -= w.entries;
  }

  /** Entries of delivered events are kept (counted in `retained`) until written, given up, or crowded out. */
  private retry(w: Waiting): void {
    const delay = RETRY_MS[w.attempt];
    if (delay === undefined || this.retained > MAX_RETAINED) {
      this.retained -= w.entries;
      this.log.error({ entries: w.entries }, 'patient access audit entries lost after retries');
      return;
    }
    // Waiting for the database, a grant keeps who its readers were, not the readers: a member is a subscriber's
    // whole stream, which must not outlive it here (a delivery group's members are its readers as they are). Once is
    // enough: a later retry's grants are those copies.
    const grants = w.attempt === 0 ? w.grants.map((grant) => detached(grant)) : w.grants;
    setTimeout(() => this.enqueue({ grants, entries: w.entries, attempt: w.attempt + 1 }), delay).unref();
  }
}

/**
 * What the audit reads of one operation: an operation's context (context.ts `Context`) is one. Named here rather than
 * imported, so that the context, which holds its operation's `PatientReads`, and this file do not import each other.
 */
export interface AuditedOperation {
  readonly patientReads: PatientReads;
  readonly viewer: Viewer | null;
  /** A subscription's transport: who it is as authenticated. */
  readonly transport?: { readonly identity: { readonly viewer: Viewer } };
  readonly via: AccessTransport;
  readonly requestId: string;
  readonly services: { readonly audit: AccessAuditWriter };
}

/** Who the audit names for an operation: the caller as authenticated (a subscription's is watched; this is no read). */
const readerOf = (ctx: AuditedOperation): Viewer | null => ctx.transport?.identity.viewer ?? ctx.viewer;

/**
 * Writes the entries of what one operation read (HTTP, or a query or mutation over WebSocket or SSE) and resolves once
 * they are written; rejects when they could not be (the caller then withholds the result).
 */
export function auditOperation(ctx: AuditedOperation): Promise<void> {
  const reads = ctx.patientReads.take();
  const reader = readerOf(ctx);
  if (reads.length === 0 || !reader) return Promise.resolve();
  return ctx.services.audit.write(grantOf(reads, reader, ctx.via, ctx.requestId));
}

/** A stream that graphql-js runs per subscriber (not a delivery group): what its last event read, written after. */
export function auditStreamEvent(ctx: AuditedOperation): void {
  const reads = ctx.patientReads.take();
  const reader = readerOf(ctx);
  if (reads.length > 0 && reader) ctx.services.audit.writeDelivered(grantOf(reads, reader, ctx.via, ctx.requestId));
}
