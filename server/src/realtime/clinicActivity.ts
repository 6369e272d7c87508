/**
 * What one instance observed of each clinic over the last minutes, for the admin connection dashboard
 * (docs/architecture.md, "Connection dashboard"): delivery latency, slow consumers ended, errors by code, in buckets
 * of `BUCKET_MS`. Prometheus has the same figures per instance without a clinic label (metrics.ts); these stay in
 * memory, per clinic, and leave the instance only as a snapshot for that clinic's own admins.
 *
 * Recording costs a map lookup and a few additions: it runs once per group and event, never per subscriber.
 */

/** One bucket's width. */
export const BUCKET_MS = 10_000;
/** How many buckets a clinic keeps: the dashboard's window is `BUCKETS * BUCKET_MS` (five minutes). */
export const BUCKETS = 30;
export const WINDOW_MS = BUCKET_MS * BUCKETS;

/** One bucket of one clinic, as it is shared between instances (plain JSON). */
export interface ActivityBucket {
  /** The bucket's start, epoch ms, a multiple of `BUCKET_MS`. */
  start: number;
  /** Events delivered by a delivery group (one per group and event). */
  deliveries: number;
  /** Their latencies added up, and the largest, in ms. */
  latencySumMs: number;
  latencyMaxMs: number;
  /** Subscriptions ended as SLOW_CONSUMER. */
  slowConsumers: number;
  /** Errors by code: `extensions.code` of operations that failed or were refused, `CLOSE_<code>` of sockets. */
  errors: Record<string, number>;
}

export class ClinicActivity {
  private readonly clinics = new Map<string, ActivityBucket[]>();
  /** Told of each clinic that had something recorded (the dashboard publishes a watched clinic's changes). */
  onChange: ((tenantId: string) => void) | null = null;

  delivered(tenantId: string, latencyMs: number): void {
    const bucket = this.bucket(tenantId);
    bucket.deliveries += 1;
    bucket.latencySumMs += latencyMs;
    if (latencyMs > bucket.latencyMaxMs) bucket.latencyMaxMs = latencyMs;
    this.onChange?.(tenantId);
  }

  slowConsumer(tenantId: string): void {
    this.bucket(tenantId).slowConsumers += 1;
    this.onChange?.(tenantId);
  }

  error(tenantId: string, code: string): void {
    const { errors } = this.bucket(tenantId);
    errors[code] = (errors[code] ?? 0) + 1;
    this.onChange?.(tenantId);
  }

  /** The clinic's buckets within the window, oldest first (only those with something in them). */
  window(tenantId: string, now = Date.now()): ActivityBucket[] {
    return (this.clinics.get(tenantId) ?? []).filter((b) => b.start > now - WINDOW_MS);
  }

  /** Clinics with something in the window. */
  tenants(): IterableIterator<string> {
    return this.clinics.keys();
  }

  /** Forgets what has left the window (the dashboard's timer calls it). */
  prune(now = Date.now()): void {
    for (const [tenantId, buckets] of this.clinics) {
      const kept = buckets.filter((b) => b.start > now - WINDOW_MS);
      if (kept.length === 0) this.clinics.delete(tenantId);
      else if (kept.length < buckets.length) this.clinics.set(tenantId, kept);
    }
  }

  private bucket(tenantId: string): ActivityBucket {
    const start = Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;
    let buckets = this.clinics.get(tenantId);
    if (!buckets) this.clinics.set(tenantId, (buckets = []));
    const last = buckets[buckets.length - 1];
    if (last?.start === start) return last;
    const bucket = emptyBucket(start);
    buckets.push(bucket);
    if (buckets.length > BUCKETS) buckets.shift();
    return bucket;
  }
}

export function emptyBucket(start: number): ActivityBucket {
  return { start, deliveries: 0, latencySumMs: 0, latencyMaxMs: 0, slowConsumers: 0, errors: {} };
}

/** Several instances' buckets of one clinic as one series over the window, a bucket per step (empty ones too). */
export function mergeBuckets(series: readonly (readonly ActivityBucket[])[], now = Date.now()): ActivityBucket[] {
  const newest = Math.floor(now / BUCKET_MS) * BUCKET_MS;
  const merged = new Map<number, ActivityBucket>();
  for (let i = BUCKETS - 1; i >= 0; i--) {
    const start = newest - i * BUCKET_MS;
    merged.set(start, emptyBucket(start));
  }
  for (const buckets of series) {
    for (const b of buckets) {
      const into = merged.get(b.start);
      if (!into) continue;
      into.deliveries += b.deliveries;
      into.latencySumMs += b.latencySumMs;
      into.latencyMaxMs = Math.max(into.latencyMaxMs, b.latencyMaxMs);
      into.slowConsumers += b.slowConsumers;
      for (const [code, count] of Object.entries(b.errors)) into.errors[code] = (into.errors[code] ?? 0) + count;
    }
  }
  return [...merged.values()];
}
