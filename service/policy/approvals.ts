// When a call waits for a person (design §3): priced above the key's or its budget's `approval_above_usd`, or one of
// their `approval_endpoints`. What the caller is told, while it waits and after a person decided, is said here once;
// http/approval-gate.ts carries it out and store/approvals.ts keeps the approvals.
import { ApiError, type ErrorDetails } from '../errors';
import { matchEndpoint, type EndpointPattern } from '../vendors/endpoints';
import { formatUsd, microsToUsd } from '../vendors/currency';
import type { VendorAdapter } from '../vendors/types';
import type { KeyRecord } from './keys';

/** How long an approval request stands, and an approval may be used, from the moment it was asked for. */
export const APPROVAL_TTL_MS = 60 * 60_000;

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'used';
export const APPROVAL_STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'denied', 'expired', 'used'];

/** An approval as the policy reads it (store/approvals.ts builds it from its row). */
export interface ApprovalRecord {
  id: string;
  keyId: string;
  keyLabel: string;
  vendor: string;
  method: string;
  path: string;
  amountMicros: number;
  /** What was priced: the basis of the price (`amount=240000 usd`). */
  basis: string;
  status: ApprovalStatus;
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
  decidedBy: string | null;
  reason: string | null;
}

/** Its status as of `now`: a pending or approved request past its lifetime has expired, swept or not. */
export function statusAt(a: Pick<ApprovalRecord, 'status' | 'expiresAt'>, now: number): ApprovalStatus {
  return (a.status === 'pending' || a.status === 'approved') && a.expiresAt <= now ? 'expired' : a.status;
}

const usd = (micros: number): string => formatUsd(microsToUsd(micros));

/**
 * Whether a call is one of the endpoints listed for approval, however it is spelled: under any spelling the vendor
 * serves it by (Twilio's `Calls`, `Calls.json`, `Calls.xml`), and in any case. A list that asks for a person must
 * not be stepped around by an alias the allowlist's `*` lets through.
 */
function listedFor(p: EndpointPattern, method: string, segments: readonly string[], vendor: Pick<VendorAdapter, 'routeSegments'>): boolean {
  if (matchEndpoint(p, method, segments) !== 'none') return true;
  const spell = vendor.routeSegments;
  if (!spell || p.segments === 'any') return false;
  const last = p.segments[p.segments.length - 1];
  const normal: EndpointPattern = last?.kind === 'literal' ? { ...p, segments: [...p.segments.slice(0, -1), { kind: 'literal', value: spell([last.value])[0] ?? last.value }] } : p;
  return matchEndpoint(normal, method, spell(segments)) !== 'none';
}

/**
 * Why this call needs a person's approval, or undefined when it does not: above the key's threshold or its budget's,
 * or one of their approval endpoints.
 */
export function approvalNeeded(key: KeyRecord, micros: number, method: string, segments: readonly string[], vendor: Pick<VendorAdapter, 'routeSegments'>): string | undefined {
  const rules = [
    { whose: 'this key', above: key.policy.approval_above_micros, endpoints: key.approvalEndpoints },
    ...(key.budget?.approval ? [{ whose: `the shared budget ${key.budget.id}`, above: key.budget.approval.aboveMicros, endpoints: key.budget.approval.endpoints }] : []),
  ];
  for (const r of rules) {
    if (r.above !== undefined && micros > r.above) return `it is priced at ${usd(micros)}, above ${usd(r.above)}, the most ${r.whose} spends on one call without a person's approval`;
    const listed = r.endpoints?.find((p) => listedFor(p, method, segments, vendor));
    if (listed) return `${r.whose} asks a person to approve every call of ${listed.source}`;
  }
  return undefined;
}

/** What every approval answer says about what was asked. */
export function approvalDetails(a: ApprovalRecord): ErrorDetails {
  return {
    approval_id: a.id,
    vendor: a.vendor,
    endpoint: `${a.method} ${a.path}`,
    amount_usd: microsToUsd(a.amountMicros),
    priced: a.basis,
    expires_at: new Date(a.expiresAt).toISOString(),
  };
}

/** The answer while the approval is pending: a sentence the model can pass on, and the approval's id. */
export function approvalRequired(a: ApprovalRecord, why: string | undefined, waitedS: number): ApiError {
  const what = `${a.method} ${a.path} for ${usd(a.amountMicros)}`;
  const waited = waitedS > 0 ? ` It waited ${waitedS} s for a decision.` : '';
  const because = why ? ` (${why})` : '';
  return new ApiError(
    'approval_required',
    `Not sent yet: Keybrake asks a person to approve ${what}${because}. Approval ${a.id} is pending until ${new Date(a.expiresAt).toISOString()}.${waited} Tell the user it awaits approval, and call again with the same arguments once it is approved.`,
    approvalDetails(a),
  );
}

export function approvalDenied(a: ApprovalRecord): ApiError {
  const reason = a.reason ? `: "${a.reason}"` : '';
  return new ApiError(
    'approval_denied',
    `Not sent: a person denied ${a.method} ${a.path} for ${usd(a.amountMicros)} (approval ${a.id})${reason}. Do not try it again; tell the user it was denied.`,
    { ...approvalDetails(a), reason: a.reason ?? undefined },
  );
}

export function approvalExpired(a: ApprovalRecord, askedAgain: ApprovalRecord | undefined): ApiError {
  const again = askedAgain ? ` Keybrake asked again: approval ${askedAgain.id} is pending until ${new Date(askedAgain.expiresAt).toISOString()}; call again with the same arguments once it is approved.` : '';
  return new ApiError(
    'approval_expired',
    `Not sent: nobody decided on ${a.method} ${a.path} for ${usd(a.amountMicros)} (approval ${a.id}) before it expired at ${new Date(a.expiresAt).toISOString()}; what it reserved is released.${again}`,
    { ...approvalDetails(askedAgain ?? a), ...(askedAgain ? { expired_approval_id: a.id } : {}) },
  );
}
