/**
 * A client worker of the fan-out benchmark (forked by bench/fanout.ts): holds many WebSockets to the GraphQL server
 * (speaking graphql-transport-ws by hand, with a fixed operation id so that every subscriber gets the same bytes) and
 * to the raw `ws` server, and reports when every one of its sockets of a target has received its n-th frame.
 *
 * It does as little per frame as it can (a counter and a clock read), because it shares the machine's cores with the
 * servers being measured.
 */
import { WebSocket, type RawData } from 'ws';
import { nowMs, type Target, type WorkerCommand, type WorkerReport } from './support.js';

const epoch = BigInt(process.env.BENCH_EPOCH ?? '0');
const send = (report: WorkerReport) => process.send!(report);

/** Per target: the sockets and, per event index, how many of them have it and when the first and last got it. */
interface Group {
  sockets: WebSocket[];
  received: number[];
  first: number[];
  last: number[];
  sample: string[];
}
const groups: Record<Target, Group> = {
  graphql: { sockets: [], received: [], first: [], last: [], sample: [] },
  raw: { sockets: [], received: [], first: [], last: [], sample: [] },
};
let closing = false;

const fail = (message: string) => {
  if (!closing) send({ type: 'failed', message });
};

function onFrame(target: Target, group: Group, index: number, data: RawData, keepSample: boolean): void {
  const at = nowMs(epoch);
  const n = (group.received[index] ?? 0) + 1;
  group.received[index] = n;
  if (n === 1) group.first[index] = at;
  group.last[index] = at;
  if (keepSample) group.sample[index] = data.toString();
  if (n === group.sockets.length) {
    send({
      type: 'event',
      target,
      index,
      first: group.first[index],
      last: group.last[index],
      sample: group.sample[index],
    });
  }
}

/** Opens one socket; resolves once it is ready to receive events (graphql: subscribe sent after the ack). */
function open(command: Extract<WorkerCommand, { type: 'connect' }>, ordinal: number): Promise<WebSocket> {
  const { target, url } = command;
  const group = groups[target];
  return new Promise((resolve, reject) => {
    const socket =
      target === 'graphql'
        ? new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false })
        : new WebSocket(url, { perMessageDeflate: false });
    let ready = false;
    let frames = 0;
    // The first socket of the worker keeps the text of what it receives, for the orchestrator to check and replay.
    const keepSample = ordinal === 0;
    socket.on('error', (err) => (ready ? fail(`${target} socket error: ${err.message}`) : reject(err)));
    socket.on('close', (code, reason) => {
      if (ready) fail(`${target} socket closed by the server: ${code} ${reason.toString()}`);
      else reject(new Error(`${target} socket closed during the handshake: ${code} ${reason.toString()}`));
    });
    socket.on('open', () => {
      if (target === 'raw') {
        ready = true;
        resolve(socket);
        return;
      }
      const token = command.tokens![ordinal % command.tokens!.length];
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    });
    socket.on('message', (data, isBinary) => {
      if (ready) {
        // Every frame after the handshake is an event: anything else (error, complete) is a failure of the run.
        if (isBinary || !(data as Buffer).includes('"type":"next"'))
          fail(`${target} socket received an unexpected frame: ${data.toString().slice(0, 300)}`);
        onFrame(target, group, frames++, data, keepSample);
        return;
      }
      const text = data.toString();
      if (!text.includes('"type":"connection_ack"')) {
        reject(new Error(`expected connection_ack, got ${text.slice(0, 300)}`));
        socket.terminate();
        return;
      }
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: command.query } }));
      ready = true;
      resolve(socket);
    });
  });
}

async function connect(command: Extract<WorkerCommand, { type: 'connect' }>): Promise<void> {
  const group = groups[command.target];
  let next = 0;
  const opener = async () => {
    while (next < command.count) {
      const ordinal = next++;
      group.sockets.push(await open(command, ordinal));
    }
  };
  await Promise.all(Array.from({ length: Math.min(command.concurrency, command.count) }, opener));
  send({ type: 'connected', target: command.target, count: group.sockets.length });
}

process.on('message', (command: WorkerCommand) => {
  if (command.type === 'connect') {
    connect(command).catch((err: Error) =>
      fail(`connecting ${command.count} ${command.target} sockets to ${command.url} failed: ${err.message}`),
    );
  } else if (command.type === 'close') {
    closing = true;
    for (const group of Object.values(groups)) for (const socket of group.sockets) socket.terminate();
    send({ type: 'closed' });
    process.disconnect();
  }
});
// The orchestrator went away (crash, Ctrl-C): do not linger with thousands of sockets.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', pid: process.pid });
