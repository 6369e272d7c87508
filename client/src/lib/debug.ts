/**
 * Debug lines in the browser console, off unless switched on with the convention of the `debug` package:
 * `localStorage.debug = 'derm:*'` in the console (all of ours), `'derm:socket'` (one namespace),
 * `'derm:*,-derm:socket:ping'` (all but one); `localStorage.removeItem('debug')` switches them off. Read at each line,
 * so no reload is needed.
 *
 * A reader of our own rather than the `debug` package: these twenty lines keep the same switch, and the client tests
 * (jsdom under Node) run the code the browser runs, where `debug` would resolve to its Node build (which reads
 * `DEBUG` and writes to stderr). What is logged is the caller's business: ids, names, codes; never a token or data.
 */
export interface Debug {
  (message: string, fields?: Record<string, unknown>): void;
  readonly namespace: string;
}

export function createDebug(namespace: string): Debug {
  const debug = (message: string, fields?: Record<string, unknown>) => {
    if (!enabled(namespace)) return;
    if (fields) console.log(`${namespace} ${message}`, fields);
    else console.log(`${namespace} ${message}`);
  };
  return Object.assign(debug, { namespace });
}

let compiledFrom: string | null = null;
let compiled: { include: RegExp[]; exclude: RegExp[] } = { include: [], exclude: [] };

/** Whether `localStorage.debug` switches this namespace on (compiled again only when the setting changed). */
export function enabled(namespace: string): boolean {
  let setting: string | null = null;
  try {
    setting = globalThis.localStorage?.getItem('debug') ?? null;
  } catch {
    // Storage refused (a sandboxed frame, privacy settings): off.
  }
  if (!setting) return false;
  if (setting !== compiledFrom) {
    compiledFrom = setting;
    compiled = { include: [], exclude: [] };
    for (const pattern of setting.split(/[\s,]+/).filter(Boolean)) {
      const exclude = pattern.startsWith('-');
      const body = (exclude ? pattern.slice(1) : pattern).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
      (exclude ? compiled.exclude : compiled.include).push(new RegExp(`^${body}$`));
    }
  }
  return compiled.include.some((r) => r.test(namespace)) && !compiled.exclude.some((r) => r.test(namespace));
}
