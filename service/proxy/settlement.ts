// How a forwarded call settles, from the vendor's answer (design §5): a 2xx to what the vendor reports it moved, a
// 4xx that proves no effect releases, anything uncertain keeps the reservation and is reconciled later. A report
// above the reservation is counted at once, past the cap if need be, flagged on the audit row, and raises
// cap.exceeded. Pure: http/proxy-call.ts writes what this plans.
import type { SecretBox } from '../crypto';
import { alertRows, exceededEvent, type GlobalTarget } from '../alerts/events';
import { resetsAt } from '../policy/limits';
import type { StoredKey } from '../store/keys';
import type { Settlement } from '../store/ledger';
import { microsToUsd } from '../vendors/currency';
import type { Lookups, PricingContext, VendorAdapter } from '../vendors/types';
import type { UpstreamError, UpstreamResponse } from './forward';
import type { CallPlan, ReservePlan } from './plan';
import type { Redactor } from './redact';

/** A dedupe claim whose call ended without a clear answer: its outcome is being reconciled. */
export const RECONCILING = 0;

/** What the vendor said, as the caller will see it (credentials scrubbed). */
export interface Answered {
  upstream?: UpstreamResponse | undefined;
  failure?: UpstreamError | undefined;
  /** The vendor's body as JSON, if it is. */
  parsed: unknown;
  safe?: { headers: Record<string, string>; body: Buffer; parsed: unknown } | undefined;
}

export interface SettleInput {
  plan: CallPlan;
  reserved: ReservePlan;
  key: StoredKey;
  vendor: VendorAdapter;
  answered: Answered;
  lookups: Lookups | undefined;
  now: number;
  latencyMs: number;
  ctx: { pricing: PricingContext; box: SecretBox; redactor: Redactor; auditBodyBytes: number; reconcileDelayMs: number; webhooks: readonly GlobalTarget[] };
}

export interface SettlePlan {
  settlement: Settlement;
  finalMicros: number;
  /** The status the caller gets (a failure's, when there is no answer). */
  status: number;
  /** Whether the caller must wait for it: it changes spend or completes a dedupe claim, which the next call must see. */
  beforeAnswer: boolean;
}

export function planSettlement({ plan, reserved, key, vendor, answered, lookups, now, latencyMs, ctx }: SettleInput): SettlePlan {
  const { upstream, failure, parsed, safe } = answered;
  const { micros, limits, dedupe } = reserved;
  const route = plan.route;
  let finalMicros = micros;
  let reconcile = false;
  const ok = upstream !== undefined && upstream.status >= 200 && upstream.status < 300;
  if (upstream) {
    if (ok) finalMicros = route?.settle?.(parsed, { ...ctx.pricing, ...(lookups ? { lookups } : {}) }, micros) ?? micros;
    else if (vendor.releasesReservation(upstream.status)) finalMicros = 0;
    else reconcile = micros > 0;
  } else if (failure) {
    if (failure.mayHaveActed) reconcile = micros > 0;
    else finalMicros = 0;
  }
  const over = finalMicros > micros ? finalMicros - micros : 0;
  const note = over > 0 ? { code: 'settled_above_reservation', message: `${vendor.name} reports $${microsToUsd(finalMicros).toFixed(6)} moved, $${microsToUsd(over).toFixed(6)} more than was reserved; the difference is counted.` } : undefined;
  const status = upstream?.status ?? failure?.status ?? 502;
  const countedId = ok && plan.canonical ? route?.countsAs?.(plan.canonical, parsed) : undefined;
  const auditId = plan.entry.id;
  const requestId = upstream && vendor.requestIdHeader ? upstream.headers[vendor.requestIdHeader] : undefined;
  const settlement: Settlement = {
    auditId,
    caps: limits.caps,
    reservedMicros: micros,
    finalMicros,
    now,
    counted: countedId ? { workspaceId: key.workspaceId, vendor: vendor.id, objectId: countedId } : undefined,
    forget: dedupe && !upstream && failure && !failure.mayHaveActed ? { keyId: key.id, hash: dedupe.hash } : undefined,
    replay:
      dedupe && reconcile
        ? { keyId: key.id, hash: dedupe.hash, status: RECONCILING, response: null }
        : dedupe && upstream && safe
          ? { keyId: key.id, hash: dedupe.hash, status: upstream.status, response: ctx.box.seal(JSON.stringify({ headers: safe.headers, body: safe.body.toString('base64') }), `dedupe:${auditId}`) }
          : undefined,
    outcome: {
      status,
      upstreamStatus: upstream?.status ?? null,
      latencyMs,
      settledMicros: reconcile ? null : finalMicros,
      objectId: upstream ? (vendor.objectId(parsed) ?? null) : null,
      upstreamRequestId: requestId?.slice(0, 255) ?? null,
      responseBody: safe ? ctx.redactor.responseBody(safe.body, safe.parsed, ctx.auditBodyBytes) : null,
      reconcile,
      ...(failure ? { failure: { code: failure.code, message: failure.message } } : note ? { failure: note } : {}),
    },
    pending: reconcile
      ? { nextAt: now + ctx.reconcileDelayMs, note: `${failure ? failure.message : `${vendor.name} answered ${status}`}; the reservation stands until ${vendor.name} is asked what happened` }
      : undefined,
    // A settlement above the reservation may take a cap past its limit: cap.exceeded, once per window.
    records:
      over > 0
        ? (spentAfter) => {
            const events = limits.caps.flatMap((cap, i) => {
              const spent = spentAfter[i] ?? 0;
              return spent > cap.capMicros ? [exceededEvent(key, { ...cap, spentMicros: spent, resetsAt: resetsAt(limits, cap.kind) }, finalMicros)] : [];
            });
            return { alerts: alertRows(key.workspaceId, events, ctx.webhooks, now) };
          }
        : undefined,
  };
  return { settlement, finalMicros, status, beforeAnswer: dedupe !== undefined || finalMicros !== micros };
}
