import type { Request, Response } from 'express';
import type { Db } from '../db/knex.js';
import { engineName } from '../db/knex.js';

/** Liveness: the process answers. */
export function livez(_req: Request, res: Response): void {
  res.json({ status: 'ok' });
}

/** Readiness: the database answers within two seconds. */
export function readyz(db: Db, isDraining: () => boolean) {
  return async (_req: Request, res: Response) => {
    if (isDraining()) {
      res.status(503).json({ status: 'draining' });
      return;
    }
    try {
      await Promise.race([
        db.raw('select 1'),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('database did not answer within 2s')), 2000).unref(),
        ),
      ]);
      res.json({ status: 'ok', database: engineName(db) });
    } catch (err) {
      res.status(503).json({ status: 'unavailable', database: engineName(db), error: (err as Error).message });
    }
  };
}
