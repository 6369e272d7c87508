/** One sample of the Prometheus text exposition format: `name{label="value",...} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text format (version 0.0.4, what prom-client's registry writes): comments and blank lines
 * skipped, label values unescaped (`\\`, `\"`, `\n`), `+Inf`, `-Inf` and `NaN` (any case: prom-client writes `Nan`)
 * read as numbers.
 */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`not a sample: ${line}`);
    const name = line.slice(0, nameEnd);
    const labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') {
      i += 1;
      while (line[i] !== '}') {
        const eq = line.indexOf('=', i);
        const label = line.slice(i, eq).trim();
        if (line[eq + 1] !== '"') throw new Error(`label ${label} has no quoted value: ${line}`);
        let value = '';
        let j = eq + 2;
        for (; line[j] !== '"'; j += 1) {
          if (j >= line.length) throw new Error(`unterminated label value: ${line}`);
          if (line[j] === '\\') {
            j += 1;
            value += line[j] === 'n' ? '\n' : line[j];
          } else value += line[j];
        }
        labels[label] = value;
        i = j + 1;
        if (line[i] === ',') i += 1;
      }
      i += 1;
    }
    const [valueText] = line.slice(i).trim().split(' ');
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText.toLowerCase() !== 'nan') throw new Error(`not a value: ${line}`);
    samples.push({ name, labels, value });
  }
  return samples;
}

/** What GET /metrics says now, parsed. */
export interface Scrape {
  samples: Sample[];
  /**
   * The sum of the samples named `name` whose labels include `labels` (0 when there are none: a counter with a label
   * set never seen yet is absent, not zero).
   */
  value(name: string, labels?: Record<string, string>): number;
}

export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  const samples = parsePrometheus(await res.text());
  return {
    samples,
    value(name, labels = {}) {
      return samples
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0);
    },
  };
}
