import type { Viewer } from '../auth/tokens.js';
import type { Context } from '../context.js';
import { createTenantLoaders, type TenantLoaders } from '../loaders.js';
import type { ChannelKind } from '../events/channels.js';
import { signalStream } from './streams.js';

/** A signal as one subscriber receives it, with the loaders every subscriber of that signal shares. */
export interface SharedSignal<S> {
  signal: S;
  loaders: TenantLoaders;
}

/**
 * The resolver object of a signal subscription field (presence, viewing), the ephemeral sibling of `durableField`.
 * `start` runs before the stream starts (check arguments and permission there) and returns which signals this
 * subscriber receives (it may read through the signal's shared loaders). Pub/sub hands every listener of a message the same parsed object, so the tenant loaders are
 * kept per signal: a user or patient that all subscribers select is read once per signal on this instance, not once
 * per subscriber (docs/architecture.md, invariant 4).
 */
export type SignalFilter<S> = (signal: S, viewer: Viewer, loaders: TenantLoaders) => boolean | Promise<boolean>;

export function signalField<S extends object, A = Record<string, never>>(
  kind: ChannelKind,
  start: (args: A, ctx: Context) => SignalFilter<S> | Promise<SignalFilter<S>>,
) {
  const shared = new WeakMap<S, TenantLoaders>();
  return {
    subscribe: async (_parent: unknown, args: A, ctx: Context) => {
      const accept = await start(args, ctx);
      return signalStream<S, SharedSignal<S>>(ctx, kind, async (signal, viewer) => {
        let loaders = shared.get(signal);
        // The channel is the tenant's own, so every subscriber of this signal shares the viewer's tenant.
        if (!loaders) shared.set(signal, (loaders = createTenantLoaders(ctx.db, viewer.tenantId)));
        return (await accept(signal, viewer, loaders)) ? { signal, loaders } : null;
      });
    },
    resolve: ({ signal, loaders }: SharedSignal<S>, _args: unknown, ctx: Context): S => {
      ctx.useSharedLoaders(loaders);
      return signal;
    },
  };
}
