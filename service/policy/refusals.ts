// What each refusal of the ledger is answered with (a cap, the rate window, an identical call): one function, whose
// answer is both the audit row's code and message and the response the caller gets.
import { ApiError } from '../errors';
import { microsToUsd } from '../vendors/currency';
import type { KeyRecord } from './keys';
import { resetsAt, type CapCheck, type CapKind, type Limits } from './limits';

/** The dedupe claim of an earlier identical call. Its status: null while in flight, 0 while being reconciled, else its answer's. */
export interface DedupeRow {
  audit_id: string;
  idempotency_key: string;
  status: number | null;
  response: string | null;
}

export type Refusal =
  | { kind: CapKind; spentMicros: number; cap: CapCheck }
  | { kind: 'rate'; requests: number }
  | { kind: 'duplicate'; original: DedupeRow };

export interface RefusalContext {
  key: KeyRecord;
  limits: Limits;
  micros: number;
  now: number;
  vendorName: string;
}

/** A refused call's answer: an error, or the answer of the earlier identical call, replayed. */
export type RefusalAnswer = { error: ApiError } | { replay: { auditId: string; status: number; response: string }; message: string };

export function answerRefusal(refusal: Refusal, ctx: RefusalContext): RefusalAnswer {
  if (refusal.kind !== 'duplicate') return { error: limitError(refusal, ctx) };
  const { audit_id: first, status, response } = refusal.original;
  const vendor = ctx.vendorName;
  if (status === 0) {
    return {
      error: new ApiError(
        'duplicate_reconciling',
        `An identical call (${first}) ended without a clear answer from ${vendor}, and Keybrake is asking ${vendor} whether it took effect. Do not retry now: once that is known, this same call gets the first one's answer, or goes through if the first never happened.`,
        { original_audit_id: first },
      ),
    };
  }
  if (status !== null && response !== null) {
    return { replay: { auditId: first, status, response }, message: `Identical to ${first} within the dedupe window: its answer was replayed; nothing was forwarded or charged.` };
  }
  return { error: new ApiError('duplicate_in_flight', `An identical call (${first}) is still in progress; it will not be made twice. Retrying will not help.`, { original_audit_id: first }) };
}

/** What the audit row of a refused call says: the answer's code, status and message. */
export function auditOfAnswer(answer: RefusalAnswer): { decision: 'allow' | 'deny'; code: string; status: number; message: string } {
  if ('replay' in answer) return { decision: 'allow', code: 'duplicate_replayed', status: answer.replay.status, message: answer.message };
  return { decision: 'deny', code: answer.error.code, status: answer.error.status, message: answer.error.message };
}

const usd = (micros: number): string => `$${microsToUsd(micros).toFixed(2)}`;
const retryAfter = (at: number, now: number): number => Math.max(1, Math.ceil((at - now) / 1000));

/** The 429 for a cap or rate refusal: what was hit, the spend, when it resets, and that retrying will not help. */
function limitError(refusal: Exclude<Refusal, { kind: 'duplicate' }>, { key, limits, micros, now }: RefusalContext): ApiError {
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
  const resets = resetsAt(limits, refusal.kind);
  const spentWhen = refusal.kind === 'total' ? 'so far' : 'today';
  const until = resets === null ? 'The lifetime cap does not reset: retrying will not help.' : `Retrying will not help before the cap resets at ${new Date(resets).toISOString()}.`;
  const secs = resets === null ? 86_400 : retryAfter(resets, now);
  return new ApiError(
    refusal.kind === 'total' ? 'total_cap_exceeded' : 'daily_cap_exceeded',
    `Spending cap reached: ${what}, ${usd(spentMicros)} has been spent ${spentWhen}, and this call would cost ${usd(micros)}. ${until}`,
    {
      cap_usd: microsToUsd(cap.capMicros),
      spent_usd: microsToUsd(spentMicros),
      estimated_usd: microsToUsd(micros),
      resets_at: resets === null ? null : new Date(resets).toISOString(),
      retry_after_seconds: secs,
      ...(refusal.kind === 'budget' ? { budget_id: cap.subjectId } : {}),
    },
    { 'retry-after': String(secs) },
  );
}

/** The 429 for a call above the key's per-call cap. */
export function perCallError(message: string, { key, limits, micros, now }: Omit<RefusalContext, 'vendorName'>): ApiError {
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
