import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.js';
import type { FeedItem } from './feedItems.js';
import type { DurableStreamOptions } from './sources.js';
import { durableStream } from './streams.js';

/**
 * Subscribes to a tenant's durable events. Over a transport that gives a sink (WebSocket, SSE) the subscriber joins
 * its delivery group (./groups.ts): executed and serialised once per group and event. Otherwise (a caller that runs
 * `subscribe` itself) a stream of its own, executed per event by graphql-js.
 */
export function subscribeDurable(
  ctx: Context,
  info: GraphQLResolveInfo,
  options: DurableStreamOptions,
): Promise<AsyncIterableIterator<unknown>> {
  return ctx.transport ? ctx.services.delivery.join(ctx, info, ctx.transport, options) : durableStream(ctx, options);
}

/**
 * The resolver object of a durable subscription field: subscribe builds the stream from the field's arguments,
 * resolve hands each event to the selection with the loaders its batch shares.
 */
export function durableField<A>(
  options: (args: A, ctx: Context) => DurableStreamOptions | Promise<DurableStreamOptions>,
) {
  return {
    subscribe: async (_parent: unknown, args: A, ctx: Context, info: GraphQLResolveInfo) =>
      subscribeDurable(ctx, info, await options(args, ctx)),
    resolve: (item: FeedItem, _args: unknown, ctx: Context) => {
      ctx.useSharedLoaders(item.loaders);
      return item;
    },
  };
}
