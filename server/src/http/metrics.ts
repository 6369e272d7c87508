import type { Request, Response } from 'express';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { WebSocketServer } from 'ws';
import type { Realtime } from '../realtime/service.js';

/** Prometheus metrics at /metrics: process figures plus the live real-time state (what a leak would show in). */
export function createMetrics(realtime: Realtime, wss: WebSocketServer) {
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
  return async (_req: Request, res: Response) => {
    res.setHeader('content-type', registry.contentType);
    res.end(await registry.metrics());
  };
}
