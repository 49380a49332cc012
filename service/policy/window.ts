// The daily window a cap applies to: the calendar day in the key's (or budget's) IANA time zone, UTC by default.
// Days are 23 or 25 hours long across daylight-saving changes; the window's end is found from the zone's own
// rules (Intl), not by adding 24 hours.

export interface Window {
  /** The window's id in the ledger: the local calendar date, e.g. `2026-11-27`. */
  start: string;
  /** The instant the window began (epoch ms). */
  startsAt: number;
  /** When the next window begins (epoch ms). */
  resetsAt: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether a time-zone name is one this runtime knows (IANA names such as Europe/Berlin, or UTC). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The local calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(instant: number, timeZone: string): string {
  return formatter(timeZone).format(instant);
}

/** The first instant (to the millisecond) in [lo, hi] whose local date is after `date`. */
function firstInstantAfter(date: string, timeZone: string, lo: number, hi: number): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (localDate(mid, timeZone) > date) hi = mid;
    else lo = mid;
  }
  return hi;
}

const HOUR = 3_600_000;

/** Per time zone, the window most recently asked for: every call of a day reuses it without formatting a date. */
const latest = new Map<string, Window>();

export function dailyWindow(now: number, timeZone = 'UTC'): Window {
  const last = latest.get(timeZone);
  if (last && now >= last.startsAt && now < last.resetsAt) return last;
  const start = localDate(now, timeZone);
  // No zone is more than 26 hours off UTC and no day lasts more than 25 hours, so both ends are within ±27 h.
  const startsAt = firstInstantAfter(dayBefore(start), timeZone, now - 27 * HOUR, now);
  const resetsAt = firstInstantAfter(start, timeZone, now, now + 27 * HOUR);
  const window = Object.freeze({ start, startsAt, resetsAt });
  if (latest.size > 10_000) latest.clear();
  latest.set(timeZone, window);
  return window;
}

function dayBefore(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: HOUR, d: 24 * HOUR };
const MAX_DURATION_MS = 366 * 24 * HOUR;

/** Parses `30m`, `2h`, `72h`, `7d`; returns undefined when the text is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^([1-9]\d{0,5})([mhd])$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return ms <= MAX_DURATION_MS ? ms : undefined;
}

/** The fixed one-minute window of a rate limit. */
export function minuteWindow(now: number): { start: string; resetsAt: number } {
  const startMs = Math.floor(now / 60_000) * 60_000;
  return { start: `m${startMs}`, resetsAt: startMs + 60_000 };
}
