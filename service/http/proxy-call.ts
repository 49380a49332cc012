// One attempt at a proxied call, carried out (design §4): who is calling and what they ask, the decision, the
// plan (proxy/plan.ts), the reservation with the call's records, the forward, the settlement (proxy/settlement.ts)
// and the answer. Every refusal leaves the call's audit row; a store failure refuses the call (fail closed).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ApiError } from '../errors';
import { decide, type Decision } from '../policy/decide';
import { limitsFor } from '../policy/limits';
import { answerRefusal, perCallError, type RefusalAnswer } from '../policy/refusals';
import { canonicalize } from '../proxy/canonical';
import { UpstreamError, type UpstreamResponse } from '../proxy/forward';
import { approvalIdempotencyKey, planCall, planForward, planReservation } from '../proxy/plan';
import { Scrubber } from '../proxy/scrub';
import { planSettlement, type Answered } from '../proxy/settlement';
import type { StoredKey } from '../store/keys';
import { record, reserve, settle, settleLater, type ReserveResult } from '../store/ledger';
import { unlock, type ObjectLock } from '../store/object-locks';
import { microsToUsd } from '../vendors/currency';
import { BodyError } from '../vendors/form';
import type { CanonicalRequest, Lookups, VendorAdapter } from '../vendors/types';
import { replayNote, send, sendError } from './answer';
import { createApprovalGate } from './approval-gate';
import type { KeyCache } from './key-cache';
import { performLookups } from './lookups';
import { lockObject } from './object-lock';
import type { TroubleLog } from './trouble-log';
import { STORE_DOWN, type Attempt, type Outcome, type ProxyDeps } from './proxy-deps';

/** What a call can go on with: its credentials, its vendor object's lease and what lookups found, or why it cannot. */
interface Prepared {
  decision: Decision;
  credentials?: Record<string, string>;
  lock?: ObjectLock;
  lookups?: Lookups;
  pending?: ApiError;
}

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

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

export type AttemptFn = (req: IncomingMessage, res: ServerResponse, vendor: VendorAdapter, rawUrl: string, keyHash: string | undefined, outcome: Outcome, a: Attempt) => Promise<'stale' | void>;

export function createAttempt(deps: ProxyDeps, keys: KeyCache, trouble: TroubleLog): AttemptFn {
  const { db, log } = deps;
  const retry = retrier();
  const scrubbers = new WeakMap<Record<string, string>, Scrubber>();
  const approvalGate = createApprovalGate(deps, trouble);

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

  async function lookUp(keyHash: string | undefined, round: number): Promise<{ key: StoredKey | null | undefined; cached: boolean }> {
    if (keyHash === undefined || keyHash === '') return { key: keyHash === '' ? null : undefined, cached: false };
    const found = await keys.get(keyHash, round > 0);
    return { key: found.key ?? null, cached: found.cached };
  }

  function parse(req: IncomingMessage, rawUrl: string, vendor: VendorAdapter, body: Buffer | 'too_large'): CanonicalRequest | { error: string } {
    if (body === 'too_large') return { error: `body is larger than ${deps.maxBodyBytes} bytes` };
    try {
      return canonicalize({ method: req.method ?? 'GET', rawUrl, headers: req.headers, body }, vendor);
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      return { error: err.message };
    }
  }

  /** The real credentials; then the vendor object's lease and the lookups the price depends on, deciding again. */
  async function prepare(vendor: VendorAdapter, key: StoredKey | null | undefined, request: CanonicalRequest | { error: string }, decision: Decision, a: Attempt): Promise<Prepared> {
    if (decision.kind === 'deny' || !key) return { decision };
    let credentials: Record<string, string> | undefined;
    try {
      credentials = await deps.credentials.resolve(key.workspaceId, vendor.id);
    } catch (err) {
      trouble.note(err as Error, 'vendor credentials could not be read');
      return { decision, pending: new ApiError('store_unavailable', 'Keybrake cannot read its vendor credentials, so the call is refused.') };
    }
    if (credentials === undefined || vendor.credentialFields.some((f) => !credentials?.[f])) {
      const why = `Keybrake has no ${vendor.name} secret configured, so nothing was sent; an operator must set it (environment or PUT /vendors/${vendor.id}/credentials).`;
      return { decision, pending: new ApiError('vendor_not_configured', why) };
    }
    const out: Prepared = { decision, credentials };
    // Calls on one vendor object go one at a time (across instances), from before the lookup that prices them to
    // after their settlement: a change to the object cannot slip in between.
    const objectId = decision.route?.object?.(decision.request);
    if (objectId !== undefined) {
      const want = { workspaceId: key.workspaceId, vendor: vendor.id, objectId, holder: a.auditId };
      try {
        if (!(await lockObject(db, want, deps.clock, deps.objectLockMs, a.signal))) {
          return { ...out, pending: new ApiError('object_busy', `Another call on ${objectId} is in progress; Keybrake makes calls on one object one at a time. Try again in a moment.`) };
        }
        out.lock = want;
      } catch (err) {
        trouble.note(err as Error, 'object lock failed');
        return { ...out, pending: STORE_DOWN() };
      }
    }
    if (decision.kind === 'lookup' && !('error' in request)) {
      try {
        out.lookups = await performLookups(deps, vendor, key.workspaceId, decision.need, credentials, request.headers);
        out.decision = decide({ key, vendor, request, now: a.now, pricing: deps.pricing, lookups: out.lookups });
      } catch (err) {
        out.pending = err instanceof ApiError ? err : STORE_DOWN();
      }
    }
    return out;
  }

  /** Forwards, and makes the answer safe to show: no vendor secret, and no credential field, whatever the vendor said. */
  async function forward(vendor: VendorAdapter, fwd: ReturnType<typeof planForward>, credentials: Record<string, string>, logLine: object): Promise<Answered> {
    let upstream: UpstreamResponse | undefined;
    let failure: UpstreamError | undefined;
    try {
      upstream = await deps.upstreams.forward(vendor, fwd);
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      failure = err;
    }
    const parsed = upstream ? parseJson(upstream.body) : undefined;
    const safe = upstream ? scrubberFor(vendor, credentials).answer(upstream.body, parsed, upstream.headers) : undefined;
    if (safe && safe.scrubbed.length > 0) {
      safe.headers['x-keybrake-scrubbed'] = safe.scrubbed.join(', ');
      log.warn({ ...logLine, scrubbed: safe.scrubbed }, 'vendor answer carried credentials; scrubbed');
    }
    return { upstream, failure, parsed, safe };
  }

  /** The answer to a refused reservation: an error, or an identical call's answer replayed. */
  function answerRefused(res: ServerResponse, answer: RefusalAnswer, a: Attempt, outcome: Outcome, logLine: object): void {
    if ('replay' in answer) {
      const { auditId: first, status, response } = answer.replay;
      const stored = JSON.parse(deps.box.open(response, `dedupe:${first}`)) as { headers: Record<string, string>; body: string };
      log.debug({ ...logLine, decision: 'allow', code: 'duplicate_replayed', original: first }, 'duplicate replayed');
      Object.assign(outcome, { decision: 'allow', code: 'duplicate_replayed' });
      return send(res, status, { ...stored.headers, 'x-keybrake-audit-id': a.auditId, 'x-keybrake-replayed-from': first }, replayNote(a.audience, Buffer.from(stored.body, 'base64'), first), a.audience);
    }
    log.debug({ ...logLine, decision: 'deny', code: answer.error.code, status: answer.error.status }, 'proxy refused');
    outcome.code = answer.error.code;
    sendError(res, answer.error, a.auditId, a.audience);
  }

  return async function attempt(req, res, vendor, rawUrl, keyHash, outcome, a) {
    const elapsed = (): number => Math.round(performance.now() - a.started);
    let lock: ObjectLock | undefined;
    try {
      // 1. Who is calling, and what exactly are they asking for.
      let found: Awaited<ReturnType<typeof lookUp>>;
      try {
        found = await lookUp(keyHash, a.round);
      } catch (err) {
        trouble.note(err as Error, 'store unavailable during key lookup');
        return sendError(res, STORE_DOWN(), a.auditId, a.audience);
      }
      const { key, cached } = found;
      const request = parse(req, rawUrl, vendor, a.body);

      // 2. Decide; a price that depends on vendor objects needs them looked up first, with the real key.
      const prep = await prepare(vendor, key, request, decide({ key, vendor, request, now: a.now, pricing: deps.pricing }), a);
      lock = prep.lock;
      const { decision, credentials } = prep;
      const incoming = { method: req.method ?? 'GET', rawUrl, headers: req.headers, body: a.body };
      const plan = planCall({ auditId: a.auditId, now: a.now, incoming, vendor, key, request, decision, credentials, redactor: deps.redactor, auditBodyBytes: deps.auditBodyBytes, origin: a.origin });
      const logLine = { audit_id: a.auditId, vendor: vendor.id, method: plan.entry.method, path: plan.entry.path, key_id: plan.entry.keyId };
      const refuse = async (err: ApiError): Promise<void> => {
        try {
          await record(db, { audit: { ...plan.entry, decision: 'deny', code: err.code, message: err.message, status: err.status, latencyMs: elapsed() } });
        } catch (storeErr) {
          trouble.note(storeErr as Error, 'audit write failed for a refusal');
          err = STORE_DOWN();
        }
        log.debug({ ...logLine, decision: 'deny', code: err.code, status: err.status }, 'proxy refused');
        outcome.code = err.code;
        sendError(res, err, a.auditId, a.audience);
      };
      if (decision.kind === 'deny') {
        // A revocation is final; any other refusal of a cached key is checked against the key as stored now.
        if (cached && key && key.revokedAt === null) return 'stale';
        if (a.body === 'too_large') res.setHeader('connection', 'close');
        const code = decision.code === 'bad_request' && a.body === 'too_large' ? 'body_too_large' : decision.code;
        if (code === 'per_call_cap_exceeded' && key) return await refuse(perCallError(decision.message, { key, limits: limitsFor(key, a.now), micros: decision.micros ?? 0, now: a.now }));
        return await refuse(new ApiError(code, decision.message));
      }
      if (prep.pending) return await refuse(prep.pending);
      const canonical = plan.canonical;
      if (decision.kind !== 'allow' || !credentials || !key || !canonical) return await refuse(new ApiError('cost_unknown', 'Keybrake could not price this call, so it is refused.'));

      // 3. Claim the dedupe window, take the rate window and reserve against every cap, with the call's records; or,
      // for a call that needs a person's approval, go on under the approval given for it (reserved when it was asked).
      let reserved = planReservation({ plan, key, vendor, micros: decision.micros, now: a.now, guarded: a.round < 2, webhooks: deps.webhooks });
      const storeFailed = (err: unknown): void => {
        trouble.note(err as Error, 'reservation or audit write failed; nothing forwarded');
        sendError(res, new ApiError('store_unavailable', 'Keybrake cannot write its audit trail, so the call is refused (fail closed).'), a.auditId, a.audience);
      };
      let gated: Awaited<ReturnType<typeof approvalGate>>;
      try {
        gated = await approvalGate({ req, res, vendor, key, plan, canonical, micros: decision.micros, basis: decision.basis, reserved, a, outcome, elapsed, cached: cached && a.round === 0 });
      } catch (err) {
        return storeFailed(err);
      }
      if (gated === 'answered') return;
      if (gated === 'stale') return 'stale';
      if (gated && 'refused' in gated) return answerRefused(res, answerRefusal(gated.refused, reserved.refusalContext), a, outcome, logLine);
      if (gated) reserved = gated.reserved;
      else {
        let result: ReserveResult;
        try {
          result = await reserve(db, reserved.reservation);
        } catch (err) {
          return storeFailed(err);
        }
        if (!result.ok) return 'stale' in result ? 'stale' : answerRefused(res, answerRefusal(result.refusal, reserved.refusalContext), a, outcome, logLine);
      }
      // Sent under an approval, the call carries the approval's idempotency key: the vendor acts on it once.
      const idempotencyKey = gated ? approvalIdempotencyKey(gated.approval.id) : reserved.dedupe?.idempotencyKey;

      // 4. Forward exactly the canonical request.
      const answered = await forward(vendor, planForward(plan, canonical, vendor, credentials, idempotencyKey), credentials, logLine);

      // 5. Settle. A settlement the next call must see (spend moved, a dedupe claim completed, an object's lease held)
      // is committed before the answer; one that only completes the audit row runs after it, off the response path:
      // the reservation was committed before forwarding, so a crash in between never under-counts.
      const settled = planSettlement({ plan, reserved, key, vendor, answered, lookups: prep.lookups, now: a.now, latencyMs: elapsed(), ctx: deps });
      const settlement = async (): Promise<void> => {
        try {
          await settle(db, settled.settlement);
        } catch (err) {
          // The reservation stands (over-counting, never under-counting) and the settlement is tried again; if the
          // process stops first, the reconciler finds the row unsettled.
          trouble.note(err as Error, 'settlement failed; reservation kept, retrying');
          retry(settlement);
        }
      };
      if (settled.beforeAnswer || lock) await settlement();
      else settleLater(db, settlement);

      // 6. Answer.
      const { micros } = reserved;
      if (log.isLevelEnabled('debug')) log.debug({ ...logLine, decision: 'allow', status: settled.status, estimated_usd: microsToUsd(micros), final_usd: microsToUsd(settled.finalMicros), latency_ms: elapsed() }, 'proxied');
      Object.assign(outcome, { decision: 'allow', code: answered.failure?.code ?? null, micros: settled.finalMicros });
      if (answered.failure) return sendError(res, answered.failure, a.auditId, a.audience);
      const answer = answered.safe ?? (answered.upstream as UpstreamResponse);
      send(res, (answered.upstream as UpstreamResponse).status, { ...answer.headers, 'x-keybrake-audit-id': a.auditId }, answer.body, a.audience);
    } finally {
      if (lock) {
        const held = lock;
        await unlock(db, held).catch((err: Error) => log.warn({ err: err.message, object_id: held.objectId }, 'object lock not released; it expires'));
      }
    }
  };
}
