import { randomUUID } from 'node:crypto';
import {
  execute,
  Kind,
  print,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import type { Viewer } from '../auth/tokens.js';
import { createContext, type Context, type Delivery, type Services } from '../context.js';
import type { Metrics } from '../metrics.js';
import { deliveryFailed, isCursorExpired, slowConsumer } from '../errors.js';
import { DeliveredAccess, type PatientRead, type Reader } from '../domains/patients/accessAudit.js';
import { parseEventCursor } from '../events/eventLog.js';
import { assertResumable, readReplayPage, REPLAY_PAGE } from '../events/feed.js';
import { feedItems, type FeedItem } from './feedItems.js';
import { identityOf, tracked } from './identity.js';
import type { DurableStreamOptions, SignalSource } from './sources.js';
import { SharedPayload, type SubscriberSink, type SubscriberTransport } from './sink.js';

/** Live events held for a subscriber while its replay runs; beyond, it is ended as a slow consumer. */
const MAX_HELD = 1000;

/** What a group's execution of one event gives: shared bytes, or a result with errors that each member masks. */
interface Rendered {
  payload: SharedPayload | null;
  result: ExecutionResult;
  /** The patient records the execution gave: each member sent it is their reader (the access audit). */
  reads: PatientRead[];
}

/**
 * What every resolver may read of the caller besides who it is: the role of staff, the scopes of an integration
 * token. Always part of a group's key.
 */
const profileOf = (viewer: Viewer) =>
  viewer.kind === 'user' ? `user:${viewer.role}` : `integration:${[...viewer.scopes].sort().join(',')}`;

/** JSON with object keys in order: two variable sets that mean the same give the same text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/** Whether a caller receives a root (an event, a signal): decided in memory. */
type Accept<R> = (root: R, caller: Viewer) => boolean | Promise<boolean>;

/** The instance's count of live streams (the realtime service's). */
interface StreamCount {
  opened(): void;
  closed(): void;
}

const ignore = () => {};

/**
 * One subscriber of a group: its position in the log, its sink, and how its stream ends. It is the access audit's
 * reader of what it is sent, as it is (`Reader`: who, and its sink's origin).
 */
class Member implements Reader {
  /** The last event this member has been offered (sent or filtered out). */
  position = 0;
  /** Who the member is, to the resolvers that depend on it. */
  readonly identity: string;
  lastCursor: string | null = null;
  replaying = false;
  readonly held: Array<{ item: FeedItem; out: Rendered | null }> = [];
  ended = false;
  /** The error the member ended with, once it has. */
  private endedWith: unknown = undefined;
  /**
   * How its stream ends, made when the transport first asks (`MemberStream.next`): a WebSocket operation taken over
   * from graphql-ws never asks, and learns of the end through its sink (`SubscriberSink.ended`).
   */
  private settled: Promise<IteratorResult<never>> | undefined = undefined;
  private settle: { resolve: (r: IteratorResult<never>) => void; reject: (e: unknown) => void } | undefined = undefined;
  /** Where this member's stream is counted once handed to its transport (`MemberStream`). */
  private counted: StreamCount | null = null;
  /** What its field holds while the stream lives, let go when it ends (`MemberStream.whenEnded`). */
  private onEnd: (() => void) | undefined = undefined;

  get origin(): Reader['origin'] {
    return this.sink.origin;
  }

  constructor(
    readonly group: Group<unknown>,
    /** The subscriber as authenticated (not watched: the group reads who it is to key and split). */
    readonly viewer: Viewer,
    readonly sink: SubscriberSink,
    private readonly maxBufferedBytes: number,
    /** This subscriber's own filter, as its field's subscribe resolver made it. */
    readonly accept: Accept<unknown>,
  ) {
    this.identity = identityOf(viewer);
  }

  /** Settles when the member ends: done, or rejected with the error it ended with. */
  get finished(): Promise<IteratorResult<never>> {
    if (this.settled) return this.settled;
    if (this.ended) {
      this.settled = this.endedWith
        ? Promise.reject(this.endedWith)
        : Promise.resolve({ value: undefined, done: true });
    } else this.settled = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Handled by graphql-ws or graphql-sse when they iterate; never an unhandled rejection if they do not.
    this.settled.catch(ignore);
    return this.settled;
  }

  /** Counts this member among the instance's live streams until it ends. */
  countIn(streams: StreamCount): void {
    if (this.ended || this.counted) return;
    this.counted = streams;
    streams.opened();
  }

  /**
   * Hands one event to this member: sent unless already seen, filtered out, or the member is still replaying. Whether
   * a frame was written.
   */
  offer(item: FeedItem, out: Rendered | null, audit: DeliveredAccess): boolean {
    if (this.ended || item.event.seq <= this.position) return false;
    this.position = item.event.seq;
    return out !== null && this.write(out, item.cursor, audit);
  }

  /**
   * Writes one result, unless this member's transport holds more unsent than allowed: then it is ended as a slow
   * consumer (with the cursor of the last event it was sent, for durable events), delaying no one. Whether a frame
   * was written.
   */
  write(out: Rendered, cursor: string | null, audit: DeliveredAccess): boolean {
    if (this.ended) return false;
    if (this.sink.bufferedAmount > this.maxBufferedBytes) {
      this.endSlow();
      return false;
    }
    if (out.payload) this.sink.next(out.payload);
    else this.sink.nextResult(out.result);
    if (cursor !== null) this.lastCursor = cursor;
    // This member is a reader of the patient records it was sent: an entry each, written with the event's others.
    if (out.reads.length > 0) audit.add(out.reads, this);
    return true;
  }

  /** Ends the stream as a slow consumer, with the cursor of the last event it was sent. */
  endSlow(): void {
    if (this.ended) return;
    this.group.registry.metrics.slowConsumer(this.group.tenantId);
    this.end(slowConsumer(this.lastCursor));
  }

  /** Ends the stream: normally (the client completed, the socket closed), or with an error the client is sent. */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.held.length = 0;
    this.group.leave(this);
    this.endedWith = error;
    if (error) this.settle?.reject(error);
    else this.settle?.resolve({ value: undefined, done: true });
    this.settle = undefined;
    this.counted?.closed();
    this.sink.ended?.(error);
    this.letGo();
  }

  /** Runs `onEnd` once the member ends (at once if it has), after any given before. */
  whenEnded(onEnd: () => void): void {
    const before = this.onEnd;
    this.onEnd = before
      ? () => {
          before();
          onEnd();
        }
      : onEnd;
    if (this.ended) this.letGo();
  }

  private letGo(): void {
    const { onEnd } = this;
    this.onEnd = undefined;
    onEnd?.();
  }
}

/**
 * The stream graphql-js hands to the transport for one member: it never yields (the group writes the member's frames
 * through its sink) and ends when the member does. A class, not an object of closures: one is kept per live
 * subscription (docs/architecture.md, "Per-connection cost"). `subscribeSharing` hands it to the transport as it is.
 */
export class MemberStream implements AsyncIterableIterator<never> {
  constructor(private readonly member: Member) {}

  /** Whether the member has ended (its stream is over). */
  get ended(): boolean {
    return this.member.ended;
  }

  next(): Promise<IteratorResult<never>> {
    return this.member.finished;
  }

  return(): Promise<IteratorResult<never>> {
    this.member.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err: unknown): Promise<IteratorResult<never>> {
    this.member.end();
    return Promise.reject(err);
  }

  /**
   * Runs `onEnd` exactly once when the member ends, however it ends (complete, socket closed, slow consumer, session
   * ended); at once if it has. What `mapStream`'s `onEnd` does for other streams, without wrapping this one.
   */
  whenEnded(onEnd: () => void): void {
    this.member.whenEnded(onEnd);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * Subscribers of one tenant that receive byte-identical payloads: the same field, document, operation and variables,
 * and the same role or scopes. Each event or signal (`R`, the root the selection runs on) is filtered, executed and
 * serialised once for the whole group, or once per identity among its members once its filter or execution was seen
 * to read who is asking (then the group stays split). What a group listens to is its kind's: the tenant's event feed
 * (DurableGroup) or a pub/sub channel (SignalGroup).
 */
abstract class Group<R> {
  readonly members = new Set<Member>();
  /**
   * The members of each identity: one of them (whose viewer and filter the identity's executions use), and how many.
   */
  private readonly identities = new Map<string, { member: Member; count: number }>();
  /** Set once an execution or filter read the caller's identity: from then on, one execution per identity. */
  perIdentity = false;
  /** Reads of who is asking, by this group's executions and filters or by what its members' resolvers captured. */
  private identityReads = 0;
  ready: Promise<void> = Promise.resolve();
  private stopListening: () => void = () => {};
  protected chain: Promise<void> = Promise.resolve();
  protected closed = false;

  constructor(
    readonly registry: SubscriberGroups,
    readonly key: string,
    readonly tenantId: string,
    protected readonly services: Services,
    private readonly schema: GraphQLSchema,
    private readonly document: DocumentNode,
    private readonly operationName: string | undefined,
    private readonly variableValues: Record<string, unknown> | null | undefined,
  ) {}

  /** What the log lines of an execution carry as request id. */
  protected abstract requestIdOf(root: R): string;
  /** Starts hearing what the group delivers; resolves with how to stop, once it hears. */
  protected abstract startListening(): Promise<() => void>;

  /** Starts listening; `ready` resolves once the group is live. */
  listen(): void {
    this.ready = (async () => {
      const stop = await this.startListening();
      if (this.closed) stop();
      else this.stopListening = stop;
    })();
  }

  join(member: Member): void {
    this.members.add(member);
    const unit = this.identities.get(member.identity);
    if (unit) unit.count += 1;
    else this.identities.set(member.identity, { member, count: 1 });
  }

  leave(member: Member): void {
    if (!this.members.delete(member)) return;
    const unit = this.identities.get(member.identity)!;
    if (--unit.count === 0) this.identities.delete(member.identity);
    else if (unit.member === member) {
      for (const other of this.members) if (other.identity === member.identity) unit.member = other;
    }
    if (this.members.size > 0) return;
    this.closed = true;
    this.stopListening();
    this.registry.forget(this);
  }

  /** Something read who one of the members is: the group may no longer share one result among identities. */
  identityRead(): void {
    this.identityReads += 1;
  }

  /** Filters (with the member's own filter) and executes one root as one member. */
  async render(root: R, member: Member): Promise<Rendered | null> {
    const caller = tracked(member.viewer, this);
    if (!(await member.accept(root, caller))) return null;
    const ctx = createContext(this.services, member.viewer, this.requestIdOf(root), member.sink.origin.via);
    ctx.viewer = caller;
    const result = (await execute({
      schema: this.schema,
      document: this.document,
      rootValue: root,
      contextValue: ctx,
      variableValues: this.variableValues,
      operationName: this.operationName,
    })) as ExecutionResult;
    return {
      payload: result.errors ? null : new SharedPayload(JSON.stringify(result)),
      result,
      reads: ctx.patientReads.take(),
    };
  }

  /** What each identity among the members receives for one root (one entry for all when none reads it). */
  async renderForMembers(root: R): Promise<(member: Member) => Rendered | null> {
    if (!this.perIdentity) {
      const first = this.members.values().next().value;
      if (!first) return () => null;
      const reads = this.identityReads;
      const out = await this.render(root, first);
      const readIdentity = this.identityReads !== reads;
      if (!readIdentity || this.identities.size <= 1) {
        if (readIdentity) this.perIdentity = true;
        return () => out;
      }
      this.perIdentity = true;
    }
    const outs = new Map<string, Rendered | null>();
    for (const [identity, { member }] of [...this.identities]) outs.set(identity, await this.render(root, member));
    return (member) => outs.get(member.identity) ?? null;
  }

  protected fail(err: unknown): void {
    this.services.log.error({ err }, 'subscription delivery failed');
    for (const member of [...this.members]) member.end(deliveryFailed());
  }
}

/** A group of subscribers of a tenant's durable events: it listens on the tenant's event-log tail. */
class DurableGroup extends Group<FeedItem> {
  /** The last event handed to this group by the feed. */
  heard = 0;
  /** The last event this group has written (or passed over: another topic): metrics' event-log lag. */
  delivered = 0;

  private readonly topics: ReadonlySet<string>;

  constructor(
    base: ConstructorParameters<typeof Group<FeedItem>>,
    /** The first member's options: the same field and variables give every member the same topics. */
    private readonly options: DurableStreamOptions,
  ) {
    super(...base);
    this.topics = new Set(options.topics);
  }

  protected requestIdOf(item: FeedItem): string {
    return `delivery:${item.cursor}`;
  }

  protected async startListening(): Promise<() => void> {
    const live = await this.services.realtime.feed.listen(this.tenantId, (batch) => {
      this.heard = Math.max(this.heard, batch[batch.length - 1].event.seq);
      const items = feedItems(this.services.db, this.tenantId, batch);
      this.chain = this.chain.then(() => this.deliver(items)).catch((err: unknown) => this.fail(err));
    });
    this.heard = Math.max(this.heard, live.since);
    this.delivered = Math.max(this.delivered, live.since);
    return live.stop;
  }

  private async deliver(items: FeedItem[]): Promise<void> {
    for (const item of items) {
      if (this.closed) return;
      if (!this.topics.has(item.event.topic)) {
        this.delivered = item.event.seq;
        continue;
      }
      const outFor = await this.renderForMembers(item);
      let frames = 0;
      const audit = new DeliveredAccess();
      for (const member of this.members) {
        const out = outFor(member);
        if (member.replaying) {
          member.held.push({ item, out });
          if (member.held.length > MAX_HELD) member.endSlow();
        } else if (member.offer(item, out, audit)) frames += 1;
      }
      // Delivered, then audited: one batch for the event's readers (docs/architecture.md, "Access audit").
      this.services.audit.writeDelivered(audit.grants);
      // Once per group and event, never per member (docs/architecture.md, "Metrics").
      if (frames > 0) this.registry.metrics.delivered(item.event, frames);
      this.delivered = item.event.seq;
    }
  }

  /** A member back from a break: what it missed, from the log, at the pace its socket takes it; then live. */
  async replay(member: Member): Promise<void> {
    const { metrics } = this.registry;
    let replayed = 0;
    try {
      let page;
      do {
        page = await readReplayPage(this.services.db, this.tenantId, member.position, this.options.topics);
        const audit = new DeliveredAccess();
        for (const item of feedItems(this.services.db, this.tenantId, page)) {
          if (member.ended) break;
          if (member.offer(item, await this.render(item, member), audit)) {
            replayed += 1;
            metrics.replayedFrames(item.event.topic, 1);
          }
        }
        this.services.audit.writeDelivered(audit.grants);
        if (member.ended) return;
        await member.sink.drained();
      } while (page.length === REPLAY_PAGE && !member.ended);
    } finally {
      metrics.replayed(replayed);
    }
    member.replaying = false;
    const audit = new DeliveredAccess();
    for (const { item, out } of member.held.splice(0)) {
      if (member.offer(item, out, audit)) metrics.replayedFrames(item.event.topic, 1);
    }
    this.services.audit.writeDelivered(audit.grants);
  }
}

/** A group of subscribers of ephemeral signals (presence, typing, viewing): it listens on one pub/sub channel. */
class SignalGroup<S, R> extends Group<R> {
  private readonly id = randomUUID();
  private count = 0;

  constructor(
    base: ConstructorParameters<typeof Group<R>>,
    private readonly source: SignalSource<S, R>,
  ) {
    super(...base);
  }

  protected requestIdOf(): string {
    return `signal:${this.id}:${++this.count}`;
  }

  protected startListening(): Promise<() => void> {
    return this.services.realtime.hub.subscribe<S>(this.source.channel, (signal) => {
      const root = this.source.rootOf(signal);
      this.chain = this.chain.then(() => this.deliver(root)).catch((err: unknown) => this.fail(err));
    });
  }

  /** A signal that could not be delivered is logged and dropped: signals are ephemeral, the streams go on. */
  protected override fail(err: unknown): void {
    this.services.log.error({ err }, 'signal delivery failed');
  }

  private async deliver(root: R): Promise<void> {
    if (this.closed) return;
    const outFor = await this.renderForMembers(root);
    const audit = new DeliveredAccess();
    for (const member of this.members) {
      const out = outFor(member);
      if (out) member.write(out, null, audit);
    }
    this.services.audit.writeDelivered(audit.grants);
  }
}

/**
 * The subscriber groups of one server instance (docs/architecture.md, "Delivery groups"; DESIGN invariant 4). A
 * subscription whose transport gives a sink joins the group of its key; the group hears the tenant's feed (durable
 * events) or its channel (signals) once, and each member only gets its frame written.
 */
export class SubscriberGroups implements Delivery {
  private readonly groups = new Map<string, Group<unknown>>();

  constructor(
    /** A member whose transport holds more unsent bytes than this is ended as SLOW_CONSUMER. */
    private readonly maxBufferedBytes: number,
    /** Frames, latencies, replays and slow consumers are counted here. */
    readonly metrics: Metrics,
  ) {}

  get groupCount(): number {
    return this.groups.size;
  }

  get memberCount(): number {
    let n = 0;
    for (const group of this.groups.values()) n += group.members.size;
    return n;
  }

  /**
   * How far delivery on this instance lags behind the log as the instance knows it: the most events any durable group
   * has yet to deliver (or pass over) of those its tenant's tail has heard of. `newestHeard` is the feed's.
   */
  deliveryLag(newestHeard: (tenantId: string) => number | undefined): number {
    let lag = 0;
    for (const group of this.groups.values()) {
      if (!(group instanceof DurableGroup)) continue;
      const heard = newestHeard(group.tenantId);
      if (heard !== undefined) lag = Math.max(lag, heard - group.delivered);
    }
    return lag;
  }

  forget(group: Group<unknown>): void {
    if (this.groups.get(group.key) === group) this.groups.delete(group.key);
  }

  /**
   * Subscribes the caller of `ctx` to a durable field through its group. Resolves with the stream graphql-js hands to
   * the transport: it never yields (frames are written through the sink) and ends when the member does.
   */
  async join(
    ctx: Context,
    info: GraphQLResolveInfo,
    transport: SubscriberTransport,
    options: DurableStreamOptions,
  ): Promise<MemberStream> {
    const { viewer } = transport.identity;
    const { services } = ctx;
    // Only null means "from now": an empty string is not a cursor, and taking it for none would skip what was missed.
    const after = options.after != null ? parseEventCursor(viewer.tenantId, options.after) : null;
    const group = this.groupOf(info, transport, services, (base) => new DurableGroup(base, options)) as DurableGroup;
    const member = this.enter(group, transport, options.accept as Accept<unknown>);
    member.replaying = after !== null;
    try {
      await group.ready;
      if (after !== null) await assertResumable(services.db, viewer.tenantId, after, group.heard);
      member.position = after ?? group.heard;
    } catch (err) {
      member.end();
      throw err;
    }
    if (member.replaying) {
      group.replay(member).catch((err: unknown) => {
        // Pruning overtook the replay: the client is told, as it would have been had it come later.
        if (isCursorExpired(err)) return member.end(err);
        ctx.log.error({ err }, 'subscription replay failed');
        member.end(deliveryFailed());
      });
    }
    return this.streamOf(member, ctx);
  }

  /** Subscribes the caller of `ctx` to a signal field (presence, typing, viewing) through its group. */
  async joinSignal<S, R>(
    ctx: Context,
    info: GraphQLResolveInfo,
    transport: SubscriberTransport,
    source: SignalSource<S, R>,
  ): Promise<MemberStream> {
    const group = this.groupOf(info, transport, ctx.services, (base) => new SignalGroup(base, source));
    const member = this.enter(group, transport, source.accept as Accept<unknown>);
    try {
      // Once the channel is listened to (with Redis, once SUBSCRIBE is acknowledged), signals sent after arrive.
      await group.ready;
    } catch (err) {
      member.end();
      throw err;
    }
    return this.streamOf(member, ctx);
  }

  /**
   * The group of this caller's key, made (and listening) if there is none. A subscriber whose subscribe resolver read
   * who it is gets a group of that person's own.
   */
  private groupOf<R>(
    info: GraphQLResolveInfo,
    { variables, identity }: SubscriberTransport,
    services: Services,
    make: (base: ConstructorParameters<typeof Group<R>>) => Group<R>,
  ): Group<R> {
    const { viewer } = identity;
    const key = groupKey(viewer, info, identity.read);
    const existing = this.groups.get(key) as Group<R> | undefined;
    if (existing) return existing;
    const document: DocumentNode = {
      kind: Kind.DOCUMENT,
      definitions: [info.operation, ...Object.values(info.fragments)],
    };
    const group = make([
      this,
      key,
      viewer.tenantId,
      services,
      info.schema,
      document,
      info.operation.name?.value,
      variables,
    ]);
    this.groups.set(key, group as Group<unknown>);
    group.listen();
    return group;
  }

  /** A new member of a group; what its resolvers captured of who it is tells the group when read. */
  private enter(group: Group<unknown>, { sink, identity }: SubscriberTransport, accept: Accept<unknown>): Member {
    const member = new Member(group, identity.viewer, sink, this.maxBufferedBytes, accept);
    group.join(member);
    identity.onRead(group);
    return member;
  }

  /**
   * The stream graphql-js hands to the transport for one member, counted among the instance's live streams. From here
   * the group executes the member's events with contexts of its own: what the subscribe resolver read through the
   * operation's context is let go.
   */
  private streamOf(member: Member, ctx: Context): MemberStream {
    member.countIn(ctx.services.realtime.streams);
    ctx.letGoOfStart();
    return new MemberStream(member);
  }
}

/** The printed operation and fragments, once per parsed operation (subscribers of one text share one document). */
const printedOperations = new WeakMap<GraphQLResolveInfo['operation'], string>();

function printedOperation(info: GraphQLResolveInfo): string {
  let printed = printedOperations.get(info.operation);
  if (printed === undefined) {
    const fragments = Object.values(info.fragments)
      .map((f) => print(f))
      .sort();
    printed = [info.operation.name?.value ?? '', print(info.operation), ...fragments].join('\n');
    printedOperations.set(info.operation, printed);
  }
  return printed;
}

/**
 * Same tenant, field, document, operation, variables and caller profile: same bytes (identity is watched at run), or
 * also the same person when the subscribe resolver read who it is.
 */
function groupKey(viewer: Viewer, info: GraphQLResolveInfo, personal: boolean): string {
  return [
    viewer.tenantId,
    profileOf(viewer),
    personal ? identityOf(viewer) : '',
    info.fieldName,
    printedOperation(info),
    canonical(info.variableValues),
  ].join('\u0000');
}
