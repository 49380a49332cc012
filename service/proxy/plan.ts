// What one proxied call does, computed from what is known about it (design §4, §5): the audit row it leaves, what
// it reserves and what it records either way, and what it forwards. Nothing here reads or writes anything;
// http/proxy-call.ts carries the plan out, and proxy/settlement.ts plans the settlement from the vendor's answer.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { alertRows, exceededEvent, keyTargets, thresholdCandidates, type GlobalTarget } from '../alerts/events';
import type { Decision } from '../policy/decide';
import { DEFAULT_WORKSPACE } from '../policy/keys';
import { limitsFor, resetsAt, type Limits } from '../policy/limits';
import { answerRefusal, auditOfAnswer, type RefusalContext } from '../policy/refusals';
import type { AuditEntry } from '../store/audit';
import type { StoredKey } from '../store/keys';
import type { DedupeClaim, Reservation } from '../store/ledger';
import { encodeForm } from '../vendors/form';
import type { CanonicalRequest, FormObject, JsonObject, VendorAdapter, VendorRoute } from '../vendors/types';
import { upstreamHeaders } from './forward';
import { maskCardNumbers, truncate, type Redactor } from './redact';

/** Headers that tie a call to a run, a conversation and an end user in the audit (and scope duplicates to a run). */
export const CORRELATION = { runId: 'x-keybrake-run-id', conversationId: 'x-keybrake-conversation-id', userRef: 'x-keybrake-user' } as const;
const DEFAULT_DEDUPE_MS = 10 * 60_000;

export function header(headers: IncomingHttpHeaders, name: string, max: number): string | null {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? null : s.slice(0, max);
}

/** The bytes the vendor receives: form vendors get their encoding back, JSON vendors JSON (a batch's bare array). */
function encodeBody(vendor: VendorAdapter, body: JsonObject, route: VendorRoute | undefined): string {
  if (vendor.bodyEncoding === 'form') return encodeForm(body as FormObject, vendor.repeatableFields);
  if (route?.arrayBody && vendor.arrayBodyField) return JSON.stringify(body[vendor.arrayBodyField] ?? []);
  return JSON.stringify(body);
}

/** The audit's copy of a body: the forwarded bytes themselves unless something in them had to be redacted. */
function auditedBody(redactor: Redactor, vendor: VendorAdapter, body: JsonObject, route: VendorRoute | undefined, forwarded: string): string {
  const redacted = redactor.tree(body);
  return redacted === body ? forwarded : encodeBody(vendor, redacted, route);
}

/** The request as it came in. */
export interface Incoming {
  method: string;
  rawUrl: string;
  headers: IncomingHttpHeaders;
  body: Buffer | 'too_large';
}

/** How a call came, when not straight to the proxy: over MCP, in a session (http/mcp-route.ts). */
export interface Origin {
  channel: 'mcp';
  session: string | null;
}

/** A call's audit row before anything is decided about it: who, what, and the correlation headers; denied, $0. */
export function auditEntry(x: { auditId: string; now: number; vendor: VendorAdapter; key: StoredKey | null | undefined; method: string; path: string; headers: IncomingHttpHeaders; origin?: Origin | undefined }): AuditEntry {
  const h = x.headers;
  return {
    ...(x.origin ? { channel: x.origin.channel, mcpSession: x.origin.session?.slice(0, 100) ?? null } : {}),
    id: x.auditId,
    workspaceId: x.key?.workspaceId ?? DEFAULT_WORKSPACE,
    ts: x.now,
    keyId: x.key?.id ?? null,
    keyLabel: x.key?.label ?? null,
    vendor: x.vendor.id,
    method: x.method.toUpperCase().slice(0, 10),
    path: x.path.slice(0, 1024),
    decision: 'deny',
    code: null,
    message: null,
    estimatedMicros: 0,
    reservedMicros: 0,
    windowStart: null,
    budgetId: null,
    budgetWindow: null,
    status: null,
    latencyMs: null,
    runId: header(h, CORRELATION.runId, 200),
    conversationId: header(h, CORRELATION.conversationId, 200),
    userRef: header(h, CORRELATION.userRef, 200),
    idempotencyKey: header(h, 'idempotency-key', 255),
    requestBody: null,
  };
}

export interface PlanInput {
  auditId: string;
  now: number;
  incoming: Incoming;
  vendor: VendorAdapter;
  key: StoredKey | null | undefined;
  request: CanonicalRequest | { error: string };
  decision: Decision;
  credentials: Record<string, string> | undefined;
  redactor: Redactor;
  auditBodyBytes: number;
  origin?: Origin | undefined;
}

export interface CallPlan {
  /** The request as decided (with what lookups found), or as parsed when it was refused. */
  canonical: CanonicalRequest | undefined;
  route: VendorRoute | undefined;
  /** The body priced and compared for duplicates. */
  plainBody: string | undefined;
  /** The body forwarded: the same, with the vendor's tag when it has one (Stripe: the audit id in metadata). */
  forwardedBody: string | undefined;
  /** The path the vendor receives (Twilio's with the real Account SID), and the query string. */
  upstreamPath: string;
  queryString: string;
  /** The audit row, as written if the call is refused before reserving. */
  entry: AuditEntry;
}

export function planCall(x: PlanInput): CallPlan {
  const { vendor, key, decision, incoming } = x;
  const allowed = decision.kind === 'allow' ? decision : undefined;
  const canonical = allowed ? allowed.request : 'error' in x.request ? undefined : x.request;
  const route = allowed?.route;
  const hasBody = canonical !== undefined && canonical.method !== 'GET' && canonical.method !== 'DELETE' && Object.keys(canonical.body).length > 0;
  const plainBody = hasBody ? encodeBody(vendor, canonical.body, route) : undefined;
  const marked = canonical && route && vendor.mark ? vendor.mark(canonical, route, x.auditId) : canonical;
  const forwardedBody = marked && marked !== canonical ? encodeBody(vendor, marked.body, route) : plainBody;
  const rawPath = incoming.rawUrl.split('?')[0] ?? '';
  const upstreamPath = canonical ? (vendor.rewritePath && x.credentials ? vendor.rewritePath(canonical.path, x.credentials) : canonical.path) : rawPath;
  const body = incoming.body;
  const entry: AuditEntry = {
    ...auditEntry({ auditId: x.auditId, now: x.now, vendor, key, method: canonical?.method ?? incoming.method, path: upstreamPath, headers: incoming.headers, origin: x.origin }),
    decision: allowed ? 'allow' : 'deny',
    code: decision.kind === 'deny' ? decision.code : null,
    message: decision.kind === 'deny' ? decision.message : null,
    estimatedMicros: allowed?.micros ?? 0,
    requestBody: canonical
      ? hasBody
        ? truncate(auditedBody(x.redactor, vendor, (marked ?? canonical).body, route, forwardedBody as string), x.auditBodyBytes)
        : null
      : body === 'too_large' || body.length === 0
        ? null
        : truncate(maskCardNumbers(body.toString('utf8')), x.auditBodyBytes),
  };
  return { canonical, route, plainBody, forwardedBody, upstreamPath, queryString: canonical ? encodeForm(canonical.query) : '', entry };
}

/** What makes two calls the same request: method, path and query, the vendor account, the body, and a scope. */
function requestHash(plan: CallPlan, vendor: VendorAdapter, canonical: CanonicalRequest, scope: string): string {
  const account = (vendor.scopeHeaders ?? []).map((h) => canonical.headers[h] ?? '').join('|');
  return createHash('sha256').update(`${canonical.method} ${plan.upstreamPath}?${plan.queryString}\n${account}\n${scope}\n${plan.plainBody ?? ''}`).digest('hex');
}

/** The request an approval covers: the same key (the caller's), method, path, query, account and body, in any run. */
export function approvalHash(plan: CallPlan, vendor: VendorAdapter, canonical: CanonicalRequest): string {
  return requestHash(plan, vendor, canonical, '');
}

/** The idempotency key a call forwarded under an approval carries: the vendor acts on it once, whatever retries. */
export function approvalIdempotencyKey(approvalId: string): string {
  return `kb_${createHash('sha256').update(`approval:${approvalId}`).digest('hex').slice(0, 48)}`;
}

export interface ReservePlan {
  micros: number;
  limits: Limits;
  dedupe: DedupeClaim | undefined;
  reservation: Reservation;
  /** What a refusal is answered with is worked out from this (policy/refusals.ts). */
  refusalContext: RefusalContext;
}

export interface ReserveInput {
  plan: CallPlan;
  key: StoredKey;
  vendor: VendorAdapter;
  micros: number;
  now: number;
  /** Whether the key was read from a cache (or recently): then the reservation checks its policy epoch. */
  guarded: boolean;
  webhooks: readonly GlobalTarget[];
}

/**
 * The dedupe claim, the rate window and every cap, and what the call records: reserved, its audit row and the
 * thresholds it reached; refused, the refusal's audit row and, for a cap, cap.exceeded.
 */
export function planReservation({ plan, key, vendor, micros, now, guarded, webhooks }: ReserveInput): ReservePlan {
  const limits = limitsFor(key, now);
  const { canonical, entry } = plan;
  const dedupeMs = key.policy.dedupe_ms ?? DEFAULT_DEDUPE_MS;
  let dedupe: DedupeClaim | undefined;
  if (canonical && plan.route?.class === 'priced' && micros > 0 && dedupeMs > 0) {
    // Identical: the same request on the same account, in the same run (a new run may do the same thing again).
    const hash = requestHash(plan, vendor, canonical, canonical.headers[CORRELATION.runId] ?? '');
    const idempotencyKey = `kb_${createHash('sha256').update(`${key.id}:${hash}:${now}`).digest('hex').slice(0, 48)}`;
    dedupe = { keyId: key.id, hash, now, cutoff: now - dedupeMs, auditId: entry.id, idempotencyKey };
  }
  const reserved: AuditEntry = {
    ...entry,
    reservedMicros: micros,
    windowStart: limits.keyWindow.start,
    budgetId: key.budget?.id ?? null,
    budgetWindow: limits.budgetWindow?.start ?? null,
    idempotencyKey: vendor.idempotencyHeader && dedupe ? dedupe.idempotencyKey : entry.idempotencyKey,
    reservedCaps: micros > 0 ? JSON.stringify(limits.caps.map((c) => [c.subjectId, c.windowStart])) : null,
  };
  const refusalContext: RefusalContext = { key, limits, micros, now, vendorName: vendor.name };
  const reservation: Reservation = {
    micros,
    caps: limits.caps,
    rate: limits.rate,
    dedupe,
    guard: guarded ? { workspaceId: key.workspaceId, epoch: key.epoch } : undefined,
    audit: reserved,
    thresholds: micros > 0 && webhooks.length + keyTargets(key).length > 0 ? thresholdCandidates(key, limits, webhooks, now) : undefined,
    refused(r) {
      const exceeded = r.kind === 'duplicate' || r.kind === 'rate' ? [] : [exceededEvent(key, { ...r.cap, spentMicros: r.spentMicros, resetsAt: resetsAt(limits, r.kind) }, micros)];
      return { audit: { ...entry, ...auditOfAnswer(answerRefusal(r, refusalContext)) }, alerts: alertRows(key.workspaceId, exceeded, webhooks, now) };
    },
  };
  return { micros, limits, dedupe, reservation, refusalContext };
}

export interface ForwardRequest {
  method: string;
  pathAndQuery: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** Exactly the canonical request, with the real secret, and the derived idempotency key when the vendor takes one. */
export function planForward(plan: CallPlan, canonical: CanonicalRequest, vendor: VendorAdapter, credentials: Record<string, string>, idempotencyKey: string | undefined): ForwardRequest {
  const authQuery = vendor.authQuery ? new URLSearchParams(vendor.authQuery(credentials)).toString() : '';
  const query = [plan.queryString, authQuery].filter((q) => q !== '').join('&');
  const contentType = plan.forwardedBody === undefined ? undefined : vendor.bodyEncoding === 'form' ? 'application/x-www-form-urlencoded' : 'application/json';
  const headers = upstreamHeaders(vendor, canonical.headers, credentials, contentType);
  if (vendor.idempotencyHeader && idempotencyKey) headers[vendor.idempotencyHeader] = idempotencyKey;
  return { method: canonical.method, pathAndQuery: plan.upstreamPath + (query ? `?${query}` : ''), headers, body: plan.forwardedBody };
}
