import type { ExecutionResult } from 'graphql';
import type { Viewer } from '../auth/tokens.js';
import type { AccessTransport } from '../db/rows.js';
import { IdentityWatch } from './identity.js';

/**
 * Where one subscriber's `next` messages go, given by its transport (a graphql-ws operation on a socket, an SSE
 * stream). The delivery groups write through it directly: a payload is serialised once per group and event, and each
 * member's frame only adds its own operation id around those bytes (docs/architecture.md, "Delivery groups").
 */
export interface SubscriberSink {
  /** Writes a `next` message whose payload is `payload`, already serialised. */
  next(payload: SharedPayload): void;
  /** Writes a `next` message carrying errors: masked for this subscriber (its request id), then serialised. */
  nextResult(result: ExecutionResult): void;
  /** Bytes handed to the transport and not yet sent: over the bound, the subscriber is ended as a slow consumer. */
  readonly bufferedAmount: number;
  /** Resolves once what is buffered has been sent (or the transport closed): a replay waits here between pages. */
  drained(): Promise<void>;
  /** The transport and the operation's request id, which the access audit records for what this subscriber is sent. */
  readonly origin: { via: AccessTransport; requestId: string };
  /**
   * The subscriber's stream ended: normally (the client completed, the socket closed), or with the error it is to be
   * sent. For a transport that stopped iterating the stream (an operation graphql-ws handed over, http/graphqlWs.ts);
   * the others learn of the end from the stream itself.
   */
  ended?(error?: Error): void;
}

/**
 * One event's payload as a group's members receive it: serialised once, encoded once, and framed once per kind of
 * frame (an SSE event is the same bytes for every stream; a graphql-ws message adds the operation's id, so each
 * socket copies these bytes once into its own frame, with no serialising or encoding of its own).
 */
export class SharedPayload {
  private encoded: Buffer | undefined;
  private readonly frames = new Map<string, Buffer>();

  constructor(readonly json: string) {}

  /** The payload as UTF-8 bytes. */
  get bytes(): Buffer {
    return (this.encoded ??= Buffer.from(this.json));
  }

  /** The payload framed one way (`kind`), made by the first member that asks and reused by the others. */
  framed(kind: string, make: (bytes: Buffer) => Buffer): Buffer {
    let frame = this.frames.get(kind);
    if (!frame) this.frames.set(kind, (frame = make(this.bytes)));
    return frame;
  }
}

/** What a transport tells the subscription fields of one operation: where its frames go, and its raw variables. */
export interface SubscriberTransport {
  sink: SubscriberSink;
  /** The variables as the client sent them (a group executes its document with its first member's). */
  variables: Record<string, unknown> | null | undefined;
  /** Who the subscriber is, and whether anything of the operation read it (./identity.ts). */
  identity: IdentityWatch;
}

/**
 * Gives a subscription operation over WebSocket or SSE its transport, so its fields join delivery groups. From here on
 * the operation's caller is watched (./identity.ts): whatever its resolvers read of who is asking is known to the
 * group.
 */
export function attachTransport(
  ctx: { viewer: Viewer | null; transport?: SubscriberTransport },
  sink: SubscriberSink,
  variables: Record<string, unknown> | null | undefined,
): void {
  if (!ctx.viewer) return;
  const identity = new IdentityWatch(ctx.viewer);
  ctx.viewer = identity.watched;
  ctx.transport = { sink, variables, identity };
}
