import { slowConsumer } from '../errors.js';

/**
 * A push-to-pull bridge: producers `push`, GraphQL's subscription machinery pulls with `next()`. `return()` (the
 * client unsubscribed or the socket closed) runs the cleanup exactly once. A consumer that falls more than
 * `maxBuffered` items behind is ended with an error rather than allowed to grow without bound; durable subscriptions
 * can resume from their last cursor.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  private readonly roomWaiters: Array<{ n: number; resolve: () => void }> = [];
  private failure: unknown = null;
  private done = false;

  constructor(
    private readonly cleanup: () => void,
    readonly maxBuffered = 1000,
  ) {}

  get closed(): boolean {
    return this.done;
  }

  push(item: T): void {
    if (this.done) return;
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter.resolve({ value: item, done: false });
      return;
    }
    if (this.buffer.length >= this.maxBuffered) {
      this.failSlowConsumer();
      return;
    }
    this.buffer.push(item);
  }

  /** Ends the stream as one whose consumer fell more than `maxBuffered` items behind. */
  failSlowConsumer(): void {
    this.fail(slowConsumer());
  }

  /**
   * Resolves once `n` more items fit in the buffer, or the queue has ended: a producer that can wait (a replay from the
   * log) waits for the consumer instead of overflowing it.
   */
  whenRoomFor(n: number): Promise<void> {
    const need = Math.min(n, this.maxBuffered);
    if (this.done || this.buffer.length + need <= this.maxBuffered) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push({ n: need, resolve }));
  }

  /** Ends the stream with an error, delivered after what is already buffered is dropped. */
  fail(error: unknown): void {
    if (this.done) return;
    this.failure = error;
    this.buffer.length = 0;
    this.finish();
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) {
      const value = this.buffer.shift() as T;
      this.wakeProducers();
      return Promise.resolve({ value, done: false });
    }
    if (this.failure) {
      const failure = this.failure;
      this.failure = null;
      return Promise.reject(failure);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.finish();
    this.buffer.length = 0;
    for (const waiter of this.waiting.splice(0)) waiter.resolve({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    this.fail(error);
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private wakeProducers(): void {
    for (const w of this.roomWaiters.filter((w) => this.done || this.buffer.length + w.n <= this.maxBuffered)) {
      this.roomWaiters.splice(this.roomWaiters.indexOf(w), 1);
      w.resolve();
    }
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.wakeProducers();
    this.cleanup();
  }
}
