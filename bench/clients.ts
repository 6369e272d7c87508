/**
 * A client worker of the fan-out benchmark (forked by bench/fanout.ts): holds many WebSockets to the GraphQL server
 * (speaking graphql-transport-ws by hand, with a fixed operation id so that every subscriber of a selection gets the
 * same bytes) and to the raw `ws` server, and reports when every one of its sockets meant to receive an event has it.
 *
 * Sockets belong to audiences (support.ts, `AudienceShare`). Before each event the orchestrator says which audiences
 * it is for (`expect`), so a socket's n-th frame is the n-th event of its audience, whatever the others receive; a
 * frame beyond those is a failure of the run.
 *
 * It does as little per frame as it can (a counter and a clock read), because it shares the machine's cores with the
 * servers being measured.
 */
import { WebSocket, type RawData } from 'ws';
import { nowMs, type AudienceShare, type Target, type WorkerCommand, type WorkerReport } from './support.js';

const epoch = BigInt(process.env.BENCH_EPOCH ?? '0');
const send = (report: WorkerReport) => process.send!(report);

interface Audience {
  name: string;
  sockets: number;
  /** The events meant for it, in order: its sockets' n-th frame is event `events[n]`. */
  events: number[];
}

/** One event as this worker's receivers get it. */
interface Tally {
  expected: number;
  received: number;
  first: number;
  last: number;
  samples: Record<string, string>;
}

/** Per target: its sockets, their audiences and the events under way. */
interface TargetState {
  sockets: WebSocket[];
  audiences: Map<string, Audience>;
  tallies: Map<number, Tally>;
}
const targets: Record<Target, TargetState> = {
  graphql: { sockets: [], audiences: new Map(), tallies: new Map() },
  raw: { sockets: [], audiences: new Map(), tallies: new Map() },
};
let closing = false;

const fail = (message: string) => {
  if (!closing) send({ type: 'failed', message });
};

function onFrame(target: Target, audience: Audience, frame: number, data: RawData, keepSample: boolean): void {
  const at = nowMs(epoch);
  const index = audience.events[frame];
  const tally = index === undefined ? undefined : targets[target].tallies.get(index);
  if (index === undefined || !tally) {
    fail(`${target} socket of ${audience.name} received a frame no event was meant to give it (frame ${frame})`);
    return;
  }
  if (tally.received++ === 0) tally.first = at;
  tally.last = at;
  if (keepSample) tally.samples[audience.name] = data.toString();
  if (tally.received === tally.expected) {
    targets[target].tallies.delete(index);
    send({ type: 'event', target, index, first: tally.first, last: tally.last, samples: tally.samples });
  }
}

/** Opens one socket; resolves once it is ready to receive events (graphql: subscribe sent after the ack). */
function open(target: Target, url: string, share: AudienceShare, ordinal: number): Promise<WebSocket> {
  const audience = targets[target].audiences.get(share.name)!;
  const subscription = share.subscription;
  return new Promise((resolve, reject) => {
    const socket =
      target === 'graphql'
        ? new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false })
        : new WebSocket(`${url}?audience=${encodeURIComponent(share.name)}`, { perMessageDeflate: false });
    let ready = false;
    let frames = 0;
    // The first socket of an audience keeps the text of what it receives, for the orchestrator to check and replay.
    const keepSample = ordinal === 0;
    socket.on('error', (err) => (ready ? fail(`${target} socket error: ${err.message}`) : reject(err)));
    socket.on('close', (code, reason) => {
      if (ready) fail(`${target} socket closed by the server: ${code} ${reason.toString()}`);
      else reject(new Error(`${target} socket closed during the handshake: ${code} ${reason.toString()}`));
    });
    socket.on('open', () => {
      if (!subscription) {
        ready = true;
        resolve(socket);
        return;
      }
      const token = subscription.tokens[ordinal % subscription.tokens.length];
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    });
    socket.on('message', (data, isBinary) => {
      if (ready) {
        // Every frame after the handshake is an event: anything else (error, complete) is a failure of the run.
        if (isBinary || !(data as Buffer).includes('"type":"next"'))
          fail(`${target} socket received an unexpected frame: ${data.toString().slice(0, 300)}`);
        onFrame(target, audience, frames++, data, keepSample);
        return;
      }
      const text = data.toString();
      if (!text.includes('"type":"connection_ack"')) {
        reject(new Error(`expected connection_ack, got ${text.slice(0, 300)}`));
        socket.terminate();
        return;
      }
      const { query, variables } = subscription!;
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
      ready = true;
      resolve(socket);
    });
  });
}

async function connect(command: Extract<WorkerCommand, { type: 'connect' }>): Promise<void> {
  const state = targets[command.target];
  for (const share of command.audiences)
    if (share.count > 0) state.audiences.set(share.name, { name: share.name, sockets: share.count, events: [] });
  // One queue over every audience's sockets, `concurrency` handshakes at a time.
  const queue = command.audiences.flatMap((share) =>
    Array.from({ length: share.count }, (_, ordinal) => ({ share, ordinal })),
  );
  let next = 0;
  const opener = async () => {
    while (next < queue.length) {
      const { share, ordinal } = queue[next++];
      state.sockets.push(await open(command.target, command.url, share, ordinal));
    }
  };
  await Promise.all(Array.from({ length: Math.min(command.concurrency, queue.length) }, opener));
  send({ type: 'connected', target: command.target, count: state.sockets.length });
}

/** Notes which of this worker's audiences an event is for, before it is sent. */
function expect({ target, index, audiences }: Extract<WorkerCommand, { type: 'expect' }>): void {
  const state = targets[target];
  let expected = 0;
  for (const name of audiences) {
    const audience = state.audiences.get(name);
    if (!audience) continue;
    audience.events.push(index);
    expected += audience.sockets;
  }
  if (expected > 0) state.tallies.set(index, { expected, received: 0, first: 0, last: 0, samples: {} });
  send({ type: 'expecting', target, index, receivers: expected });
}

process.on('message', (command: WorkerCommand) => {
  if (command.type === 'connect') {
    connect(command).catch((err: Error) =>
      fail(`connecting ${command.target} sockets to ${command.url} failed: ${err.message}`),
    );
  } else if (command.type === 'expect') {
    expect(command);
  } else if (command.type === 'close') {
    closing = true;
    for (const state of Object.values(targets)) for (const socket of state.sockets) socket.terminate();
    send({ type: 'closed' });
    process.disconnect();
  }
});
// The orchestrator went away (crash, Ctrl-C): do not linger with thousands of sockets.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', pid: process.pid });
