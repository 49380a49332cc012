// The caps and rate window one request is reserved against, and the 429 each refusal becomes.
import { ApiError } from '../errors';
import type { KeyRecord } from '../policy/decide';
import { dailyWindow, minuteWindow } from '../policy/window';
import type { CapCheck, RateCheck, Refusal } from '../store/ledger';
import { microsToUsd } from '../vendors/currency';

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

const usd = (micros: number): string => `$${microsToUsd(micros).toFixed(2)}`;
const retryAfter = (at: number, now: number): number => Math.max(1, Math.ceil((at - now) / 1000));

/** The 429 for a refusal from the ledger: what was hit, the spend, when it resets, and that retrying will not help. */
export function refusalError(refusal: Exclude<Refusal, { kind: 'duplicate' }>, key: KeyRecord, limits: Limits, micros: number, now: number): ApiError {
  if (refusal.kind === 'rate') {
    const resetsAt = limits.rate?.expiresAt ?? now + 60_000;
    const secs = retryAfter(resetsAt, now);
    return new ApiError(
      'rate_limited',
      `Rate limit reached: this vault key may make ${refusal.requests} requests per minute. Wait ${secs} s; retrying sooner will not help.`,
      { requests_per_minute: refusal.requests, resets_at: new Date(resetsAt).toISOString(), retry_after_seconds: secs },
      { 'retry-after': String(secs) },
    );
  }
  const { cap, spentMicros } = refusal;
  const what =
    refusal.kind === 'daily'
      ? `this vault key may spend ${usd(cap.capMicros)} per day`
      : refusal.kind === 'total'
        ? `this vault key may spend ${usd(cap.capMicros)} in its lifetime`
        : `the shared budget "${key.budget?.label ?? ''}" (${key.budget?.id ?? ''}) allows ${usd(cap.capMicros)} per day`;
  const resetsAt = refusal.kind === 'daily' ? limits.keyWindow.resetsAt : refusal.kind === 'budget' ? (limits.budgetWindow?.resetsAt ?? null) : null;
  const spentWhen = refusal.kind === 'total' ? 'so far' : 'today';
  const until = resetsAt === null ? 'The lifetime cap does not reset: retrying will not help.' : `Retrying will not help before the cap resets at ${new Date(resetsAt).toISOString()}.`;
  const secs = resetsAt === null ? 86_400 : retryAfter(resetsAt, now);
  return new ApiError(
    refusal.kind === 'total' ? 'total_cap_exceeded' : 'daily_cap_exceeded',
    `Spending cap reached: ${what}, ${usd(spentMicros)} has been spent ${spentWhen}, and this call would cost ${usd(micros)}. ${until}`,
    {
      cap_usd: microsToUsd(cap.capMicros),
      spent_usd: microsToUsd(spentMicros),
      estimated_usd: microsToUsd(micros),
      resets_at: resetsAt === null ? null : new Date(resetsAt).toISOString(),
      retry_after_seconds: secs,
      ...(refusal.kind === 'budget' ? { budget_id: cap.subjectId } : {}),
    },
    { 'retry-after': String(secs) },
  );
}

/** The 429 for a call above the key's per-call cap. */
export function perCallError(message: string, key: KeyRecord, limits: Limits, micros: number, now: number): ApiError {
  const secs = retryAfter(limits.keyWindow.resetsAt, now);
  return new ApiError(
    'per_call_cap_exceeded',
    message,
    {
      max_usd_per_call: microsToUsd(key.policy.max_per_call_micros ?? 0),
      estimated_usd: microsToUsd(micros),
      cap_usd: microsToUsd(key.dailyCapMicros),
      resets_at: new Date(limits.keyWindow.resetsAt).toISOString(),
      retry_after_seconds: secs,
    },
    { 'retry-after': String(secs) },
  );
}
