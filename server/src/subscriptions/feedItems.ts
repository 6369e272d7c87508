import type { Db } from '../db/knex.js';
import type { LoggedEvent } from '../events/feed.js';
import { createTenantLoaders, type TenantLoaders } from '../loaders.js';

/** One event of the log as a subscription's resolvers receive it. */
export interface FeedItem extends LoggedEvent {
  /** Tenant loaders shared by every subscriber of this batch: what they all select is read once. */
  loaders: TenantLoaders;
}

const shared = new WeakMap<readonly LoggedEvent[], FeedItem[]>();

/**
 * The events of one batch with one set of tenant loaders for all of them. The feed hands the same batch to every
 * listener of a tenant's tail, so every group and stream on this instance that hears it reads through the same
 * loaders (docs/architecture.md, invariant 4). The event core knows no loaders; they are added here, above it.
 */
export function feedItems(db: Db, tenantId: string, batch: readonly LoggedEvent[]): FeedItem[] {
  let items = shared.get(batch);
  if (!items) {
    const loaders = createTenantLoaders(db, tenantId);
    items = batch.map((logged) => ({ ...logged, loaders }));
    shared.set(batch, items);
  }
  return items;
}
