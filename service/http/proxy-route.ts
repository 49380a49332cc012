// ANY /{vendor}/{vendor path} (design §4): authenticate, canonicalise, decide, reserve with the audit row,
// forward, settle. Every request leaves an audit row; a store failure refuses the call (fail closed).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { hashSecret, newId } from '../crypto';
import { ApiError, errorBody, errorHeaders } from '../errors';
import { decide, type Decision } from '../policy/decide';
import { canonicalize } from '../proxy/canonical';
import { BodyError, encodeForm } from '../proxy/form';
import { UpstreamError, upstreamHeaders, type UpstreamResponse, type Upstreams } from '../proxy/forward';
import { maskCardNumbers, redactResponseBody, redactTree, truncate } from '../proxy/redact';
import type { Db } from '../store/db';
import { insertAudit, type AuditEntry } from '../store/audit';
import { findKeyByHash, type StoredKey } from '../store/keys';
import { reserveAndAudit, settle } from '../store/ledger';
import { limitsFor, perCallError, refusalError } from './limits';
import { DEFAULT_WORKSPACE } from '../store/admin-keys';
import type { CredentialResolver } from '../vendors/credentials';
import { microsToUsd } from '../vendors/currency';
import type { VendorRegistry } from '../vendors/registry';
import type { CanonicalRequest, FormObject, JsonObject, PricingContext, VendorAdapter, VendorRoute } from '../vendors/types';
import { presentedVaultKey } from './vault-key';

export interface ProxyDeps {
  db: Db;
  registry: VendorRegistry;
  upstreams: Upstreams;
  credentials: CredentialResolver;
  pricing: PricingContext;
  log: Logger;
  clock: () => number;
  maxBodyBytes: number;
  auditBodyBytes: number;
}

const CORRELATION = { runId: 'x-keybrake-run-id', conversationId: 'x-keybrake-conversation-id', userRef: 'x-keybrake-user' } as const;

function header(req: IncomingMessage, name: string, max: number): string | null {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? null : s.slice(0, max);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return 'too_large';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'too_large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The bytes the vendor receives: form vendors get their encoding back, JSON vendors JSON (a batch's bare array). */
function encodeBody(vendor: VendorAdapter, body: JsonObject, route: VendorRoute | undefined): string {
  if (vendor.bodyEncoding === 'form') return encodeForm(body as FormObject, vendor.repeatableFields);
  if (route?.arrayBody && vendor.arrayBodyField) return JSON.stringify(body[vendor.arrayBodyField] ?? []);
  return JSON.stringify(body);
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, err: ApiError, auditId: string): void {
  send(res, err.status, { 'content-type': 'application/json', 'x-keybrake-audit-id': auditId, ...errorHeaders(err) }, JSON.stringify(errorBody(err)));
}

export function createProxyHandler(deps: ProxyDeps) {
  const { db, log, clock } = deps;

  return async function proxy(req: IncomingMessage, res: ServerResponse, vendor: VendorAdapter, rawUrl: string): Promise<void> {
    const started = performance.now();
    const now = clock();
    const auditId = newId('aud');
    const elapsed = (): number => Math.round(performance.now() - started);

    const body = await readBody(req, deps.maxBodyBytes);
    const presented = presentedVaultKey(req.headers);
    let key: StoredKey | null | undefined;
    try {
      key = presented === undefined ? undefined : presented === '' ? null : ((await findKeyByHash(db, hashSecret(presented))) ?? null);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'store unavailable during key lookup');
      return sendError(res, new ApiError('store_unavailable', 'Keybrake cannot reach its database, so the call is refused (fail closed).'), auditId);
    }

    let request: CanonicalRequest | { error: string };
    let tooLarge = false;
    if (body === 'too_large') {
      tooLarge = true;
      request = { error: `body is larger than ${deps.maxBodyBytes} bytes` };
    } else {
      try {
        request = canonicalize({ method: req.method ?? 'GET', rawUrl, headers: req.headers, body }, vendor);
      } catch (err) {
        if (!(err instanceof BodyError)) throw err;
        request = { error: err.message };
      }
    }

    let decision: Decision = decide({ key, vendor, request, now, pricing: deps.pricing });
    if (decision.kind === 'deny' && decision.code === 'bad_request' && tooLarge) decision = { ...decision, code: 'body_too_large' };
    // What is forwarded: the request as the decision left it (a vendor may have made it safe, e.g. TimeLimit).
    const canonical = decision.kind === 'allow' ? decision.request : 'error' in request ? undefined : request;
    const route = decision.kind === 'allow' ? decision.route : undefined;
    const hasBody = canonical !== undefined && canonical.method !== 'GET' && canonical.method !== 'DELETE' && Object.keys(canonical.body).length > 0;
    const forwardedBody = hasBody ? encodeBody(vendor, canonical.body, route) : undefined;
    const auditedBody = canonical
      ? hasBody
        ? truncate(encodeBody(vendor, redactTree(canonical.body), route), deps.auditBodyBytes)
        : null
      : body === 'too_large' || body.length === 0
        ? null
        : truncate(maskCardNumbers(body.toString('utf8')), deps.auditBodyBytes);
    const queryString = canonical ? encodeForm(canonical.query) : '';

    const entry: AuditEntry = {
      id: auditId,
      workspaceId: key?.workspaceId ?? DEFAULT_WORKSPACE,
      ts: now,
      keyId: key?.id ?? null,
      keyLabel: key?.label ?? null,
      vendor: vendor.id,
      method: canonical?.method ?? (req.method ?? 'GET').toUpperCase().slice(0, 10),
      path: (canonical?.path ?? rawUrl.split('?')[0] ?? '').slice(0, 1024),
      decision: decision.kind,
      code: decision.kind === 'deny' ? decision.code : null,
      message: decision.kind === 'deny' ? decision.message : null,
      estimatedMicros: decision.kind === 'allow' ? decision.micros : 0,
      reservedMicros: 0,
      windowStart: null,
      budgetId: null,
      budgetWindow: null,
      status: null,
      latencyMs: null,
      runId: header(req, CORRELATION.runId, 200),
      conversationId: header(req, CORRELATION.conversationId, 200),
      userRef: header(req, CORRELATION.userRef, 200),
      idempotencyKey: header(req, 'idempotency-key', 255),
      requestBody: auditedBody,
    };
    const logLine = { audit_id: auditId, vendor: vendor.id, method: entry.method, path: entry.path, key_id: entry.keyId };

    const refuse = async (err: ApiError): Promise<void> => {
      try {
        await insertAudit(db.knex, { ...entry, decision: 'deny', code: err.code, message: err.message, status: err.status, latencyMs: elapsed() });
      } catch (storeErr) {
        log.error({ ...logLine, err: (storeErr as Error).message }, 'audit write failed for a refusal');
        err = new ApiError('store_unavailable', 'Keybrake cannot reach its database, so the call is refused (fail closed).');
      }
      log.info({ ...logLine, decision: 'deny', code: err.code, status: err.status }, 'proxy refused');
      sendError(res, err, auditId);
    };

    if (decision.kind === 'deny') {
      if (tooLarge) res.setHeader('connection', 'close');
      if (decision.code === 'per_call_cap_exceeded' && key) {
        return refuse(perCallError(decision.message, key, limitsFor(key, now), decision.micros ?? 0, now));
      }
      return refuse(new ApiError(decision.code, decision.message));
    }
    const liveKey = key as StoredKey;
    const credentials = await deps.credentials.resolve(liveKey.workspaceId, vendor.id).catch((err: Error) => {
      log.error({ ...logLine, err: err.message }, 'vendor credentials could not be read');
      return null;
    });
    if (credentials === null) return refuse(new ApiError('store_unavailable', 'Keybrake cannot read its vendor credentials, so the call is refused.'));
    if (credentials === undefined || vendor.credentialFields.some((f) => !credentials[f])) {
      return refuse(new ApiError('upstream_unreachable', `Keybrake has no ${vendor.name} secret configured; an operator must set it (environment or PUT /vendors/${vendor.id}/credentials).`));
    }

    // The path the vendor receives (Twilio's carries the real Account SID); it is what the audit records.
    const upstreamPath = vendor.rewritePath ? vendor.rewritePath(entry.path, credentials) : entry.path;
    const authQuery = vendor.authQuery ? new URLSearchParams(vendor.authQuery(credentials)).toString() : '';
    const fullQuery = [queryString, authQuery].filter((q) => q !== '').join('&');
    const pathAndQuery = upstreamPath + (fullQuery ? `?${fullQuery}` : '');

    // Take the rate window, reserve against every cap and write the audit row before anything is forwarded.
    const limits = limitsFor(liveKey, now);
    const micros = decision.micros;
    const reservedEntry: AuditEntry = {
      ...entry,
      path: upstreamPath.slice(0, 1024),
      windowStart: limits.keyWindow.start,
      budgetId: liveKey.budget?.id ?? null,
      budgetWindow: limits.budgetWindow?.start ?? null,
    };
    try {
      const reserved = await reserveAndAudit(db, { micros, caps: limits.caps, ...(limits.rate ? { rate: limits.rate } : {}) }, reservedEntry, (refusal) => {
        const err = refusalError(refusal, liveKey, limits, micros, now);
        return { code: err.code, message: err.message, status: err.status };
      });
      if (!reserved.ok) {
        const err = refusalError(reserved.refusal, liveKey, limits, micros, now);
        log.info({ ...logLine, decision: 'deny', code: err.code, status: err.status }, 'proxy refused');
        return sendError(res, err, auditId);
      }
    } catch (err) {
      log.error({ ...logLine, err: (err as Error).message }, 'reservation or audit write failed; nothing forwarded');
      return sendError(res, new ApiError('store_unavailable', 'Keybrake cannot write its audit trail, so the call is refused (fail closed).'), auditId);
    }

    // Forward exactly the canonical request.
    let upstream: UpstreamResponse | undefined;
    let failure: UpstreamError | undefined;
    try {
      upstream = await deps.upstreams.forward(vendor, {
        method: canonical?.method ?? 'GET',
        pathAndQuery,
        headers: upstreamHeaders(vendor, canonical?.headers ?? {}, credentials, forwardedBody === undefined ? undefined : vendor.bodyEncoding === 'form' ? 'application/x-www-form-urlencoded' : 'application/json'),
        body: forwardedBody,
      });
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      failure = err;
    }

    // Settle: 2xx to the reported amount, a no-effect 4xx releases, anything uncertain keeps the reservation.
    let finalMicros = micros;
    let reconcile = false;
    let parsed: unknown;
    if (upstream) {
      try {
        parsed = JSON.parse(upstream.body.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      if (upstream.status >= 200 && upstream.status < 300) {
        finalMicros = route?.settle?.(parsed, deps.pricing) ?? micros;
      } else if (vendor.releasesReservation(upstream.status)) {
        finalMicros = 0;
      } else {
        reconcile = micros > 0;
      }
    } else if (failure) {
      if (failure.mayHaveActed) reconcile = micros > 0;
      else finalMicros = 0;
    }
    const status = upstream?.status ?? failure?.status ?? 502;
    try {
      await settle(
        db,
        { auditId, caps: limits.caps, reservedMicros: micros, finalMicros },
        {
          status,
          upstreamStatus: upstream?.status ?? null,
          latencyMs: elapsed(),
          settledMicros: reconcile ? null : finalMicros,
          objectId: upstream ? (vendor.objectId(parsed) ?? null) : null,
          upstreamRequestId: upstream?.headers['request-id']?.slice(0, 255) ?? null,
          responseBody: upstream ? redactResponseBody(upstream.body, deps.auditBodyBytes) : null,
          reconcile,
          ...(failure ? { code: failure.code, message: failure.message } : {}),
        },
      );
    } catch (err) {
      // The reservation stands (over-counting, never under-counting); the row is left for reconciliation.
      log.error({ ...logLine, err: (err as Error).message }, 'settlement failed; reservation kept');
    }
    log.info({ ...logLine, decision: 'allow', status, estimated_usd: microsToUsd(micros), final_usd: microsToUsd(finalMicros), latency_ms: elapsed() }, 'proxied');
    if (failure) return sendError(res, failure, auditId);
    const up = upstream as UpstreamResponse;
    send(res, up.status, { ...up.headers, 'x-keybrake-audit-id': auditId }, up.body);
  };
}

