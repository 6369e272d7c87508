import { performance } from 'node:perf_hooks';
import { Counter, Histogram, Registry } from 'prom-client';
import type { EventRow } from './db/rows.js';
import { isKnownCode } from './errors.js';
import { ClinicActivity } from './realtime/clinicActivity.js';

/** How an operation reached the server. */
export type Transport = 'http' | 'ws' | 'sse';

/**
 * What the operation metrics know of an operation, from the schema only (http/operation.ts, `operationLabels`): its
 * type and its root field. A client's operation name is its own choice, unbounded, so it is never a label.
 */
export interface OperationLabels {
  /** `query`, `mutation`, `subscription`, or `unknown` when the document did not parse, validate or name one. */
  type: string;
  /** The schema's root field it selects; `several` when more than one; empty when unknown. */
  field: string;
  /** Every root field of the schema it selects: for the debug log (http/debugLog.ts), never a label. */
  fields?: readonly string[];
}

export const UNKNOWN_OPERATION: OperationLabels = { type: 'unknown', field: '' };

/** An error code as a label: one of errors.ts's codes, or `OTHER` (a label's values must stay a bounded set). */
export function outcomeOf(code: unknown): string {
  return code === undefined ? 'ok' : isKnownCode(code) ? code : 'OTHER';
}

/**
 * The instance's own Prometheus figures that code observes as things happen (docs/architecture.md, "Metrics"); the
 * gauges read at scrape time and the endpoint are in http/metrics.ts. Labels are bounded sets only: topics, transports,
 * operation types, root fields of the schema, error codes; never a clinic, a user, a patient or a request.
 *
 * The delivery path observes once per group and event (`delivered`), never per subscriber: a member's frame costs the
 * group one increment of a local number.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly committed = new Counter({
    name: 'derm_events_committed_total',
    help: 'Events committed to the event log by this instance, by topic',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });
  private readonly framesDelivered = new Counter({
    name: 'derm_events_delivered_total',
    help: 'Frames of durable events written to subscribers on this instance (live and replayed), by topic',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'derm_event_delivery_latency_seconds',
    help: "From an event's occurred_at (its transaction's start) to its frames written by a delivery group on this instance: one observation per group and event",
    labelNames: ['topic'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly replays = new Histogram({
    name: 'derm_replay_events',
    help: 'Events replayed from the log to one subscription resuming with `after`',
    buckets: [0, 1, 10, 100, 1000, 10_000, 100_000],
    registers: [this.registry],
  });
  private readonly slowConsumers = new Counter({
    name: 'derm_slow_consumers_total',
    help: 'Subscriptions ended as SLOW_CONSUMER on this instance',
    registers: [this.registry],
  });
  private readonly operations = new Histogram({
    name: 'derm_operation_duration_seconds',
    help: 'Operations answered, by transport, type, root field and outcome (ok or the error code), and how long until their result (a subscription: until it is live or refused); _count counts them',
    labelNames: ['transport', 'type', 'field', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  /**
   * The same observations per clinic over the last minutes, for the clinic's admins (the connection dashboard), never
   * a Prometheus label.
   */
  readonly clinics = new ClinicActivity();
  /** Children by topic, made once: the delivery path does not build a label set per event. */
  private readonly byTopic = new Map<string, { delivered: Counter.Internal; latency: Histogram.Internal<'topic'> }>();

  /** After a commit: the events this instance wrote. */
  eventsCommitted(events: readonly EventRow[]): void {
    for (const event of events) this.committed.inc({ topic: event.topic });
  }

  /** A delivery group wrote `frames` frames of one live event: counted, and its latency observed once. */
  delivered(event: EventRow, frames: number): void {
    const topic = this.topic(event.topic);
    const latencyMs = Math.max(0, Date.now() - new Date(event.occurredAt).getTime());
    topic.delivered.inc(frames);
    topic.latency.observe(latencyMs / 1000);
    this.clinics.delivered(event.tenantId, latencyMs);
  }

  /** Frames written by a resume's replay (or what was held for it), which have no latency to speak of. */
  replayedFrames(topic: string, frames: number): void {
    if (frames > 0) this.topic(topic).delivered.inc(frames);
  }

  /** A resume's replay is over: how many events it sent. */
  replayed(events: number): void {
    this.replays.observe(events);
  }

  slowConsumer(tenantId: string): void {
    this.slowConsumers.inc();
    this.clinics.slowConsumer(tenantId);
  }

  /**
   * An operation was answered: `startedAt` is `performance.now()` when the transport took it, `code` the first error's
   * `extensions.code` (undefined when it succeeded), `tenantId` the caller's clinic when known.
   */
  operation(transport: Transport, labels: OperationLabels, startedAt: number, code: unknown, tenantId?: string): void {
    const outcome = outcomeOf(code);
    this.operations.observe(
      { transport, type: labels.type, field: labels.field, outcome },
      (performance.now() - startedAt) / 1000,
    );
    if (tenantId && code !== undefined) this.clinics.error(tenantId, outcome);
  }

  private topic(name: string) {
    let children = this.byTopic.get(name);
    if (!children) {
      children = { delivered: this.framesDelivered.labels(name), latency: this.latency.labels(name) };
      this.byTopic.set(name, children);
    }
    return children;
  }
}
