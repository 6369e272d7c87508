import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /**
   * Human-readable lines (pino-pretty) instead of JSON: for `npm run dev` in a terminal only. pino-pretty is a
   * development dependency, loaded only then; production (`npm start`) and anything piped (tests, log shippers) get
   * JSON.
   * @default false
   */
  pretty?: boolean;
  /** Where lines go instead of stdout (tests read them back). */
  destination?: DestinationStream;
}

/** Whether a server in this environment writes readable lines: development, to a terminal. */
export function prettyLogs(env: string, stdout: { isTTY?: boolean } = process.stdout): boolean {
  return env === 'development' && stdout.isTTY === true;
}

/**
 * Structured JSON logs. Tokens, passwords, message bodies and variables are never written, and errors are written
 * without what they may echo of the input (`safeError`): logs carry ids, names and codes, never PHI
 * (docs/architecture.md, "Logs").
 */
export function createLogger(level: string, { pretty = false, destination }: LoggerOptions = {}): Logger {
  const options = {
    level,
    base: { service: 'derm-realtime' },
    serializers: { err: safeError },
    redact: {
      paths: [
        'req.headers.authorization',
        'authorization',
        'password',
        'token',
        'variables',
        '*.password',
        '*.token',
        '*.body',
        '*.variables',
      ],
      censor: '[redacted]',
    },
  };
  const stream = destination ?? (pretty ? prettyStream() : undefined);
  return stream ? pino(options, stream) : pino(options);
}

function prettyStream(): DestinationStream {
  // Required, not imported: production installs without development dependencies never load it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as (options: object) => DestinationStream;
  return pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
}

/** A quoted run of text in an error message: where PostgreSQL, V8 and graphql-js put the value they complain about. */
const QUOTED = /"[^"]*"|'[^']*'|`[^`]*`|“[^”]*”/g;

/**
 * What an error's log line may hold: its kind, codes, the names of the constraint, table and column involved (schema
 * names, for a database error), and its stack without the message, which is written with every quoted run blanked.
 * Never the error's other properties: PostgreSQL's `detail` holds the failing row ("Failing row contains (…)", "Key
 * (email)=(…)"), `where` the parameters of a failing statement, and PGlite's errors carry the statement's `params`.
 * `invalid input syntax for type uuid: "…"`, `Unexpected token 'x', "…" is not valid JSON`, `Unknown operation named
 * "…"`: the value sits in quotes.
 */
export function safeError(err: unknown, depth = 0): Record<string, unknown> {
  if (err === null || typeof err !== 'object') return { type: typeof err, message: redactQuoted(String(err)) };
  const e = err as Record<string, unknown>;
  const out: Record<string, unknown> = {
    type: err instanceof Error ? kindOf(err) : 'object',
    message: typeof e.message === 'string' ? redactQuoted(e.message) : undefined,
  };
  for (const key of ['code', 'severity', 'constraint', 'table', 'column', 'routine'] as const) {
    if (typeof e[key] === 'string' || typeof e[key] === 'number') out[key] = e[key];
  }
  const extensions = e.extensions as { code?: unknown; reason?: unknown } | undefined;
  if (typeof extensions?.code === 'string') out.extensionsCode = extensions.code;
  if (typeof extensions?.reason === 'string') out.reason = extensions.reason;
  if (Array.isArray(e.path)) out.path = e.path;
  if (typeof e.stack === 'string') {
    const frames = e.stack.split('\n').filter((line) => /^\s+at /.test(line));
    if (frames.length) out.stack = frames.join('\n');
  }
  const cause = e.originalError ?? e.cause;
  if (cause !== undefined && cause !== null && cause !== err && depth < 3) out.cause = safeError(cause, depth + 1);
  return out;
}

/** The error's class, or its name where a bundle minified the class's (PGlite's errors). */
function kindOf(err: Error): string {
  const name = err.constructor?.name ?? '';
  return name.length > 2 ? name : err.name;
}

function redactQuoted(message: string): string {
  return message.replace(QUOTED, (quoted) => `${quoted[0]}…${quoted[quoted.length - 1]}`);
}
