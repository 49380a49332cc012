// The one pure decision (design §5). Checks run in this fixed order:
//   key known → not revoked → not expired → vendor → request well-formed → endpoint allowlist
//   → the operation's class (credential operations for no key; unknown or unboundable writes refused)
//   → parameter rules (vendor headers, then the key's field rules) → price → per-call cap.
// Rate limits and the daily cap are decided after this, atomically in the database (store/ledger.ts).
import type { ErrorCode } from '../errors';
import type { CanonicalRequest, LookupNeed, Lookups, PricingContext, VendorAdapter, VendorRoute } from '../vendors/types';
import { findRoute, isWrite } from '../vendors/classify';
import { matchEndpoint } from '../vendors/endpoints';
import type { KeyRecord } from './keys';
import { checkField } from './params';

export type Decision =
  | { kind: 'allow'; micros: number; route: VendorRoute | undefined; basis: string; request: CanonicalRequest }
  | { kind: 'deny'; code: ErrorCode; message: string; micros?: number }
  /** The price depends on vendor objects: look them up with the real key, then decide again with `lookups`. */
  | { kind: 'lookup'; need: LookupNeed; route: VendorRoute; request: CanonicalRequest };

export interface DecideInput {
  /** undefined: no key was presented; null: a key was presented but is unknown. */
  key: KeyRecord | null | undefined;
  vendor: VendorAdapter;
  /** The canonical request, or the reason it could not be parsed. */
  request: CanonicalRequest | { error: string };
  now: number;
  pricing: PricingContext;
  lookups?: Lookups;
}

const deny = (code: ErrorCode, message: string): Decision => ({ kind: 'deny', code, message });

/** A write's query string is refused unless its route lists the parameters; the secret's own parameter never passes. */
function checkQuery(vendor: VendorAdapter, route: VendorRoute | undefined, req: CanonicalRequest): string | undefined {
  const names = Object.keys(req.query);
  if (names.length === 0) return undefined;
  if (vendor.authQueryParam !== undefined && names.includes(vendor.authQueryParam)) return `${vendor.authQueryParam} is where Keybrake puts ${vendor.name}'s secret; do not send it`;
  if (req.method === 'GET' || vendor.queryOnWrite) return undefined;
  const extra = names.find((n) => !(route?.query ?? []).includes(n));
  return extra === undefined ? undefined : `query parameters are not accepted on ${req.method} for ${vendor.name}${route?.query ? ` here (only ${route.query.join(', ')})` : ''}: send them in the body`;
}

export type KeyCheck = { ok: true; key: KeyRecord } | { ok: false; code: ErrorCode; message: string };

/** The first checks, on the key alone: known, not revoked, not expired. Also what GET /vault/whoami answers. */
export function checkKey(key: KeyRecord | null | undefined, now: number): KeyCheck {
  if (key === undefined) return { ok: false, code: 'vault_key_missing', message: 'No vault key: send it as Authorization: Bearer vault_key_…' };
  if (key === null) return { ok: false, code: 'vault_key_invalid', message: 'This vault key is not known to Keybrake.' };
  if (key.revokedAt !== null) return { ok: false, code: 'vault_key_revoked', message: 'This vault key has been revoked; ask for a new one. Retrying will not help.' };
  if (key.expiresAt !== null && key.expiresAt <= now) {
    return { ok: false, code: 'vault_key_expired', message: `This vault key expired at ${new Date(key.expiresAt).toISOString()}; ask for a new one.` };
  }
  return { ok: true, key };
}

export function decide(input: DecideInput): Decision {
  const { vendor, request, now } = input;
  const checked = checkKey(input.key, now);
  if (!checked.ok) return deny(checked.code, checked.message);
  const key = checked.key;
  if (key.vendor !== vendor.id) return deny('vendor_not_allowed', `This vault key is for ${key.vendor}, not ${vendor.id}.`);
  if ('error' in request) return deny('bad_request', `Request refused: ${request.error}.`);

  const allowed = key.allowedEndpoints.some((p) => matchEndpoint(p, request.method, request.segments) === 'exact');
  if (!allowed) {
    return deny(
      'endpoint_not_allowed',
      `${request.method} ${request.path} is not in this key's allowed endpoints (${key.allowedEndpoints.map((p) => p.source).join(', ') || 'none'}).`,
    );
  }
  const found = findRoute(vendor, request);
  if ('caseMismatch' in found) return deny('bad_request', `Request refused: ${found.caseMismatch}.`);
  const route = found.route;
  if (route?.class === 'credential') {
    return deny('endpoint_not_allowed', `${request.method} ${request.path} ${route.reason}: no vault key may call it, whatever its allowed endpoints say. Retrying will not help.`);
  }
  const reveals = vendor.revealsCredential?.(request);
  if (reveals !== undefined) return deny('endpoint_not_allowed', `Request refused: ${reveals}; no vault key may ask for it. Retrying will not help.`);
  const queryProblem = checkQuery(vendor, route, request);
  if (queryProblem !== undefined) return deny('bad_request', `Request refused: ${queryProblem}.`);
  if (route === undefined && isWrite(request.method)) {
    return deny('cost_unknown', `${request.method} ${request.path} is not an operation Keybrake knows for ${vendor.name}, so it cannot say what it costs and refuses it. Retrying will not help.`);
  }
  if (route?.class === 'refused') {
    return deny('cost_unknown', `${request.method} ${request.path} is refused: it ${route.reason}. Retrying will not help.`);
  }
  let req: CanonicalRequest = request;
  if (route?.prepare) {
    const prepared = route.prepare(request, key.policy, input.pricing);
    if (typeof prepared === 'string') return deny('bad_request', `Request refused: ${prepared}.`);
    req = prepared;
  }

  const headerProblem = vendor.checkHeaders?.(req, key.policy);
  if (headerProblem !== undefined) return deny('parameter_not_allowed', `Request refused: ${headerProblem}.`);
  const fields = req.method === 'GET' || req.method === 'DELETE' ? req.query : req.body;
  for (const rules of key.paramRules) {
    if (matchEndpoint(rules.pattern, req.method, req.segments) !== 'exact') continue;
    for (const [name, rule] of Object.entries(rules.fields)) {
      const problem = checkField(name, rule, fields);
      if (problem !== undefined) {
        return deny('parameter_not_allowed', `Request refused by this key's rule for ${rules.pattern.source}: ${problem}. Retrying will not help.`);
      }
    }
  }

  const free = { kind: 'allow', micros: 0, route, basis: 'no charge', request: req } as const;
  if (!route?.price) return free;
  if (route.lookup && !input.lookups) return { kind: 'lookup', need: route.lookup(req), route, request: req };
  const price = route.price(req, input.lookups ? { ...input.pricing, lookups: input.lookups } : input.pricing, key.policy);
  if (price.kind === 'unknown') {
    return deny('cost_unknown', `Keybrake cannot price this ${vendor.name} call, so it is refused: ${price.reason}. Retrying will not help.`);
  }
  if (price.kind === 'free') return free;
  const perCall = key.policy.max_per_call_micros;
  if (perCall !== undefined && price.micros > perCall) {
    return {
      kind: 'deny',
      code: 'per_call_cap_exceeded',
      message: `Spending cap reached: this call would cost $${(price.micros / 1e6).toFixed(2)}, more than this vault key's limit of $${(perCall / 1e6).toFixed(2)} per call. Retrying will not help.`,
      micros: price.micros,
    };
  }
  return { kind: 'allow', micros: price.micros, route, basis: price.basis, request: req };
}
