// Finding out what became of a Stripe call whose answer was lost, with GETs only. Every money-moving create carries
// `metadata[keybrake_audit_id]` (metadata changes no price, https://docs.stripe.com/api/metadata), so the object it
// made is found by listing its collection around the call's time; a call that acts on an existing object (confirm,
// capture, pay) is read back from the object's state.
import { parseForm } from '../form';
import type { CanonicalRequest, PricingContext, ReconcileFinding, ReconcileRow, VendorGet, VendorRoute } from '../types';
import { moved, minor, type StripeObject } from './pricing';

export const AUDIT_METADATA = 'keybrake_audit_id';

/** Creates that accept metadata, and the list that finds what they made. */
const CREATES: { pattern: RegExp; list: (m: RegExpExecArray) => string }[] = [
  { pattern: /^\/v1\/(payment_intents|charges|refunds|transfers|payouts|topups|checkout\/sessions|treasury\/outbound_payments|treasury\/outbound_transfers|treasury\/inbound_transfers)$/, list: (m) => `/v1/${m[1]}` },
  { pattern: /^\/v1\/charges\/([A-Za-z0-9_]+)\/refunds$/, list: (m) => `/v1/refunds?charge=${m[1]}` },
  { pattern: /^\/v1\/transfers\/([A-Za-z0-9_]+)\/reversals$/, list: (m) => `/v1/transfers/${m[1]}/reversals` },
  { pattern: /^\/v1\/application_fees\/([A-Za-z0-9_]+)\/refunds$/, list: (m) => `/v1/application_fees/${m[1]}/refunds` },
  { pattern: /^\/v1\/customers\/([A-Za-z0-9_]+)\/balance_transactions$/, list: (m) => `/v1/customers/${m[1]}/balance_transactions` },
];

/** Adds the audit id to the metadata of a priced create, overriding any the caller sent under that name. */
export function markStripe(req: CanonicalRequest, route: VendorRoute, auditId: string): CanonicalRequest {
  if (route.class !== 'priced' || !CREATES.some((c) => c.pattern.test(req.path))) return req;
  const metadata = req.body.metadata;
  const base = metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata) ? metadata : {};
  return { ...req, body: { ...req.body, metadata: { ...base, [AUDIT_METADATA]: auditId } } };
}

const done = (micros: number, note: string, obj?: StripeObject): ReconcileFinding => ({
  kind: 'done',
  micros,
  note,
  ...(typeof obj?.id === 'string' ? { objectId: obj.id } : {}),
  ...(obj ? { response: obj } : {}),
});

/** What a found object says was moved, in micro-USD; the reservation when it does not say. */
function amountOf(obj: StripeObject, row: ReconcileRow, ctx: PricingContext): number {
  const field = obj.object === 'checkout.session' ? undefined : obj.object === 'invoice' ? 'amount_paid' : 'amount';
  return (field ? moved(field, false)(obj, ctx) : undefined) ?? row.reservedMicros;
}

async function findCreated(list: string, row: ReconcileRow, get: VendorGet, ctx: PricingContext): Promise<ReconcileFinding> {
  const seconds = Math.floor(row.ts / 1000);
  const sep = list.includes('?') ? '&' : '?';
  let after = '';
  for (let page = 0; page < 5; page++) {
    const res = await get(`${list}${sep}created[gte]=${seconds - 60}&created[lte]=${seconds + 3600}&limit=100${after}`);
    if (res.status !== 200) return { kind: 'unknown', note: `listing ${list} answered ${res.status}` };
    const body = res.body as { data?: StripeObject[]; has_more?: boolean };
    const found = (body.data ?? []).find((o) => (o.metadata as Record<string, unknown> | undefined)?.[AUDIT_METADATA] === row.id);
    if (found) return done(amountOf(found, row, ctx), `Stripe made ${String(found.id)} for this call`, found);
    if (!body.has_more) return { kind: 'not_done', note: `no object in ${list} carries metadata ${AUDIT_METADATA}=${row.id}: Stripe never made it` };
    after = `&starting_after=${String(body.data?.[body.data.length - 1]?.id ?? '')}`;
  }
  return { kind: 'unknown', note: `more than 500 objects in ${list} around the call's time; asking again later` };
}

/** Calls on an existing object: its state says whether the call took effect. */
const ACTIONS: { pattern: RegExp; collection: string; happened: (obj: StripeObject, body: Record<string, unknown>) => boolean }[] = [
  { pattern: /^\/v1\/payment_intents\/([A-Za-z0-9_]+)\/confirm$/, collection: 'payment_intents', happened: (o) => ['succeeded', 'processing', 'requires_capture', 'requires_action'].includes(String(o.status)) },
  { pattern: /^\/v1\/payment_intents\/([A-Za-z0-9_]+)\/capture$/, collection: 'payment_intents', happened: (o) => o.status === 'succeeded' || o.status === 'processing' },
  { pattern: /^\/v1\/payment_intents\/([A-Za-z0-9_]+)\/increment_authorization$/, collection: 'payment_intents', happened: (o, b) => (minor(o.amount) ?? 0) >= (minor(b.amount) ?? Infinity) },
  { pattern: /^\/v1\/payment_intents\/([A-Za-z0-9_]+)$/, collection: 'payment_intents', happened: (o, b) => b.amount === undefined || minor(o.amount) === minor(b.amount) },
  { pattern: /^\/v1\/charges\/([A-Za-z0-9_]+)\/capture$/, collection: 'charges', happened: (o) => o.captured === true },
  { pattern: /^\/v1\/invoices\/([A-Za-z0-9_]+)\/pay$/, collection: 'invoices', happened: (o) => o.status === 'paid' },
];

export async function reconcileStripe(row: ReconcileRow, get: VendorGet, ctx: PricingContext): Promise<ReconcileFinding> {
  if (row.method !== 'POST') return { kind: 'manual', note: `${row.method} ${row.path} cannot be looked up` };
  for (const c of CREATES) {
    const m = c.pattern.exec(row.path);
    if (m) return findCreated(c.list(m), row, get, ctx);
  }
  for (const a of ACTIONS) {
    const m = a.pattern.exec(row.path);
    if (!m) continue;
    const res = await get(`/v1/${a.collection}/${m[1] ?? ''}`);
    if (res.status !== 200) return { kind: 'unknown', note: `looking up ${m[1]} answered ${res.status}` };
    const obj = res.body as StripeObject;
    const body = row.requestBody ? (parseForm(row.requestBody) as Record<string, unknown>) : {};
    return a.happened(obj, body)
      ? done(row.reservedMicros, `${String(obj.id)} shows the call took effect (status ${String(obj.status)})`, obj)
      : { kind: 'not_done', note: `${String(obj.id)} shows the call did not take effect (status ${String(obj.status)})` };
  }
  return { kind: 'manual', note: `Stripe offers no way to look up the outcome of POST ${row.path}` };
}
