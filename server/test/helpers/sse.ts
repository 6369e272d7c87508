/** One event of a Server-Sent Events stream. */
export interface StreamEvent {
  event: string;
  data: any;
}

export interface EventStream {
  status: number;
  headers: Headers;
  /** Every `next` and `complete` event so far, in order (comments and pings are left out). */
  events: StreamEvent[];
  /** The `data` of every `next` event so far. */
  results(): any[];
  /** Resolves once `count` `next` events have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<any[]>;
  /** Resolves when the server ended the response. */
  ended: Promise<void>;
  /** The body, when the server did not open a stream (an error answer). */
  body?: any;
  close(): void;
  /** Starts reading a stream opened with `paused: true`. */
  resume(): void;
}

/**
 * Opens GraphQL over SSE the way an integrator does with curl: POST the operation with `Accept: text/event-stream`,
 * then read `event:`/`data:` blocks as they come.
 */
export async function openEventStream(
  url: string,
  token: string | null,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  /** `paused`: read nothing until `resume()`, as a client that stopped reading would. */
  { paused = false }: { paused?: boolean } = {},
): Promise<EventStream> {
  const controller = new AbortController();
  const res = await fetch(`${url}/graphql/stream`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  const events: StreamEvent[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const results = () => events.filter((e) => e.event === 'next').map((e) => e.data);
  const notify = () => {
    for (const w of waiters.filter((w) => results().length >= w.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  const stream: EventStream = {
    status: res.status,
    headers: res.headers,
    events,
    results,
    ended: Promise.resolve(),
    close: () => controller.abort(),
    resume: () => startReading(),
    waitFor(count, timeoutMs = 10_000) {
      if (results().length >= count) return Promise.resolve(results().slice(0, count));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} events within ${timeoutMs} ms, got ${JSON.stringify(events)}`)),
          timeoutMs,
        );
        waiters.push({ count, resolve: () => (clearTimeout(timer), resolve(results().slice(0, count))) });
      });
    },
  };
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    const text = await res.text();
    try {
      stream.body = JSON.parse(text);
    } catch {
      stream.body = text;
    }
    return stream;
  }
  let startReading = () => {};
  const reading = paused ? new Promise<void>((resolve) => (startReading = resolve)) : Promise.resolve();
  stream.ended = (async () => {
    await reading;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n').filter((l) => !l.startsWith(':'));
          const event = lines
            .find((l) => l.startsWith('event:'))
            ?.slice(6)
            .trim();
          if (!event) continue;
          const data = lines
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('\n');
          events.push({ event, data: data ? JSON.parse(data) : null });
          notify();
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
  })();
  stream.ended.catch(() => {});
  return stream;
}
