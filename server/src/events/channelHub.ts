import type { Logger } from '../logger.js';
import type { PubSubEngine } from './pubsub.js';

type Listener = (payload: unknown) => void;

interface Channel {
  listeners: Set<Listener>;
  /** Settles once the engine listens (or is unreachable and will listen when it is back). Never rejects. */
  listening: Promise<void>;
}

/**
 * The one pub/sub subscription per channel of this instance (docs/architecture.md, "Channels"). Every listener on this
 * instance — the event feed's tenant tails, signal streams, integration revocation — registers here; the engine
 * listens on a channel while it has at least one listener here. A message is parsed once and the same object is
 * handed to every listener of its channel.
 *
 * Nothing here rejects because Redis is down: `subscribe` registers the listener at once and resolves when the engine
 * listens or is known to be unreachable (it listens again on reconnection), `publish` rejects only with the engine's
 * `DependencyUnavailableError`, which callers handle.
 */
export class ChannelHub {
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly engine: PubSubEngine,
    private readonly log: Logger,
  ) {
    engine.onMessage((channel, message) => this.receive(channel, message));
  }

  get kind(): PubSubEngine['kind'] {
    return this.engine.kind;
  }

  /** Whether pub/sub is connected now (always, in-process). */
  get reachable(): boolean {
    return this.engine.reachable;
  }

  /** Times pub/sub came back from an outage (always 0, in-process). */
  get reconnects(): number {
    return this.engine.reconnects;
  }

  /** Seconds pub/sub has been unreachable since the instance started, the outage under way included. */
  downSeconds(): number {
    return this.engine.downSeconds();
  }

  /** Channels with at least one listener on this instance. */
  get channelCount(): number {
    return this.channels.size;
  }

  /** Sends a JSON payload to every listener of the channel, on every instance. */
  publish(channel: string, payload: unknown): Promise<void> {
    return this.engine.publish(channel, JSON.stringify(payload));
  }

  /**
   * Adds a listener; resolves with the function that removes it once messages published from now on reach it (or,
   * while the engine is unreachable, once it will listen when the engine is back).
   */
  async subscribe<T>(channel: string, listener: (payload: T) => void): Promise<() => void> {
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { listeners: new Set(), listening: this.engine.listen([channel]) };
      this.channels.set(channel, entry);
    }
    const registered = listener as Listener;
    entry.listeners.add(registered);
    const current = entry;
    let removed = false;
    const remove = () => {
      if (removed) return;
      removed = true;
      current.listeners.delete(registered);
      if (current.listeners.size > 0 || this.channels.get(channel) !== current) return;
      this.channels.delete(channel);
      void this.engine.unlisten([channel]);
    };
    await current.listening;
    return remove;
  }

  /** Runs after the engine came back from an outage and listens again: what was published meanwhile was lost. */
  onReconnect(listener: () => void): void {
    this.engine.onReconnect(listener);
  }

  close(): Promise<void> {
    return this.engine.close();
  }

  private receive(channel: string, message: string): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    let payload: unknown;
    try {
      payload = JSON.parse(message);
    } catch {
      this.log.warn({ channel }, 'dropped a pub/sub message that is not JSON');
      return;
    }
    for (const listener of entry.listeners) {
      try {
        listener(payload);
      } catch (err) {
        this.log.error({ err, channel }, 'pub/sub listener failed');
      }
    }
  }
}
