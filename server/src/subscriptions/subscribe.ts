import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
// Not in graphql 16's index, but the very functions its `subscribe` tells and maps a source stream with.
import { mapAsyncIterator } from 'graphql/execution/mapAsyncIterator.js';
import { isAsyncIterable } from 'graphql/jsutils/isAsyncIterable.js';
import { MemberStream } from './groups.js';

/**
 * graphql-js's `subscribe`, less the wrapper a delivery group's member does not need: graphql-js maps every source
 * stream through `mapAsyncIterator` (an iterator of closures, kept as long as the subscription), but a member's stream
 * never yields — its group executes each event once and writes the frames itself (docs/architecture.md, "Delivery
 * groups"). That stream goes to the transport as it is; any other (an operation that joined no group) is mapped as
 * graphql-js maps it, each event executed with the event as root. The transports (graphql-ws, graphql-sse) take it as
 * their `subscribe`.
 */
export async function subscribeSharing(
  args: ExecutionArgs,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (source instanceof MemberStream || !isAsyncIterable(source)) return source;
  return mapAsyncIterator(source, (payload: unknown) => execute({ ...args, rootValue: payload }));
}
