import type { GraphQLResolveInfo } from 'graphql';
import { requireCaller } from '../auth/roles.js';
import type { Viewer } from '../auth/tokens.js';
import type { Context } from '../context.js';
import { createTenantLoaders, type TenantLoaders } from '../loaders.js';
import { tenantChannel, type ChannelKind } from '../events/channels.js';
import { untilEnd } from './mapStream.js';
import { signalStream } from './streams.js';

/** A signal as one subscriber receives it, with the loaders every subscriber of that signal shares. */
export interface SharedSignal<S> {
  signal: S;
  loaders: TenantLoaders;
}

/** Whether a subscriber receives a signal; it may read through the signal's shared loaders. */
export type SignalFilter<S> = (signal: S, viewer: Viewer, loaders: TenantLoaders) => boolean | Promise<boolean>;

/** What `start` decides for one subscriber: which signals it receives, and what it holds while its stream lives. */
export interface SignalSubscription<S> {
  accept: SignalFilter<S>;
  /**
   * Runs once the stream is live (so the subscriber hears what it causes); what it returns runs when the stream
   * ends, however it ends (complete, socket closed, session expired). It is given the caller unwatched: what it holds
   * (a chart viewer's membership) never reaches a result, so reading who it is does not split the delivery group.
   */
  whileOpen?: (caller: Viewer) => Promise<() => void>;
}

/**
 * The resolver object of a signal subscription field (presence, typing, viewing), the ephemeral sibling of
 * `durableField`. `start` runs before the stream starts (check arguments and permission there) and returns which
 * signals this subscriber receives (a filter), and optionally what it holds while subscribed (`SignalSubscription`,
 * `whileOpen`). Over WebSocket and SSE the subscriber is served by its delivery group (./groups.ts); whatever `start`
 * or the filter read of who is asking (from `ctx.viewer`, even captured, or from the filter's `viewer`) is seen by the
 * group (./identity.ts), which then filters and executes per person.
 *
 * Pub/sub hands every listener of a message the same parsed object, so the tenant loaders are kept per signal: a user
 * or patient that all subscribers select is read once per signal on this instance, not once per subscriber or group
 * (docs/architecture.md, invariant 4).
 */
export function signalField<S extends object, A = Record<string, never>>(
  kind: ChannelKind,
  start: (args: A, ctx: Context) => Started<S> | Promise<Started<S>>,
) {
  const shared = new WeakMap<S, TenantLoaders>();
  return {
    subscribe: async (_parent: unknown, args: A, ctx: Context, info: GraphQLResolveInfo) => {
      const started = await start(args, ctx);
      const { accept, whileOpen }: SignalSubscription<S> =
        typeof started === 'function' ? { accept: started } : started;
      const viewer = requireCaller(ctx.viewer);
      // The channel is the tenant's own, so every subscriber of this signal shares the viewer's tenant.
      const rootOf = (signal: S): SharedSignal<S> => {
        let loaders = shared.get(signal);
        if (!loaders) shared.set(signal, (loaders = createTenantLoaders(ctx.db, viewer.tenantId)));
        return { signal, loaders };
      };
      // Over WebSocket and SSE, through the caller's delivery group: executed and serialised once per group.
      const stream: AsyncIterableIterator<SharedSignal<S>> = ctx.transport
        ? await ctx.services.delivery.joinSignal(ctx, info, ctx.transport, {
            channel: tenantChannel(viewer, kind),
            accept: ({ signal, loaders }: SharedSignal<S>, caller: Viewer) => accept(signal, caller, loaders),
            rootOf,
          })
        : await signalStream<S, SharedSignal<S>>(ctx, kind, async (signal, caller) => {
            const root = rootOf(signal);
            return (await accept(signal, caller, root.loaders)) ? root : null;
          });
      if (!whileOpen) return stream;
      let leave: () => void;
      try {
        leave = await whileOpen(ctx.transport?.identity.viewer ?? viewer);
      } catch (err) {
        await stream.return?.();
        throw err;
      }
      return untilEnd(stream, leave);
    },
    resolve: ({ signal, loaders }: SharedSignal<S>, _args: unknown, ctx: Context): S => {
      ctx.useSharedLoaders(loaders);
      return signal;
    },
  };
}

/** What `start` returns: a filter alone, or a filter and what to hold while subscribed. */
type Started<S> = SignalFilter<S> | SignalSubscription<S>;
