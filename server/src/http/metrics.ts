import type { Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge } from 'prom-client';
import type { WebSocketServer } from 'ws';
import type { Services } from '../context.js';

/**
 * Prometheus metrics at /metrics (docs/architecture.md, "Metrics"; README lists them): process figures, what the
 * instance observed as it happened (metrics.ts), and the live real-time state read at scrape time (what a leak or an
 * outage would show in).
 */
export function createMetrics({ metrics, realtime, delivery, limits }: Services, wss: WebSocketServer) {
  const { registry } = metrics;
  // The event-loop delay histogram (`nodejs_eventloop_lag_*`) samples once a second, not every 10 ms as prom-client
  // would: each sample is a timer that wakes the process, and on a virtual machine a wake-up of an idle process costs
  // 0.1-0.2 ms of CPU. At 10 ms that was three quarters of an idle instance's CPU, at 100 ms still more than half
  // (measured with the built server; docs/architecture.md, "CPU at rest"). A stall still shows: it delays the next
  // sample, and a sustained lag shows in every sample.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 });
  new Gauge({
    name: 'derm_websocket_connections',
    help: 'Open WebSocket connections on this instance',
    registers: [registry],
    collect() {
      this.set(wss.clients.size);
    },
  });
  new Gauge({
    name: 'derm_subscription_streams',
    help: 'Live subscription streams on this instance',
    registers: [registry],
    collect() {
      this.set(realtime.streams.count);
    },
  });
  new Gauge({
    name: 'derm_event_feed_listeners',
    help: 'Listeners on the event-log tails of this instance',
    registers: [registry],
    collect() {
      this.set(realtime.feed.listenerCount);
    },
  });
  new Gauge({
    name: 'derm_delivery_groups',
    help: 'Delivery groups of durable subscriptions on this instance (each event is executed and serialised once per group)',
    registers: [registry],
    collect() {
      this.set(delivery.groupCount);
    },
  });
  new Gauge({
    name: 'derm_delivery_group_members',
    help: 'Subscribers in the delivery groups of this instance',
    registers: [registry],
    collect() {
      this.set(delivery.memberCount);
    },
  });
  new Counter({
    name: 'derm_operations_refused_total',
    help: 'Operations refused on this instance for a limit per caller or clinic (reason: CALLER_RATE, CLINIC_RATE, CALLER_SUBSCRIPTIONS, CLINIC_SUBSCRIPTIONS)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of limits.refusals) this.inc({ reason }, count);
    },
  });
  new Gauge({
    name: 'derm_redis_up',
    help: 'Whether pub/sub (Redis) is reachable from this instance now: 1 or 0 (always 1 with the in-process engine)',
    registers: [registry],
    collect() {
      this.set(realtime.hub.reachable ? 1 : 0);
    },
  });
  new Counter({
    name: 'derm_redis_down_seconds_total',
    help: 'Seconds this instance has found Redis unreachable since it started, the outage under way included',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(realtime.hub.downSeconds());
    },
  });
  new Counter({
    name: 'derm_pubsub_reconnects_total',
    help: 'Times pub/sub came back from an outage on this instance (each one backfills every tail from the log)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(realtime.hub.reconnects);
    },
  });
  new Gauge({
    name: 'derm_event_log_lag_events',
    help: 'Events this instance has heard of (a wake-up, its own commit) that its most lagging delivery group has not yet delivered or passed over; 0 when delivery keeps up',
    registers: [registry],
    collect() {
      this.set(delivery.deliveryLag((tenantId) => realtime.feed.newestHeard(tenantId)));
    },
  });
  return async (_req: Request, res: Response) => {
    res.setHeader('content-type', registry.contentType);
    res.end(await registry.metrics());
  };
}
