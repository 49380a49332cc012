// ANY /{vendor}/{vendor path} (design §4): authenticate, canonicalise, decide (looking up vendor objects when the
// price depends on them), reserve with the audit row, forward, settle. Every request leaves an audit row; a store
// failure refuses the call (fail closed).
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { enqueue, exceededEvent, thresholdEvents, type CapState, type GlobalTarget } from '../alerts/events';
import { hashSecret, newId, type SecretBox } from '../crypto';
import { ApiError, errorBody, errorHeaders } from '../errors';
import { decide, type Decision } from '../policy/decide';
import { canonicalize } from '../proxy/canonical';
import { BodyError, encodeForm } from '../proxy/form';
import { collect, TOO_LARGE, UpstreamError, upstreamHeaders, type UpstreamResponse, type Upstreams } from '../proxy/forward';
import { performLookups } from '../proxy/lookups';
import { lockObject } from '../proxy/object-lock';
import { maskCardNumbers, truncate, type Redactor } from '../proxy/redact';
import { Scrubber } from '../proxy/scrub';
import { DEFAULT_WORKSPACE } from '../store/admin-keys';
import { writeAudit, type AuditEntry } from '../store/audit';
import type { Db } from '../store/db';
import type { StoredKey } from '../store/keys';
import { releaseDedupe, reserveAndAudit, settle, settleLater, spentIn, type DedupeClaim } from '../store/ledger';
import { unlock, type ObjectLock } from '../store/object-locks';
import { markPending } from '../store/reconcile';
import type { CredentialResolver } from '../vendors/credentials';
import { microsToUsd } from '../vendors/currency';
import type { VendorRegistry } from '../vendors/registry';
import type { CanonicalRequest, FormObject, JsonObject, Lookups, PricingContext, VendorAdapter, VendorRoute } from '../vendors/types';
import { replayNote, statusFor, type Audience } from './answer';
import { KeyCache } from './key-cache';
import { TroubleLog } from './trouble-log';
import type { KeyGate } from './key-gate';
import type { Metrics } from './metrics';
import { limitsFor, perCallError, refusalError, type Limits } from './limits';
import { presentedVaultKey } from './vault-key';

export interface ProxyDeps {
  db: Db;
  registry: VendorRegistry;
  upstreams: Upstreams;
  credentials: CredentialResolver;
  box: SecretBox;
  redactor: Redactor;
  /** Global webhook targets for alert events. */
  webhooks: readonly GlobalTarget[];
  pricing: PricingContext;
  log: Logger;
  clock: () => number;
  maxBodyBytes: number;
  auditBodyBytes: number;
  /** In-process fairness: how many calls of one key may be in progress at once. */
  gate: KeyGate;
  /** How long a call may wait for its key's turn before it is answered 429 rate_limited. */
  turnWaitMs: number;
  /** How long the request body may take to arrive (408 past it). */
  bodyTimeoutMs: number;
  metrics: Metrics;
  /** How long a call may hold a vendor object's lease (a crashed holder's lease lapses after this). */
  objectLockMs: number;
  /** How long after an unknown outcome the vendor is first asked about it. */
  reconcileDelayMs: number;
}

/** What a call came to, for GET /metrics. */
interface Outcome {
  decision: 'allow' | 'deny';
  code: string | null;
  micros: number;
}

const CORRELATION = { runId: 'x-keybrake-run-id', conversationId: 'x-keybrake-conversation-id', userRef: 'x-keybrake-user' } as const;
const DEFAULT_DEDUPE_MS = 10 * 60_000;
const STORE_DOWN = (): ApiError => new ApiError('store_unavailable', 'Keybrake cannot reach its database, so the call is refused (fail closed).');
/** A dedupe claim whose call ended without a clear answer: its outcome is being reconciled. */
const RECONCILING = 0;

/**
 * Runs a failed settlement again, with a growing pause, while the process lives: a settlement lost to a database
 * blip is written once the database is back (and the reconciler catches those a stopped process never wrote).
 */
function retrier(): (work: () => Promise<void>) => void {
  const attempts = new WeakMap<() => Promise<void>, number>();
  return (work) => {
    const n = (attempts.get(work) ?? 0) + 1;
    attempts.set(work, n);
    if (n > 30) return;
    setTimeout(() => void work(), Math.min(60_000, 500 * 2 ** n)).unref();
  };
}

/** The caller went away before the call was made: recorded, never answered. */
const CLIENT_GONE = new ApiError('bad_request', 'The caller went away before the call was made; nothing was forwarded.');

function header(req: IncomingMessage, name: string, max: number): string | null {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? null : s.slice(0, max);
}

/** The request body, read to its end within `timeoutMs`; given up at once when the caller goes away. */
async function readBody(req: IncomingMessage, limit: number, timeoutMs: number, signal: AbortSignal): Promise<Buffer | 'too_large' | 'timeout' | 'gone'> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return 'too_large';
  if (req.readableEnded) return Buffer.alloc(0);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<'timeout' | 'gone'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    onAbort = () => resolve('gone');
    if (signal.aborted || req.destroyed) resolve('gone');
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([
      collect(req, limit).catch((err: unknown) => {
        if (err === TOO_LARGE) return 'too_large' as const;
        return 'gone' as const; // the stream failed: the caller reset the connection
      }),
      stop,
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
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

/** Sends an answer; on the Dify path a status Dify would throw away is moved out of its retry list. */
function send(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string, audience: Audience = 'sdk', own = false): void {
  const sent = statusFor(audience, status, own);
  res.writeHead(sent, { ...headers, ...(sent !== status ? { 'x-keybrake-original-status': String(status) } : {}), 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, err: ApiError, auditId: string, audience: Audience = 'sdk'): void {
  const body = errorBody(err);
  const sent = statusFor(audience, err.status, true);
  if (sent !== err.status) Object.assign(body, { statusCode: sent, original_status: err.status });
  // X-Keybrake-Error tells Keybrake's own answers from a vendor's (whose errors carry codes of their own).
  send(res, err.status, { 'content-type': 'application/json', 'x-keybrake-audit-id': auditId, 'x-keybrake-error': err.code, ...errorHeaders(err) }, JSON.stringify(body), audience, true);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** What one attempt at a call knows before it starts. */
interface Attempt {
  started: number;
  now: number;
  auditId: string;
  body: Buffer | 'too_large';
  /** 0: the cached key, checked by the reservation; 1: read afresh, checked; 2: read afresh (changes keep racing). */
  round: number;
  /** Aborted when the caller goes away. */
  signal: AbortSignal;
  audience: Audience;
}

export function createProxyHandler(deps: ProxyDeps) {
  const { db, log, clock } = deps;
  const keys = new KeyCache(db);
  const storeTrouble = new TroubleLog(log);
  const retry = retrier();
  const scrubbers = new WeakMap<Record<string, string>, Scrubber>();

  /** The scrubber for a vendor's answers: every secret held for it (the one in use, and the environment's). */
  function scrubberFor(vendor: VendorAdapter, credentials: Record<string, string>): Scrubber {
    let scrubber = scrubbers.get(credentials);
    if (!scrubber) {
      const secretsOf = (c: Record<string, string>): string[] => vendor.secretsOf?.(c) ?? Object.values(c);
      const env = deps.credentials.fromEnv(vendor.id);
      scrubber = new Scrubber([...secretsOf(credentials), ...(env ? secretsOf(env) : [])], vendor.scrubFields);
      scrubbers.set(credentials, scrubber);
    }
    return scrubber;
  }

  /** A settlement took a cap past its limit: cap.exceeded, once per window, as for a refused call. */
  async function exceeded(key: StoredKey, limits: Limits, micros: number, now: number): Promise<void> {
    for (const cap of limits.caps) {
      const spent = await spentIn(db, cap.subjectId, cap.windowStart);
      if (spent <= cap.capMicros) continue;
      const resetsAt = cap.kind === 'daily' ? limits.keyWindow.resetsAt : cap.kind === 'budget' ? (limits.budgetWindow?.resetsAt ?? null) : null;
      await enqueue(db.knex, db.dialect, key.workspaceId, [exceededEvent(key, { ...cap, spentMicros: spent, resetsAt }, micros)], deps.webhooks, now);
    }
  }

  return async function proxy(req: IncomingMessage, res: ServerResponse, vendor: VendorAdapter, rawUrl: string, audience: Audience = 'sdk'): Promise<void> {
    // undefined: no key sent; '': something that cannot be a vault key; else the hash to look the key up by.
    const presented = presentedVaultKey(req.headers);
    const keyHash = presented ? hashSecret(presented) : presented;
    const started = performance.now();
    const now = clock();
    // Audit ids begin with the time, so that the busiest table's primary key index grows at its end instead of
    // taking each insert on a random page (measured on 2 million rows of PostgreSQL: about 8% more calls/s).
    const auditId = newId('aud', now);
    const outcome: Outcome = { decision: 'deny', code: 'store_unavailable', micros: 0 };
    // Everything that waits on the caller stops waiting when the caller goes away.
    const gone = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', onClose);
    let turn = false;
    try {
      // The body is read before the key's turn is taken, within a time limit: a slow upload holds nothing.
      const body = await readBody(req, deps.maxBodyBytes, deps.bodyTimeoutMs, gone.signal);
      if (body === 'timeout' || body === 'gone') {
        const err = body === 'gone' ? CLIENT_GONE : new ApiError('request_timeout', `The request body did not arrive within ${deps.bodyTimeoutMs / 1000} s; nothing was forwarded.`);
        return await refuseEarly(req, res, vendor, rawUrl, keyHash, { auditId, now, started, audience }, err, outcome);
      }
      // Calls of one vault key take turns (KeyGate), by the key's hash. The wait is bounded, and ends when the
      // caller goes away; a turn taken is always given back.
      if (keyHash) {
        const got = await deps.gate.enter(keyHash, { maxWaitMs: deps.turnWaitMs, signal: gone.signal });
        if (got !== 'entered') {
          const secs = Math.max(1, Math.ceil(deps.turnWaitMs / 1000));
          const err =
            got === 'gone'
              ? CLIENT_GONE
              : new ApiError(
                  'rate_limited',
                  `Too many calls of this vault key are in progress; this one waited ${secs} s for its turn and was not forwarded. Wait ${secs} s before trying again.`,
                  { retry_after_seconds: secs },
                  { 'retry-after': String(secs) },
                );
          return await refuseEarly(req, res, vendor, rawUrl, keyHash, { auditId, now, started, audience }, err, outcome);
        }
        turn = true;
      }
      // A cached key is decided with first; if the store finds it stale, or it leads to a refusal, the key is read
      // afresh and the call decided again, so that nothing is allowed or refused on an outdated policy.
      for (let round = 0; round < 3; round++) {
        if ((await attempt(req, res, vendor, rawUrl, keyHash, outcome, { started, now, auditId, body, round, signal: gone.signal, audience })) !== 'stale') return;
      }
      // Not reached: the last round reads the key afresh and reserves without the epoch check, so it cannot be stale.
      sendError(res, STORE_DOWN(), auditId, audience);
    } finally {
      res.removeListener('close', onClose);
      if (turn && keyHash) deps.gate.leave(keyHash);
      deps.metrics.request(vendor.id, outcome.decision, outcome.code, performance.now() - started);
      deps.metrics.spent(vendor.id, outcome.micros);
    }
  };

  /**
   * A call refused before it could be decided (its body never came, its caller left, its key's queue was full):
   * it still leaves its audit row, with the key it named, and is answered if anyone is there to hear it.
   */
  async function refuseEarly(
    req: IncomingMessage,
    res: ServerResponse,
    vendor: VendorAdapter,
    rawUrl: string,
    keyHash: string | undefined,
    at: { auditId: string; now: number; started: number; audience: Audience },
    err: ApiError,
    outcome: Outcome,
  ): Promise<void> {
    let key: StoredKey | undefined;
    try {
      if (keyHash) key = (await keys.get(keyHash, false)).key;
      await writeAudit(db, {
        id: at.auditId,
        workspaceId: key?.workspaceId ?? DEFAULT_WORKSPACE,
        ts: at.now,
        keyId: key?.id ?? null,
        keyLabel: key?.label ?? null,
        vendor: vendor.id,
        method: (req.method ?? 'GET').toUpperCase().slice(0, 10),
        path: (rawUrl.split('?')[0] ?? '').slice(0, 1024),
        decision: 'deny',
        code: err === CLIENT_GONE ? 'client_closed' : err.code,
        message: err.message,
        estimatedMicros: 0,
        reservedMicros: 0,
        windowStart: null,
        budgetId: null,
        budgetWindow: null,
        status: err === CLIENT_GONE ? null : err.status,
        latencyMs: Math.round(performance.now() - at.started),
        runId: header(req, CORRELATION.runId, 200),
        conversationId: header(req, CORRELATION.conversationId, 200),
        userRef: header(req, CORRELATION.userRef, 200),
        idempotencyKey: header(req, 'idempotency-key', 255),
        requestBody: null,
      });
    } catch (storeErr) {
      storeTrouble.note(storeErr as Error, 'audit write failed for a refusal');
      if (err !== CLIENT_GONE) err = STORE_DOWN();
    }
    outcome.code = err === CLIENT_GONE ? 'client_closed' : err.code;
    if (err === CLIENT_GONE || res.destroyed) return;
    if (err.code === 'request_timeout') res.setHeader('connection', 'close');
    sendError(res, err, at.auditId, at.audience);
  }

  async function attempt(
    req: IncomingMessage,
    res: ServerResponse,
    vendor: VendorAdapter,
    rawUrl: string,
    keyHash: string | undefined,
    outcome: Outcome,
    { started, now, auditId, body, round, signal, audience }: Attempt,
  ): Promise<'stale' | void> {
    const elapsed = (): number => Math.round(performance.now() - started);
    let lock: ObjectLock | undefined;
    try {

      // 1. Who is calling, and what exactly are they asking for.
      let key: StoredKey | null | undefined;
      let cached = false;
      try {
        if (keyHash === undefined || keyHash === '') key = keyHash === '' ? null : undefined;
        else {
          const found = await keys.get(keyHash, round > 0);
          key = found.key ?? null;
          cached = found.cached;
        }
      } catch (err) {
        storeTrouble.note(err as Error, 'store unavailable during key lookup');
        return sendError(res, STORE_DOWN(), auditId, audience);
      }
      let request: CanonicalRequest | { error: string };
      if (body === 'too_large') request = { error: `body is larger than ${deps.maxBodyBytes} bytes` };
      else {
        try {
          request = canonicalize({ method: req.method ?? 'GET', rawUrl, headers: req.headers, body }, vendor);
        } catch (err) {
          if (!(err instanceof BodyError)) throw err;
          request = { error: err.message };
        }
      }

      // 2. Decide; a price that depends on vendor objects needs them looked up first, with the real key.
      let decision: Decision = decide({ key, vendor, request, now, pricing: deps.pricing });
      let credentials: Record<string, string> | undefined;
      let pending: ApiError | undefined;
      if (decision.kind !== 'deny' && key) {
        try {
          credentials = await deps.credentials.resolve(key.workspaceId, vendor.id);
          if (credentials === undefined || vendor.credentialFields.some((f) => !credentials?.[f])) {
            credentials = undefined;
            pending = new ApiError('vendor_not_configured', `Keybrake has no ${vendor.name} secret configured, so nothing was sent; an operator must set it (environment or PUT /vendors/${vendor.id}/credentials).`);
          }
        } catch (err) {
          storeTrouble.note(err as Error, 'vendor credentials could not be read');
          pending = new ApiError('store_unavailable', 'Keybrake cannot read its vendor credentials, so the call is refused.');
        }
      }
      // Calls on one vendor object go one at a time (across instances), from before the lookup that prices them to
      // after their settlement: a change to the object cannot slip in between.
      const onObject = decision.kind === 'lookup' || decision.kind === 'allow' ? decision : undefined;
      const objectId = onObject?.route?.object?.(onObject.request);
      if (objectId !== undefined && !pending && credentials && key) {
        const want = { workspaceId: key.workspaceId, vendor: vendor.id, objectId, holder: auditId };
        try {
          if (await lockObject(db, want, clock, deps.objectLockMs, signal)) lock = want;
          else pending = new ApiError('object_busy', `Another call on ${objectId} is in progress; Keybrake makes calls on one object one at a time. Try again in a moment.`);
        } catch (err) {
          storeTrouble.note(err as Error, 'object lock failed');
          pending = STORE_DOWN();
        }
      }
      let lookups: Lookups | undefined;
      if (decision.kind === 'lookup' && !pending && credentials && key && !('error' in request)) {
        try {
          lookups = await performLookups(deps, vendor, key.workspaceId, decision.need, credentials, request.headers);
          decision = decide({ key, vendor, request, now, pricing: deps.pricing, lookups });
        } catch (err) {
          pending = err instanceof ApiError ? err : STORE_DOWN();
        }
      }

      const allowed = decision.kind === 'allow' ? decision : undefined;
      const canonical = allowed ? allowed.request : 'error' in request ? undefined : request;
      const route = allowed?.route;
      const hasBody = canonical !== undefined && canonical.method !== 'GET' && canonical.method !== 'DELETE' && Object.keys(canonical.body).length > 0;
      // What is priced (and compared for duplicates), and what is forwarded: the same request, but for the tag a vendor
      // adapter adds so that the call can be found again if its answer is lost (Stripe: the audit id in metadata).
      const plainBody = hasBody ? encodeBody(vendor, canonical.body, route) : undefined;
      const marked = canonical && route && vendor.mark ? vendor.mark(canonical, route, auditId) : canonical;
      const forwardedBody = marked && marked !== canonical ? encodeBody(vendor, marked.body, route) : plainBody;
      const rawPath = rawUrl.split('?')[0] ?? '';
      const upstreamPath = canonical ? (vendor.rewritePath && credentials ? vendor.rewritePath(canonical.path, credentials) : canonical.path) : rawPath;
      const queryString = canonical ? encodeForm(canonical.query) : '';
      const entry: AuditEntry = {
        id: auditId,
        workspaceId: key?.workspaceId ?? DEFAULT_WORKSPACE,
        ts: now,
        keyId: key?.id ?? null,
        keyLabel: key?.label ?? null,
        vendor: vendor.id,
        method: canonical?.method ?? (req.method ?? 'GET').toUpperCase().slice(0, 10),
        path: upstreamPath.slice(0, 1024),
        decision: allowed ? 'allow' : 'deny',
        code: decision.kind === 'deny' ? decision.code : null,
        message: decision.kind === 'deny' ? decision.message : null,
        estimatedMicros: allowed?.micros ?? 0,
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
        requestBody: canonical
          ? hasBody
            ? truncate(auditedBody(deps.redactor, vendor, (marked ?? canonical).body, route, forwardedBody as string), deps.auditBodyBytes)
            : null
          : body === 'too_large' || body.length === 0
            ? null
            : truncate(maskCardNumbers(body.toString('utf8')), deps.auditBodyBytes),
      };
      const logLine = { audit_id: auditId, vendor: vendor.id, method: entry.method, path: canonical?.path ?? rawPath, key_id: entry.keyId };

      const refuse = async (err: ApiError, extra: Partial<AuditEntry> = {}): Promise<void> => {
        try {
          await writeAudit(db, { ...entry, decision: 'deny', code: err.code, message: err.message, status: err.status, latencyMs: elapsed(), ...extra });
        } catch (storeErr) {
          storeTrouble.note(storeErr as Error, 'audit write failed for a refusal');
          err = STORE_DOWN();
        }
        log.debug({ ...logLine, decision: 'deny', code: err.code, status: err.status }, 'proxy refused');
        outcome.code = err.code;
        sendError(res, err, auditId, audience);
      };

      if (decision.kind === 'deny') {
        // A revocation is final; any other refusal of a cached key is checked against the key as stored now.
        if (cached && key && key.revokedAt === null) return 'stale';
        if (body === 'too_large') res.setHeader('connection', 'close');
        const code = decision.code === 'bad_request' && body === 'too_large' ? 'body_too_large' : decision.code;
        if (code === 'per_call_cap_exceeded' && key) return refuse(perCallError(decision.message, key, limitsFor(key, now), decision.micros ?? 0, now));
        return refuse(new ApiError(code, decision.message));
      }
      if (pending) return refuse(pending);
      if (!allowed || !credentials || !key || !canonical) return refuse(new ApiError('cost_unknown', 'Keybrake could not price this call, so it is refused.'));

      // 3. Claim the dedupe window, take the rate window and reserve against every cap, with the audit row.
      const authQuery = vendor.authQuery ? new URLSearchParams(vendor.authQuery(credentials)).toString() : '';
      const fullQuery = [queryString, authQuery].filter((q) => q !== '').join('&');
      const pathAndQuery = upstreamPath + (fullQuery ? `?${fullQuery}` : '');
      const micros = allowed.micros;
      const limits = limitsFor(key, now);
      const capResetsAt = (kind: CapState['kind']): number | null => (kind === 'daily' ? limits.keyWindow.resetsAt : kind === 'budget' ? (limits.budgetWindow?.resetsAt ?? null) : null);
      const dedupeMs = key.policy.dedupe_ms ?? DEFAULT_DEDUPE_MS;
      let dedupe: DedupeClaim | undefined;
      if (route?.class === 'priced' && micros > 0 && dedupeMs > 0) {
        const accountHeaders = ['stripe-account', 'stripe-context'].map((h) => canonical.headers[h] ?? '').join('|');
        const scope = canonical.headers[CORRELATION.runId] ?? '';
  const hash = createHash('sha256').update(`${canonical.method} ${upstreamPath}?${queryString}\n${accountHeaders}\n${scope}\n${plainBody ?? ''}`).digest('hex');
        const idempotencyKey = `kb_${createHash('sha256').update(`${key.id}:${hash}:${now}`).digest('hex').slice(0, 48)}`;
        dedupe = { keyId: key.id, hash, now, cutoff: now - dedupeMs, auditId, idempotencyKey };
      }
      const reservedEntry: AuditEntry = {
        ...entry,
        windowStart: limits.keyWindow.start,
        budgetId: key.budget?.id ?? null,
        budgetWindow: limits.budgetWindow?.start ?? null,
        idempotencyKey: vendor.idempotencyHeader && dedupe ? dedupe.idempotencyKey : entry.idempotencyKey,
        reservedCaps: micros > 0 ? JSON.stringify(limits.caps.map((c) => [c.subjectId, c.windowStart])) : null,
      };
      try {
        const guard = round < 2 ? { guard: { workspaceId: key.workspaceId, epoch: key.epoch } } : {};
        const reserved = await reserveAndAudit(db, { micros, caps: limits.caps, ...(limits.rate ? { rate: limits.rate } : {}), ...(dedupe ? { dedupe } : {}), ...guard }, reservedEntry, (refusal) => {
          if (refusal.kind === 'duplicate') {
            const { status: was, audit_id: first } = refusal.original;
            if (was === RECONCILING) return { code: 'duplicate_reconciling', status: 409, message: `Identical to ${first}, whose outcome is being reconciled with ${vendor.name}: refused so that it is not charged twice.` };
            return was !== null
              ? { decision: 'allow', code: 'duplicate_replayed', status: was, message: `Identical to ${first} within the dedupe window: its response was replayed, nothing was forwarded or charged.` }
              : { code: 'duplicate_in_flight', status: 409, message: `Identical to ${first}, which is still in progress: refused so that it is not charged twice.` };
          }
          const err = refusalError(refusal, key, limits, micros, now);
          return { code: err.code, message: err.message, status: err.status };
        }, (spentAfter) => {
          // Thresholds reached by this reservation become events, written with it (each happens once, by its key).
          const states: CapState[] = limits.caps.map((cap, i) => ({ ...cap, spentMicros: spentAfter[i] ?? 0, resetsAt: capResetsAt(cap.kind) }));
          const events = thresholdEvents(key, states);
          return events.length === 0 ? undefined : async (trx) => void (await enqueue(trx, db.dialect, key.workspaceId, events, deps.webhooks, now));
        });
        if (!reserved.ok && 'stale' in reserved) return 'stale';
        if (!reserved.ok) {
          const refusal = reserved.refusal;
          if (refusal.kind === 'duplicate') {
            const original = refusal.original;
            if (original.status === RECONCILING) {
              outcome.code = 'duplicate_reconciling';
              return sendError(
                res,
                new ApiError(
                  'duplicate_reconciling',
                  `An identical call (${original.audit_id}) ended without a clear answer from ${vendor.name}, and Keybrake is asking ${vendor.name} whether it took effect. Do not retry now: once that is known, this same call gets the first one's answer, or goes through if the first never happened.`,
                  { original_audit_id: original.audit_id },
                ),
                auditId,
              );
            }
            if (original.status !== null && original.response !== null) {
              const stored = JSON.parse(deps.box.open(original.response, `dedupe:${original.audit_id}`)) as { headers: Record<string, string>; body: string };
              log.debug({ ...logLine, decision: 'allow', code: 'duplicate_replayed', original: original.audit_id }, 'duplicate replayed');
              Object.assign(outcome, { decision: 'allow', code: 'duplicate_replayed' });
              return send(res, original.status, { ...stored.headers, 'x-keybrake-audit-id': auditId, 'x-keybrake-replayed-from': original.audit_id }, replayNote(audience, Buffer.from(stored.body, 'base64'), original.audit_id), audience);
            }
            outcome.code = 'duplicate_in_flight';
            return sendError(res, new ApiError('duplicate_in_flight', `An identical call (${original.audit_id}) is still in progress; it will not be made twice. Retrying will not help.`), auditId, audience);
          }
          const err = refusalError(refusal, key, limits, micros, now);
          log.debug({ ...logLine, decision: 'deny', code: err.code, status: err.status }, 'proxy refused');
          outcome.code = err.code;
          if (refusal.kind !== 'rate') {
            const state: CapState = { ...refusal.cap, spentMicros: refusal.spentMicros, resetsAt: capResetsAt(refusal.kind) };
            await enqueue(db.knex, db.dialect, key.workspaceId, [exceededEvent(key, state, micros)], deps.webhooks, now).catch((e: Error) => log.warn({ ...logLine, err: e.message }, 'cap.exceeded event not queued'));
          }
          return sendError(res, err, auditId, audience);
        }
      } catch (err) {
        storeTrouble.note(err as Error, 'reservation or audit write failed; nothing forwarded');
        return sendError(res, new ApiError('store_unavailable', 'Keybrake cannot write its audit trail, so the call is refused (fail closed).'), auditId, audience);
      }

      // 4. Forward exactly the canonical request.
      let upstream: UpstreamResponse | undefined;
      let failure: UpstreamError | undefined;
      const outHeaders = upstreamHeaders(vendor, canonical.headers, credentials, forwardedBody === undefined ? undefined : vendor.bodyEncoding === 'form' ? 'application/x-www-form-urlencoded' : 'application/json');
      if (vendor.idempotencyHeader && dedupe) outHeaders[vendor.idempotencyHeader] = dedupe.idempotencyKey;
      try {
        upstream = await deps.upstreams.forward(vendor, { method: canonical.method, pathAndQuery, headers: outHeaders, body: forwardedBody });
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        failure = err;
      }

      // 5. Settle: a 2xx to what the vendor reports it moved, a no-effect 4xx releases, anything uncertain keeps the
      // reservation. A report above the reservation is counted at once, past the cap if need be, and flagged.
      let finalMicros = micros;
      let reconcile = false;
      const parsed = upstream ? parseJson(upstream.body) : undefined;
      const ok = upstream !== undefined && upstream.status >= 200 && upstream.status < 300;
      if (upstream) {
        if (ok) finalMicros = route?.settle?.(parsed, { ...deps.pricing, ...(lookups ? { lookups } : {}) }, micros) ?? micros;
        else if (vendor.releasesReservation(upstream.status)) finalMicros = 0;
        else reconcile = micros > 0;
      } else if (failure) {
        if (failure.mayHaveActed) reconcile = micros > 0;
        else finalMicros = 0;
      }
      const over = finalMicros > micros ? finalMicros - micros : 0;
      const note = over > 0 ? { code: 'settled_above_reservation', message: `${vendor.name} reports $${microsToUsd(finalMicros).toFixed(6)} moved, $${microsToUsd(over).toFixed(6)} more than was reserved; the difference is counted.` } : undefined;
      const status = upstream?.status ?? failure?.status ?? 502;
      const countedId = ok ? route?.countsAs?.(canonical, parsed) : undefined;
      // What the caller and the audit see: no vendor secret, and no credential field, whatever the vendor answered.
      const safe = upstream ? scrubberFor(vendor, credentials).answer(upstream.body, parsed, upstream.headers) : undefined;
      if (safe && safe.scrubbed.length > 0) {
        safe.headers['x-keybrake-scrubbed'] = safe.scrubbed.join(', ');
        log.warn({ ...logLine, scrubbed: safe.scrubbed }, 'vendor answer carried credentials; scrubbed');
      }
      const settlement = async (): Promise<void> => {
        try {
          if (dedupe && !upstream && failure && !failure.mayHaveActed) await releaseDedupe(db, key.id, dedupe.hash, auditId);
          await settle(
            db,
            {
              auditId,
              caps: limits.caps,
              reservedMicros: micros,
              finalMicros,
              now,
              ...(countedId ? { counted: { workspaceId: key.workspaceId, vendor: vendor.id, objectId: countedId } } : {}),
              ...(dedupe && reconcile
                ? { dedupe: { keyId: key.id, hash: dedupe.hash, status: RECONCILING, response: null } }
                : dedupe && upstream && safe
                  ? { dedupe: { keyId: key.id, hash: dedupe.hash, status: upstream.status, response: deps.box.seal(JSON.stringify({ headers: safe.headers, body: safe.body.toString('base64') }), `dedupe:${auditId}`) } }
                  : {}),
            },
            {
              status,
              upstreamStatus: upstream?.status ?? null,
              latencyMs: elapsed(),
              settledMicros: reconcile ? null : finalMicros,
              objectId: upstream ? (vendor.objectId(parsed) ?? null) : null,
              upstreamRequestId: (upstream?.headers['request-id'] ?? upstream?.headers['twilio-request-id'])?.slice(0, 255) ?? null,
              responseBody: safe ? deps.redactor.responseBody(safe.body, safe.parsed, deps.auditBodyBytes) : null,
              reconcile,
              ...(failure ? { failure: { code: failure.code, message: failure.message } } : note ? { failure: note } : {}),
            },
          );
          if (over > 0) await exceeded(key, limits, finalMicros, now);
          if (reconcile) await markPending(db, auditId, now + deps.reconcileDelayMs, `${failure ? failure.message : `${vendor.name} answered ${status}`}; the reservation stands until ${vendor.name} is asked what happened`);
        } catch (err) {
          // The reservation stands (over-counting, never under-counting) and the settlement is tried again; if the
          // process stops first, the reconciler finds the row unsettled.
          storeTrouble.note(err as Error, 'settlement failed; reservation kept, retrying');
          retry(settlement);
        }
      };
      // A settlement that changes spend or completes a dedupe claim is committed before the answer (the next call,
      // or a retry, must see it). One that only completes the audit row runs after the answer, off the response
      // path: the reservation and the audit row were committed before forwarding, so a crash in between leaves the
      // call counted at its estimate (never under-counted) and its row marked as not settled.
      if (dedupe || lock || finalMicros !== micros) await settlement();
      else settleLater(db, settlement);
      if (log.isLevelEnabled('debug')) log.debug({ ...logLine, decision: 'allow', status, estimated_usd: microsToUsd(micros), final_usd: microsToUsd(finalMicros), latency_ms: elapsed() }, 'proxied');
      Object.assign(outcome, { decision: 'allow', code: failure?.code ?? null, micros: finalMicros });
      if (failure) return sendError(res, failure, auditId, audience);
      const up = upstream as UpstreamResponse;
      const answer = safe ?? up;
      send(res, up.status, { ...answer.headers, 'x-keybrake-audit-id': auditId }, answer.body, audience);
    } finally {
      if (lock) {
        const held = lock;
        await unlock(db, held).catch((err: Error) => log.warn({ err: err.message, object_id: held.objectId }, 'object lock not released; it expires'));
      }
    }
  }
}
