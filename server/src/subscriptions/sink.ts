import type { ExecutionResult } from 'graphql';

/**
 * Where one subscriber's `next` messages go, given by its transport (a graphql-ws operation on a socket, an SSE
 * stream). The delivery groups write through it directly: a payload is serialised once per group and event, and each
 * member's frame only adds its own operation id around those bytes (docs/architecture.md, "Delivery groups").
 */
export interface SubscriberSink {
  /** Writes a `next` message whose payload is `payloadJson`, already serialised. */
  next(payloadJson: string): void;
  /** Writes a `next` message carrying errors: masked for this subscriber (its request id), then serialised. */
  nextResult(result: ExecutionResult): void;
  /** Bytes handed to the transport and not yet sent: over the bound, the subscriber is ended as a slow consumer. */
  readonly bufferedAmount: number;
  /** Resolves once what is buffered has been sent (or the transport closed): a replay waits here between pages. */
  drained(): Promise<void>;
}

/** What a transport tells the subscription fields of one operation: where its frames go, and its raw variables. */
export interface SubscriberTransport {
  sink: SubscriberSink;
  /** The variables as the client sent them (a group executes its document with its first member's). */
  variables: Record<string, unknown> | null | undefined;
}
