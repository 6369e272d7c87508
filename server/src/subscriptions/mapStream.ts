import { MemberStream } from './groups.js';

/**
 * A stream of `map(item)` for each item of `source`, skipping items mapped to null, that runs `onEnd` exactly once when
 * it ends, however it ends: the client unsubscribed, the socket closed, the source finished or failed.
 *
 * Not an async generator: a generator suspended in `await source.next()` cannot be returned before the next item
 * arrives, so an idle subscription would never end its source nor run its clean-up.
 */
export function mapStream<S, T>(
  source: AsyncIterator<S>,
  map: (item: S) => T | null | Promise<T | null>,
  onEnd: () => void = () => {},
): AsyncIterableIterator<T> {
  let ended = false;
  const end = async () => {
    if (ended) return;
    ended = true;
    try {
      onEnd();
    } finally {
      await source.return?.();
    }
  };
  return {
    async next(): Promise<IteratorResult<T>> {
      try {
        for (;;) {
          const result = await source.next();
          if (result.done || ended) {
            await end();
            return { value: undefined, done: true };
          }
          const value = await map(result.value);
          if (value !== null) return { value, done: false };
        }
      } catch (err) {
        await end();
        throw err;
      }
    },
    async return(): Promise<IteratorResult<T>> {
      await end();
      return { value: undefined, done: true };
    },
    async throw(err: unknown): Promise<IteratorResult<T>> {
      await end();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * `stream` as it is, running `onEnd` exactly once when it ends, however it ends. A delivery group's member
 * (`MemberStream`) is returned unwrapped, so that its transport can still take it over (http/graphqlWs.ts, `adopt`):
 * wrapped, graphql-ws would iterate it for the subscription's life, keeping a suspended frame, its promises and the
 * wrapper's closures per subscriber (docs/architecture.md, "Per-connection cost"). Any other stream goes through
 * `mapStream`.
 */
export function untilEnd<T>(stream: AsyncIterableIterator<T>, onEnd: () => void): AsyncIterableIterator<T> {
  if (!(stream instanceof MemberStream)) return mapStream(stream, (item) => item, onEnd);
  stream.whenEnded(onEnd);
  return stream;
}

/**
 * `first`, then what `rest` yields: a stream of a state (counts) that opens with the state as it is. Ending it ends
 * `rest`, whether or not `first` was taken.
 */
export function startWith<T>(first: T, rest: AsyncIterableIterator<T>): AsyncIterableIterator<T> {
  let pending: { value: T } | undefined = { value: first };
  return {
    next(): Promise<IteratorResult<T>> {
      const taken = pending;
      pending = undefined;
      return taken ? Promise.resolve({ value: taken.value, done: false }) : rest.next();
    },
    return(): Promise<IteratorResult<T>> {
      pending = undefined;
      return rest.return ? rest.return() : Promise.resolve({ value: undefined, done: true });
    },
    throw(err: unknown): Promise<IteratorResult<T>> {
      pending = undefined;
      return rest.throw ? rest.throw(err) : Promise.reject(err as Error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
