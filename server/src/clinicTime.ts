/**
 * Time belongs to the clinic (docs/architecture.md, "Time"): every "today", day boundary and time shown
 * to a person is counted in the clinic's IANA time zone, never the server's or UTC. SQL counts days with
 * `at time zone` (appointments/data.ts); this is the same arithmetic for what the server decides or says in code.
 */

const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** The calendar day (`YYYY-MM-DD`) an instant falls on in the zone. */
export function dayInZone(instant: Date, timeZone: string): string {
  let format = dayFormats.get(timeZone);
  // en-CA writes dates as YYYY-MM-DD.
  if (!format) dayFormats.set(timeZone, (format = new Intl.DateTimeFormat('en-CA', { timeZone })));
  return format.format(instant);
}

/** Today in the clinic's zone. */
export function clinicToday(timeZone: string, now = new Date()): string {
  return dayInZone(now, timeZone);
}

/**
 * A span of time as the clinic's staff read it, in its zone: "Tue, Dec 1, 4:00 – 4:30 PM" (the day written once when
 * both ends fall on it).
 */
export function formatClinicSpan(start: Date, end: Date, timeZone: string): string {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
  });
  // ICU puts narrow and thin spaces around the dash and before AM/PM; plain spaces read the same and copy cleanly.
  return format.formatRange(start, end).replace(/[\u202f\u2009]/g, ' ');
}

/**
 * An instant as the clinic's staff read it, in its zone, with the zone's abbreviation: "Wed, Dec 2, 2026, 5:52 PM EST".
 */
export function formatClinicInstant(instant: Date, timeZone: string): string {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    timeZoneName: 'short',
  });
  return format.format(instant).replace(/[\u202f\u2009]/g, ' ');
}

const stampFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * An instant as the clinic's wall clock, with the zone's offset at that instant (ISO 8601):
 * `2026-12-02T09:15:04.123-05:00`. Exact and unambiguous, for exports a person reads and a program parses.
 */
export function clinicTimestamp(instant: Date, timeZone: string): string {
  let format = stampFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      fractionalSecondDigits: 3,
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    stampFormats.set(timeZone, format);
  }
  const part: Record<string, string> = {};
  for (const { type, value } of format.formatToParts(instant)) part[type] = value;
  // `GMT-05:00`, or `GMT` when the offset is zero.
  const offset = part.timeZoneName === 'GMT' ? '+00:00' : part.timeZoneName.slice(3);
  return `${part.year}-${part.month}-${part.day}T${part.hour}:${part.minute}:${part.second}.${part.fractionalSecond}${offset}`;
}
