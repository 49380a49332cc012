// The daily window a key's cap applies to: the UTC calendar day.

export interface Window {
  /** The window's id in the ledger, e.g. `2026-11-27`. */
  start: string;
  /** When the next window begins (epoch ms). */
  resetsAt: number;
}

export function dailyWindow(now: number): Window {
  const d = new Date(now);
  const start = d.toISOString().slice(0, 10);
  const resetsAt = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
  return { start, resetsAt };
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const MAX_DURATION_MS = 366 * 86_400_000;

/** Parses `30m`, `2h`, `72h`, `7d`; returns undefined when the text is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^([1-9]\d{0,5})([mhd])$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return ms <= MAX_DURATION_MS ? ms : undefined;
}
