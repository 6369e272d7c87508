/** Wall-clock arithmetic in a clinic's time zone, so tests can say "10:30 in New York, ten days from now". */

function partsIn(timeZone: string, instant: Date): Record<string, number> {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(instant);
  return Object.fromEntries(parts.filter((p) => p.type !== 'literal').map((p) => [p.type, Number(p.value)]));
}

/** How far the zone's wall clock is ahead of UTC at an instant, in milliseconds. */
function offsetAt(timeZone: string, ms: number): number {
  const p = partsIn(timeZone, new Date(ms));
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}

/** The calendar date (`YYYY-MM-DD`) in the zone, `days` after today there. */
export function dayInZone(timeZone: string, days = 0): string {
  const p = partsIn(timeZone, new Date());
  return new Date(Date.UTC(p.year, p.month - 1, p.day + days)).toISOString().slice(0, 10);
}

/** The instant at which the zone's clocks show `time` (`HH:MM`) on `date`; for times that exist on that day. */
export function wallClock(timeZone: string, date: string, time: string): Date {
  const naive = Date.parse(`${date}T${time}:00.000Z`);
  let ms = naive - offsetAt(timeZone, naive);
  ms = naive - offsetAt(timeZone, ms);
  return new Date(ms);
}

/** What the zone's clocks show at an instant: `{ date: 'YYYY-MM-DD', time: 'HH:MM' }`. */
export function wallTimeOf(timeZone: string, instant: Date | string): { date: string; time: string } {
  const p = partsIn(timeZone, new Date(instant));
  const two = (n: number) => String(n).padStart(2, '0');
  return { date: `${p.year}-${two(p.month)}-${two(p.day)}`, time: `${two(p.hour)}:${two(p.minute)}` };
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
