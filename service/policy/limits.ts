// The caps and rate window one request is reserved against (store/ledger.ts takes them all or none).
import type { KeyRecord } from './keys';
import { dailyWindow, minuteWindow } from './window';

export type CapKind = 'daily' | 'total' | 'budget';

export interface CapCheck {
  kind: CapKind;
  subjectId: string;
  windowStart: string;
  capMicros: number;
}

export interface RateCheck {
  subjectId: string;
  windowStart: string;
  limit: number;
  expiresAt: number;
}

export interface Limits {
  caps: CapCheck[];
  rate: RateCheck | undefined;
  /** The key's own daily window (what GET /vault/keys/{id} reports). */
  keyWindow: { start: string; resetsAt: number };
  budgetWindow: { start: string; resetsAt: number } | undefined;
}

export const TOTAL_WINDOW = 'total';

export function limitsFor(key: KeyRecord, now: number): Limits {
  const keyWindow = dailyWindow(now, key.policy.timezone ?? 'UTC');
  const caps: CapCheck[] = [{ kind: 'daily', subjectId: key.id, windowStart: keyWindow.start, capMicros: key.dailyCapMicros }];
  if (key.policy.total_cap_micros !== undefined) {
    caps.push({ kind: 'total', subjectId: key.id, windowStart: TOTAL_WINDOW, capMicros: key.policy.total_cap_micros });
  }
  let budgetWindow: Limits['budgetWindow'];
  if (key.budget) {
    budgetWindow = dailyWindow(now, key.budget.timezone);
    caps.push({ kind: 'budget', subjectId: key.budget.id, windowStart: budgetWindow.start, capMicros: key.budget.dailyCapMicros });
  }
  const rpm = key.policy.rate_limit?.requests_per_minute;
  let rate: RateCheck | undefined;
  if (rpm !== undefined) {
    const minute = minuteWindow(now);
    rate = { subjectId: key.id, windowStart: minute.start, limit: rpm, expiresAt: minute.resetsAt };
  }
  return { caps, rate, keyWindow, budgetWindow };
}

/** When a cap's window ends (null: the lifetime cap never resets). */
export function resetsAt(limits: Limits, kind: CapKind): number | null {
  return kind === 'daily' ? limits.keyWindow.resetsAt : kind === 'budget' ? (limits.budgetWindow?.resetsAt ?? null) : null;
}
