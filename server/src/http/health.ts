import type { Request, Response } from 'express';
import type { Db } from '../db/knex.js';
import { engineName } from '../db/knex.js';
import type { ChannelHub } from '../events/channelHub.js';

/** Liveness: the process answers. */
export function livez(_req: Request, res: Response): void {
  res.json({ status: 'ok' });
}

/**
 * Readiness: 503 while draining or when the database does not answer within two seconds (nothing works without it).
 * When Redis is configured and unreachable the instance stays ready, answering 200 with `status: "degraded"` and
 * `redis: "unreachable"`: queries and mutations work, live delivery waits and catches up from the event log when Redis
 * is back (docs/architecture.md, "When a dependency fails"). Taking every instance out of a load balancer for a Redis
 * outage would turn a degraded service into no service.
 */
export function readyz(db: Db, isDraining: () => boolean, hub: Pick<ChannelHub, 'kind' | 'reachable'>) {
  return async (_req: Request, res: Response) => {
    if (isDraining()) {
      res.status(503).json({ status: 'draining' });
      return;
    }
    const pubsub =
      hub.kind === 'redis' ? { pubsub: 'redis', redis: hub.reachable ? 'ok' : 'unreachable' } : { pubsub: 'memory' };
    try {
      await Promise.race([
        db.raw('select 1'),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('database did not answer within 2s')), 2000).unref(),
        ),
      ]);
      const degraded = hub.kind === 'redis' && !hub.reachable;
      res.json({ status: degraded ? 'degraded' : 'ok', database: engineName(db), ...pubsub });
    } catch (err) {
      res
        .status(503)
        .json({ status: 'unavailable', database: engineName(db), error: (err as Error).message, ...pubsub });
    }
  };
}
