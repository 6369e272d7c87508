import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import knexPkg, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';

export type Db = Knex;
export type Trx = Knex.Transaction;

/**
 * The first row of a written-out query (`db.raw`, `?` placeholders), camelCased as every row is; undefined when there
 * is none. For the reads run on every request or connection, where knex's query builder would cost more than the query.
 */
export async function firstRow<T>(db: Db, sql: string, bindings: readonly Knex.Value[]): Promise<T | undefined> {
  const { rows } = (await db.raw(sql, bindings)) as { rows: T[] };
  return rows[0];
}

// One SQL dialect everywhere: PostgreSQL in production, PGlite (PostgreSQL compiled to WebAssembly) embedded.
const PG_INT8 = 20;
const PG_DATE = 1082;

// bigint columns (event and message sequences, counts) stay far below 2^53: read them as numbers.
pg.types.setTypeParser(PG_INT8, (v: string) => Number(v));
// A DATE is a calendar day, not an instant: keep 'YYYY-MM-DD' instead of a local-midnight Date.
pg.types.setTypeParser(PG_DATE, (v: string) => v);

/**
 * A spelling of identifiers, each worked out once: statements name the same columns over and over, and every row of a
 * result repeats its columns' names, so the regular expression would otherwise run per column per row. Code names the
 * identifiers, a bounded set; past `limit` (which no schema here comes near) a new one is spelt without being kept.
 */
function remembered(spell: (s: string) => string, limit = 5_000): (s: string) => string {
  const known = new Map<string, string>();
  return (s) => {
    let out = known.get(s);
    if (out === undefined) {
      out = spell(s);
      if (known.size < limit) known.set(s, out);
    }
    return out;
  };
}

const toSnake = remembered((s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
const toCamel = remembered((s) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));

function camelizeRow(row: unknown): unknown {
  if (row === null || typeof row !== 'object' || row instanceof Date || Array.isArray(row)) return row;
  const out: Record<string, unknown> = {};
  const fields = row as Record<string, unknown>;
  for (const key of Object.keys(fields)) out[toCamel(key)] = fields[key];
  return out;
}

/** The schema's timestamp columns, every one `timestamptz`, all named `…_at` or `at` (db/migrations): camelCased. */
const TIMESTAMP_FIELD = /(^at|At)$/;

/**
 * A whole row a statement returned as JSON (`to_jsonb(u) as provider`), as the data layer returns a row of its own:
 * keys in camelCase (`camelizeRow`), timestamps as Dates (to milliseconds, as pg's parser makes them), dates and the
 * rest as JSON has them. One statement can so return a joined table's rows whole beside its own: an appointment's lock
 * brings the provider and patient its change's delivery shows (domains/appointments/data.ts). Null (no such row) is
 * undefined.
 */
export function rowOfJson<T>(json: unknown): T | undefined {
  if (json === null || typeof json !== 'object') return undefined;
  const row = camelizeRow(json) as Record<string, unknown>;
  for (const [field, value] of Object.entries(row))
    if (typeof value === 'string' && TIMESTAMP_FIELD.test(field)) row[field] = new Date(value);
  return row as T;
}

/** Code speaks camelCase, the database snake_case; knex translates identifiers both ways. */
const caseMapping: Pick<Knex.Config, 'wrapIdentifier' | 'postProcessResponse'> = {
  wrapIdentifier: (value, origImpl) => origImpl(value === '*' ? value : toSnake(value)),
  postProcessResponse: (result) => {
    if (Array.isArray(result)) return result.map(camelizeRow);
    if (result && typeof result === 'object' && Array.isArray((result as { rows?: unknown }).rows)) {
      return { ...result, rows: (result as { rows: unknown[] }).rows.map(camelizeRow) };
    }
    return camelizeRow(result);
  },
};

export interface DbOptions {
  /** A `postgres://` URL; without it the embedded PGlite database is used. */
  databaseUrl?: string;
  /** Folder of the embedded database; `memory` keeps it in memory (tests). */
  embeddedDir?: string;
}

export function createDb({ databaseUrl, embeddedDir }: DbOptions): Db {
  if (databaseUrl) {
    // The pool looks for connections idle past 30 s every 10 s, not tarn's default second: that timer would wake an
    // idle instance every second (docs/architecture.md, "CPU at rest"); a connection is closed at most 10 s later.
    const pool = { min: 0, max: 10, reapIntervalMillis: 10_000 };
    return knexPkg.knex({ client: 'pg', connection: databaseUrl, pool, ...caseMapping });
  }
  let dir: string | undefined;
  if (embeddedDir && embeddedDir !== 'memory') {
    dir = path.resolve(embeddedDir);
    mkdirSync(path.dirname(dir), { recursive: true });
  }
  // Options go in the one-argument form: PGlite ignores them when the first argument is an undefined dataDir.
  const pglite = new PGlite({ dataDir: dir, parsers: { [PG_DATE]: (v: string) => v } });
  return knexPkg.knex({
    client: ClientPgLite,
    dialect: 'postgres',
    // knex-pglite takes an existing instance through a connection function (its README: "provide own PGLite instance").
    connection: (() => ({ pglite })) as unknown as Knex.StaticConnectionConfig,
    ...caseMapping,
  });
}

/** Which engine a knex instance talks to, for health output and logs. */
export function engineName(db: Db): 'postgresql' | 'pglite' {
  return db.client.config.client === 'pg' ? 'postgresql' : 'pglite';
}

/** PostgreSQL error codes the data layer turns into domain errors. */
export const PgError = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  invalidTextRepresentation: '22P02',
  /** A NUL character in text: PostgreSQL cannot store it. */
  characterNotInRepertoire: '22021',
  untranslatableCharacter: '22P05',
} as const;

export function isPgError(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
