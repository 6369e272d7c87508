/**
 * What the server's JavaScript heap holds per connection (BENCH_HEAP): a heap snapshot taken through its inspector
 * where the benchmark reads RSS after a forced garbage collection — before the N clients connect, and after the
 * events — and the growth between the two by constructor (self sizes), divided by N. RSS also counts what lives
 * outside the heap (socket buffers, ws's native parts); this says which of our objects a connection keeps.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { withInspector } from './support.js';

/** Writes a heap snapshot of the process behind `inspectorUrl` to `file` (the inspector collects garbage first). */
export async function writeHeapSnapshot(inspectorUrl: string, file: string): Promise<void> {
  const out = createWriteStream(file);
  await withInspector(inspectorUrl, async (session) => {
    session.on('HeapProfiler.addHeapSnapshotChunk', (params) => out.write(params.chunk as string));
    await session.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  });
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Bytes and count of objects per kind: objects and closures by constructor or function name, the rest by type. */
export type HeapCensus = Map<string, { bytes: number; count: number }>;

export async function heapCensus(file: string): Promise<HeapCensus> {
  const { snapshot, nodes, strings } = JSON.parse(await readFile(file, 'utf8')) as Snapshot;
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const census: HeapCensus = new Map();
  for (let i = 0; i < nodes.length; i += fields.length) {
    const kind = types[nodes[i + type]];
    const key = kind === 'object' || kind === 'closure' ? `${strings[nodes[i + name]]} (${kind})` : `(${kind})`;
    const entry = census.get(key) ?? { bytes: 0, count: 0 };
    entry.bytes += nodes[i + size];
    entry.count += 1;
    census.set(key, entry);
  }
  return census;
}

/** The kinds that grew most from `before` to `after`, per connection: "bytes  objects  kind" lines. */
export function growthPerConnection(before: HeapCensus, after: HeapCensus, connections: number, top = 20): string[] {
  const grown = [...after].map(([key, { bytes, count }]) => {
    const was = before.get(key) ?? { bytes: 0, count: 0 };
    return { key, bytes: (bytes - was.bytes) / connections, count: (count - was.count) / connections };
  });
  const total = grown.reduce((sum, g) => sum + g.bytes, 0);
  return [
    `${(total / 1024).toFixed(2)} KiB of heap per connection in all`,
    ...grown
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, top)
      .map((g) => `${g.bytes.toFixed(0).padStart(7)} B  ${g.count.toFixed(2).padStart(6)} ×  ${g.key}`),
  ];
}
