// A call that needs a person's approval (policy/approvals.ts), on its way through the proxy (http/proxy-call.ts):
// the identical call approved earlier goes on under its approval; one still pending is told so, or waits for the
// decision up to the key's approval_wait; one denied is refused; anything else asks: its amount is reserved against
// every cap with the approval row, the request's audit row and the approval.requested event, in one transaction,
// and nothing is forwarded.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { alertRows, approvalEvent } from '../alerts/events';
import { newId } from '../crypto';
import type { ApiError } from '../errors';
import { approvalExpired, approvalDenied, approvalNeeded, approvalRequired, APPROVAL_TTL_MS, statusAt } from '../policy/approvals';
import type { Refusal } from '../policy/refusals';
import { approvalHash, approvalIdempotencyKey, type CallPlan, type ReservePlan } from '../proxy/plan';
import { decideApproval, getApproval, latestApproval, useApproval, type StoredApproval } from '../store/approvals';
import type { StoredKey } from '../store/keys';
import { record, reserve } from '../store/ledger';
import type { CanonicalRequest, VendorAdapter } from '../vendors/types';
import { sendError } from './answer';
import { approvalLinks, baseUrl } from './approval-links';
import { STORE_DOWN, type Attempt, type Outcome, type ProxyDeps } from './proxy-deps';
import type { TroubleLog } from './trouble-log';

export interface GateInput {
  req: IncomingMessage;
  res: ServerResponse;
  vendor: VendorAdapter;
  key: StoredKey;
  plan: CallPlan;
  canonical: CanonicalRequest;
  micros: number;
  basis: string;
  reserved: ReservePlan;
  a: Attempt;
  outcome: Outcome;
  elapsed: () => number;
  /** The key was read from this instance's cache: a refusal is checked against the key as stored now first. */
  cached: boolean;
}

/**
 * How the gate let the call through: not needed (undefined), under its approval (used, once: the call goes on with
 * the approval's reservation), or not at all: answered, refused by a cap (the caller answers as for any
 * reservation), or to be decided again with the key as stored now.
 */
export type GateResult = undefined | { approval: StoredApproval; reserved: ReservePlan } | 'answered' | 'stale' | { refused: Refusal };

/** What the approvals say of the call, before an approval found for it is used. */
type Consulted = undefined | { approval: StoredApproval } | 'answered' | 'stale' | { refused: Refusal };

/**
 * The reservation of a call forwarded under its approval: what the approval reserved, against the spend rows it
 * reserved on (the settlement moves them), with the approval's id on the audit row and its idempotency key.
 */
function underApproval(reserved: ReservePlan, approval: StoredApproval, idempotent: boolean): ReservePlan {
  const caps = approval.reservedCaps.map(([subjectId, windowStart]) => reserved.limits.caps.find((c) => c.subjectId === subjectId && c.windowStart === windowStart) ?? { kind: 'daily' as const, subjectId, windowStart, capMicros: Number.MAX_SAFE_INTEGER });
  const audit = {
    ...reserved.reservation.audit,
    reservedMicros: approval.reservedMicros,
    reservedCaps: approval.reservedMicros > 0 ? JSON.stringify(approval.reservedCaps) : null,
    approvalId: approval.id,
    idempotencyKey: idempotent ? approvalIdempotencyKey(approval.id) : reserved.reservation.audit.idempotencyKey,
  };
  return { ...reserved, micros: approval.reservedMicros, dedupe: undefined, limits: { ...reserved.limits, caps }, reservation: { ...reserved.reservation, audit } };
}

const POLL_MS = 250;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export function createApprovalGate(deps: ProxyDeps, trouble: TroubleLog) {
  const { db, clock } = deps;

  /** Answers with an approval's refusal, leaving the call's audit row with the approval's id. */
  async function answer(x: GateInput, err: ApiError, approvalId: string, auditId = x.a.auditId): Promise<'answered'> {
    try {
      await record(db, { audit: { ...x.plan.entry, id: auditId, decision: 'deny', code: err.code, message: err.message, status: err.status, latencyMs: x.elapsed(), approvalId } });
    } catch (storeErr) {
      trouble.note(storeErr as Error, 'audit write failed for an approval answer');
      err = STORE_DOWN();
    }
    x.outcome.code = err.code;
    sendError(x.res, err, auditId, x.a.audience);
    return 'answered';
  }

  /** Asks for a person's approval: the reservation, the approval, the request's audit row and the alert, together. */
  async function ask(x: GateInput, hash: string, why: string): Promise<{ approval: StoredApproval; auditId: string } | 'stale' | { refused: Refusal }> {
    const { key, vendor, plan, canonical, reserved } = x;
    const now = x.a.now;
    const id = newId('apr', now);
    const auditId = newId('aud', now);
    const caps = reserved.micros > 0 ? reserved.limits.caps : [];
    const approval: StoredApproval = {
      id,
      workspaceId: key.workspaceId,
      keyId: key.id,
      keyLabel: key.label,
      vendor: vendor.id,
      method: canonical.method,
      path: plan.upstreamPath.slice(0, 1024),
      requestHash: hash,
      amountMicros: x.micros,
      basis: x.basis,
      status: 'pending',
      createdAt: now,
      expiresAt: now + APPROVAL_TTL_MS,
      decidedAt: null,
      decidedBy: null,
      reason: null,
      requestAuditId: auditId,
      usedAuditId: null,
      reservedCaps: caps.map((c) => [c.subjectId, c.windowStart]),
      reservedMicros: x.micros,
    };
    const asked = approvalRequired(approval, why, 0);
    const links = approvalLinks(deps.approvalKey, baseUrl(deps.publicUrl, x.req.headers), approval);
    const r = reserved.reservation;
    const result = await reserve(db, {
      ...r,
      // An approval is the request's own claim: the identical call made again finds it, not a duplicate.
      dedupe: undefined,
      audit: { ...r.audit, id: auditId, decision: 'deny', code: asked.code, message: asked.message, status: asked.status, reservedMicros: 0, reservedCaps: null, idempotencyKey: null, approvalId: id, latencyMs: x.elapsed() },
      approval: {
        id,
        workspaceId: key.workspaceId,
        keyId: key.id,
        keyLabel: key.label.slice(0, 256),
        vendor: vendor.id,
        method: approval.method,
        path: approval.path,
        hash,
        amountMicros: x.micros,
        summary: JSON.stringify({ basis: x.basis.slice(0, 2000), why }),
        createdAt: now,
        expiresAt: approval.expiresAt,
        auditId,
        reservedCaps: JSON.stringify(approval.reservedCaps),
      },
      alerts: alertRows(key.workspaceId, [approvalEvent(key, approval, why, links)], deps.webhooks, now),
    });
    if (!result.ok) return 'stale' in result ? 'stale' : { refused: result.refusal };
    return { approval, auditId };
  }

  /** Waits for a person's decision, up to the key's approval_wait, giving the key's turn to its other calls meanwhile. */
  async function waitFor(x: GateInput, a: StoredApproval): Promise<StoredApproval> {
    const waitS = x.key.policy.approval_wait_s ?? 0;
    const until = Date.now() + waitS * 1000;
    if (waitS > 0) x.a.yieldTurn?.();
    let current = a;
    while (Date.now() < until && !x.a.signal.aborted && statusAt(current, clock()) === 'pending') {
      await sleep(Math.min(POLL_MS, until - Date.now()), x.a.signal);
      current = (await getApproval(db, x.key.workspaceId, a.id)) ?? current;
    }
    return current;
  }

  /** What the approval now says: go on under it, or the refusal to answer with. */
  async function settleOn(x: GateInput, a: StoredApproval, why: string | undefined, waited: boolean, auditId: string | undefined): Promise<Consulted> {
    const now = clock();
    const status = statusAt(a, now);
    if (status === 'approved' && x.micros <= a.amountMicros) return { approval: a };
    if (status === 'denied') return answer(x, approvalDenied(a), a.id, auditId);
    if (status === 'expired' || status === 'used' || status === 'approved') {
      // Expired while waiting (or used, withdrawn, outpriced meanwhile): nothing was sent.
      if (status === 'expired' && a.status !== 'expired') await decideApproval(db, a, { to: 'expired' }, now);
      return answer(x, approvalExpired(a, undefined), a.id, auditId);
    }
    const waitedS = waited ? (x.key.policy.approval_wait_s ?? 0) : 0;
    return answer(x, approvalRequired(a, why, waitedS), a.id, auditId);
  }

  async function consult(x: GateInput): Promise<Consulted> {
    const why = approvalNeeded(x.key, x.micros, x.canonical.method, x.canonical.segments, x.vendor);
    if (!why) return undefined;
    const hash = approvalHash(x.plan, x.vendor, x.canonical);
    const now = x.a.now;
    const found = await latestApproval(db, x.key.id, hash);
    const status = found ? statusAt(found, now) : undefined;
    if (found && status === 'approved' && x.micros <= found.amountMicros) return { approval: found };
    // Anything but using an approval (whose statement checks the key's epoch) or asking (whose reservation does) is
    // decided with the key as stored now, before any wait: it may have been revoked or changed on another instance.
    if (found && x.cached) return 'stale';
    // Pending for as much or more: wait for it (a call priced higher since is a request of its own).
    if (found && status === 'pending' && x.micros <= found.amountMicros) {
      const decided = await waitFor(x, found);
      return settleOn(x, decided, why, decided.status === 'pending', undefined);
    }
    // Denied: the identical call is refused for the rest of the request's lifetime.
    if (found && status === 'denied' && found.expiresAt > now) return answer(x, approvalDenied(found), found.id);
    // Expired recently: said so, and asked again.
    let lapsed: StoredApproval | undefined;
    if (found && status === 'expired' && found.expiresAt > now - APPROVAL_TTL_MS) {
      lapsed = found;
      if (found.status !== 'expired') await decideApproval(db, found, { to: 'expired' }, now);
    }
    const asked = await ask(x, hash, why);
    if (asked === 'stale' || 'refused' in asked) return asked;
    const { approval, auditId } = asked;
    if (lapsed) {
      const err = approvalExpired(lapsed, approval);
      x.outcome.code = err.code;
      sendError(x.res, err, auditId, x.a.audience);
      return 'answered';
    }
    if ((x.key.policy.approval_wait_s ?? 0) === 0) {
      x.outcome.code = 'approval_required';
      sendError(x.res, approvalRequired(approval, why, 0), auditId, x.a.audience);
      return 'answered';
    }
    const decided = await waitFor(x, approval);
    return settleOn(x, decided, why, true, undefined);
  }

  return async function gate(x: GateInput): Promise<GateResult> {
    // An approval is used by one call: one that loses the race to an identical call asks anew. Never more than a few
    // rounds, and never on without an approval: past them the call is decided again from the start.
    for (let tries = 0; tries < 3; tries++) {
      const consulted = await consult(x);
      if (consulted === undefined || typeof consulted === 'string' || 'refused' in consulted) return consulted;
      const reserved = underApproval(x.reserved, consulted.approval, x.vendor.idempotencyHeader !== undefined);
      const used = await useApproval(db, { approvalId: consulted.approval.id, audit: reserved.reservation.audit, now: clock(), guard: reserved.reservation.guard });
      if (used === 'stale') return 'stale';
      if (used === 'used') return { approval: consulted.approval, reserved };
    }
    return 'stale';
  };
}
