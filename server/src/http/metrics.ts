import type { Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { WebSocketServer } from 'ws';
import type { CallerLimits } from '../auth/callerLimits.js';
import type { Realtime } from '../realtime/service.js';
import type { SubscriberGroups } from '../subscriptions/groups.js';

/** Prometheus metrics at /metrics: process figures plus the live real-time state (what a leak would show in). */
export function createMetrics(
  realtime: Realtime,
  delivery: SubscriberGroups,
  wss: WebSocketServer,
  limits: CallerLimits,
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
  return async (_req: Request, res: Response) => {
    res.setHeader('content-type', registry.contentType);
    res.end(await registry.metrics());
  };
}
