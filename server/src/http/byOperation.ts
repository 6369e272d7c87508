/**
 * What one socket keeps per operation id (its held places, its operations taken over from graphql-ws): id and value
 * one after the other in one array. A socket runs a few operations at most, and a Map's table would be some 300 bytes
 * for each of thousands of sockets (docs/architecture.md, "Per-connection cost"). Made with its first entry: an array
 * literal holds just its two values, where a first `push` into `[]` reserves seventeen slots (about 170 bytes a
 * socket, seen in the benchmark's heap census).
 */
export class ByOperation<T> {
  private readonly entries: (string | T)[];

  constructor(id: string, value: T) {
    this.entries = [id, value];
  }

  add(id: string, value: T): void {
    this.entries.push(id, value);
  }

  has(id: string): boolean {
    return this.indexOf(id) >= 0;
  }

  get size(): number {
    return this.entries.length / 2;
  }

  /** The value of `id`, no longer kept; undefined if there is none. */
  take(id: string): T | undefined {
    const at = this.indexOf(id);
    if (at < 0) return undefined;
    const value = this.entries[at + 1] as T;
    this.entries.splice(at, 2);
    return value;
  }

  /** Every value, none kept any more. */
  takeAll(): T[] {
    const taken = this.entries.splice(0);
    const values: T[] = [];
    for (let i = 1; i < taken.length; i += 2) values.push(taken[i] as T);
    return values;
  }

  private indexOf(id: string): number {
    const { entries } = this;
    for (let i = 0; i < entries.length; i += 2) if (entries[i] === id) return i;
    return -1;
  }
}
