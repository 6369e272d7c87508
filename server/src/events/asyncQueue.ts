import { GraphQLError } from 'graphql';
import { ErrorCode } from '../errors.js';

/**
 * A push-to-pull bridge: producers `push`, GraphQL's subscription machinery pulls with `next()`. `return()` (the
 * client unsubscribed or the socket closed) runs the cleanup exactly once. A consumer that falls more than
 * `maxBuffered` items behind is ended with an error rather than allowed to grow without bound; durable subscriptions
 * can resume from their last cursor.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  private failure: unknown = null;
  private done = false;

  constructor(
    private readonly cleanup: () => void,
    private readonly maxBuffered = 1000,
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
      this.fail(
        new GraphQLError('This subscription fell too far behind and was ended; subscribe again with your last cursor', {
          extensions: { code: ErrorCode.BAD_REQUEST, reason: 'SLOW_CONSUMER' },
        }),
      );
      return;
    }
    this.buffer.push(item);
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
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as T, done: false });
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

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
  }
}
