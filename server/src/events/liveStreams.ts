import { EventEmitter } from 'node:events';

/**
 * The live subscription streams of this instance (durable and signal): a stream counts once it hears new events, and
 * stops counting when it ends. `/metrics` reads the count; `change` lets a caller wait for a count without polling
 * (the tests' "the subscription is live" waits on it).
 */
export class LiveStreams extends EventEmitter<{ change: [count: number, delta: 1 | -1] }> {
  private live = 0;

  constructor() {
    super();
    // Every test or probe waiting for a count listens here at once; none of them is a leak.
    this.setMaxListeners(0);
  }

  get count(): number {
    return this.live;
  }

  opened(): void {
    this.live += 1;
    this.emit('change', this.live, 1);
  }

  closed(): void {
    this.live -= 1;
    this.emit('change', this.live, -1);
  }
}
