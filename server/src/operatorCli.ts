import { GraphQLError } from 'graphql';
import type { Config } from './config.js';
import { createDb, type Db } from './db/knex.js';
import { migrateLatest } from './db/migrate.js';
import { ChannelHub } from './events/channelHub.js';
import { createPubSub } from './events/pubsub.js';
import { createLogger } from './logger.js';

/**
 * What the operators' commands share (`npm run integrations`, `npm run clinics`): where they print, how they open the
 * database, how they tell running servers what they changed. Exit codes: 0 done, 2 bad usage or bad input (nothing
 * written), 1 unexpected.
 */

/** Bad usage: a missing or unknown argument. Printed with the command's usage; exit code 2. */
export class UsageError extends Error {}

/**
 * Runs a command and turns how it ended into its exit code: 0 done; 2 bad usage (printed with `usage`) or bad input
 * (a GraphQLError, worded by `badInput`, by default also with the usage); 1 anything unexpected (its stack).
 */
export async function exitCodeOf(
  command: () => Promise<number>,
  out: CliOutput,
  usage: string,
  badInput: (err: GraphQLError) => string = (err) => `error: ${err.message}\n\n${usage}`,
): Promise<number> {
  try {
    return await command();
  } catch (err) {
    if (err instanceof UsageError) {
      out.error(`error: ${err.message}\n\n${usage}`);
      return 2;
    }
    if (err instanceof GraphQLError) {
      out.error(badInput(err));
      return 2;
    }
    out.error(String((err as Error).stack ?? err));
    return 1;
  }
}

/** Where a command writes, and reads what is piped to it: the process's streams, or a test's buffers. */
export interface CliOutput {
  log(line: string): void;
  error(line: string): void;
  /** Everything piped to the command's standard input (`--password-stdin`). */
  readStdin?(): Promise<string>;
}

async function readProcessStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('Nothing is piped to standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const processOutput: CliOutput = {
  log: (line) => console.log(line),
  error: (line) => console.error(line),
  readStdin: readProcessStdin,
};

/** Whether a server answers on this port here: two processes must not open the embedded database at once. */
async function serverAnswers(port: number): Promise<boolean> {
  if (port === 0) return false;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/livez`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Opens and migrates the database of `config` (DATABASE_URL, or the embedded one under DATA_DIR). The embedded
 * database has one process at a time: refused with `busy` while a server runs on it here.
 */
export async function openOperatorDb(config: Config, busy: string): Promise<Db> {
  if (!config.databaseUrl && (await serverAnswers(config.port))) {
    throw new UsageError(
      `A server is running on port ${config.port} with the embedded database, which has one process at a time. ${busy}`,
    );
  }
  const db = createDb({ databaseUrl: config.databaseUrl, embeddedDir: `${config.dataDir}/pglite` });
  try {
    await migrateLatest(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

/** Publishes signals through Redis, as a server would, so that every running instance acts at once. */
export interface Announcer {
  /** False without REDIS_URL or when Redis cannot be reached: the servers then catch the change at their next check. */
  publish(channel: string, signal: unknown): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Starts connecting to Redis before the change it will announce is made, without waiting for it: the change never
 * waits for Redis (nor fails for it), and the signal follows the commit at once instead of after a connection set up
 * only then, during which a server's periodic check could act on the change first.
 */
function openAnnouncer(config: Config): Announcer {
  if (!config.redisUrl) return { publish: async () => false, close: async () => {} };
  const log = createLogger('silent');
  const hub = createPubSub(config.redisUrl, log, config.redisNamespace).then(
    (engine) => new ChannelHub(engine, log),
    () => null,
  );
  return {
    async publish(channel, signal) {
      const connected = await hub;
      if (!connected) return false;
      try {
        await connected.publish(channel, signal);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await (await hub)?.close();
    },
  };
}

/**
 * Runs `change` with an announcer opened as it starts (`openAnnouncer`), closed once it is over, whatever the outcome.
 */
export async function announcing<T>(config: Config, change: (announcer: Announcer) => Promise<T>): Promise<T> {
  const announcer = openAnnouncer(config);
  try {
    return await change(announcer);
  } finally {
    await announcer.close();
  }
}
