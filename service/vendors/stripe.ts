// Stripe (https://docs.stripe.com/api): form-encoded v1 bodies, bearer secret key, amounts in minor units.
import { pattern } from '../policy/endpoints';
import { minorToMicroUsd } from './currency';
import type { CanonicalRequest, JsonValue, PriceResult, PricingContext, VendorAdapter, VendorRoute } from './types';

const AMOUNT = /^(0|[1-9]\d{0,11})$/;
const CURRENCY = /^[A-Za-z]{3}$/;

/** Prices `amount` + `currency` (minor units) from a request body. */
export function priceAmount(amount: JsonValue | undefined, currency: JsonValue | undefined, ctx: PricingContext): PriceResult {
  if (typeof amount !== 'string' || !AMOUNT.test(amount)) {
    return { kind: 'unknown', reason: 'amount must be a whole number in the currency\'s smallest unit (e.g. 2000 for $20.00)' };
  }
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) {
    return { kind: 'unknown', reason: 'currency must be a three-letter ISO code such as usd' };
  }
  const micros = minorToMicroUsd(Number(amount), currency, ctx.fx, true);
  if (micros === undefined) {
    return { kind: 'unknown', reason: `no exchange rate for currency ${currency.toLowerCase()}; add it to the fx table in KEYBRAKE_CONFIG` };
  }
  return { kind: 'priced', micros, basis: `${amount} ${currency.toLowerCase()} (minor units)` };
}

function settleAmount(response: unknown, ctx: PricingContext): number | undefined {
  if (typeof response !== 'object' || response === null) return undefined;
  const { amount, currency } = response as { amount?: unknown; currency?: unknown };
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0 || typeof currency !== 'string') return undefined;
  return minorToMicroUsd(amount, currency, ctx.fx, false);
}

const priceFromBody = (req: CanonicalRequest, ctx: PricingContext): PriceResult => priceAmount(req.body.amount, req.body.currency, ctx);
const countsResponse = (_req: CanonicalRequest, response: unknown): string | undefined => {
  const id = (response as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : undefined;
};
const countsPathId = (req: CanonicalRequest): string | undefined => req.segments[2];

type StripeObject = Record<string, unknown>;

/** A looked-up object, or why it could not be had. */
function looked(ctx: PricingContext, path: string): StripeObject | string {
  const r = ctx.lookups?.objects[path];
  if (!r) return `${path} was not looked up`;
  if (!r.ok) return `looking up ${path} with the real key answered ${r.status}`;
  return typeof r.body === 'object' && r.body !== null ? (r.body as StripeObject) : `${path} did not answer with an object`;
}

const minor = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : typeof v === 'string' && AMOUNT.test(v) ? Number(v) : undefined);

/**
 * Prices `amount` of an object's currency, less what Keybrake already counted for that object (a payment intent
 * created through Keybrake and confirmed later is counted once).
 */
function priceAgainstObject(amount: unknown, object: StripeObject, objectId: string, ctx: PricingContext): PriceResult {
  const value = minor(amount);
  const currency = object.currency;
  if (value === undefined) return { kind: 'unknown', reason: 'the amount must be a whole number in the smallest currency unit' };
  const priced = priceAmount(String(value), typeof currency === 'string' ? currency : undefined, ctx);
  if (priced.kind !== 'priced') return priced;
  const counted = ctx.lookups?.counted[objectId] ?? 0;
  const micros = Math.max(0, priced.micros - counted);
  if (micros === 0) return { kind: 'free' };
  return { kind: 'priced', micros, basis: `${priced.basis}${counted > 0 ? `, less $${(counted / 1e6).toFixed(2)} already counted` : ''}` };
}

/** Routes that act on one object named in the path: look it up, then price an amount of it. */
function onObject(source: string, collection: string, amountOf: (req: CanonicalRequest, obj: StripeObject) => unknown): VendorRoute {
  const path = (req: CanonicalRequest): string => `/v1/${collection}/${req.segments[2] ?? ''}`;
  return {
    method: 'POST',
    pattern: pattern(source),
    moneyMoving: true,
    lookup: (req) => ({ paths: [path(req)], counted: [req.segments[2] ?? ''] }),
    price(req, ctx) {
      const obj = looked(ctx, path(req));
      if (typeof obj === 'string') return { kind: 'unknown', reason: obj };
      return priceAgainstObject(amountOf(req, obj), obj, req.segments[2] ?? '', ctx);
    },
    countsAs: countsPathId,
  };
}

const refundable = (obj: StripeObject): unknown => {
  const amount = minor(obj.object === 'payment_intent' ? (obj.amount_received ?? obj.amount) : obj.amount);
  const refunded = minor(obj.amount_refunded) ?? 0;
  return amount === undefined ? undefined : Math.max(0, amount - refunded);
};

function refundTarget(req: CanonicalRequest): string | undefined {
  const { charge, payment_intent: pi } = req.body;
  if (typeof charge === 'string' && /^[A-Za-z0-9_]+$/.test(charge)) return `/v1/charges/${charge}`;
  if (typeof pi === 'string' && /^[A-Za-z0-9_]+$/.test(pi)) return `/v1/payment_intents/${pi}`;
  return undefined;
}

const priceIds = (req: CanonicalRequest): string[] => {
  const items = req.body.line_items;
  if (!Array.isArray(items)) return [];
  return items.map((i) => (i as StripeObject | null)?.price).filter((p): p is string => typeof p === 'string' && /^[A-Za-z0-9_]+$/.test(p));
};

/** A checkout session's total: each line item's unit amount (inline price_data, or a looked-up price) × quantity. */
function priceCheckout(req: CanonicalRequest, ctx: PricingContext): PriceResult {
  if (req.body.mode === 'setup') return { kind: 'free' };
  const items = req.body.line_items;
  if (!Array.isArray(items) || items.length === 0) return { kind: 'unknown', reason: 'a checkout session needs line_items to be priced' };
  let total = 0;
  let currency: string | undefined;
  for (const raw of items) {
    const item = (raw ?? {}) as StripeObject;
    const quantity = item.quantity === undefined ? 1 : minor(item.quantity);
    if (quantity === undefined) return { kind: 'unknown', reason: 'line_items quantity must be a whole number' };
    let unit: number | undefined;
    let cur: unknown;
    if (typeof item.price === 'string') {
      const price = looked(ctx, `/v1/prices/${item.price}`);
      if (typeof price === 'string') return { kind: 'unknown', reason: price };
      unit = minor(price.unit_amount);
      cur = price.currency;
      if (unit === undefined) return { kind: 'unknown', reason: `price ${item.price} has no fixed unit_amount (tiered or customer-chosen)` };
    } else {
      const data = (item.price_data ?? {}) as StripeObject;
      unit = minor(data.unit_amount);
      cur = data.currency;
      if (unit === undefined) return { kind: 'unknown', reason: 'each line item needs a price or price_data[unit_amount]' };
    }
    if (typeof cur !== 'string' || (currency !== undefined && cur.toLowerCase() !== currency)) return { kind: 'unknown', reason: 'line items must share one currency' };
    currency = cur.toLowerCase();
    total += unit * quantity;
  }
  return priceAmount(String(total), currency, ctx);
}

function settleField(field: string) {
  return (response: unknown, ctx: PricingContext): number | undefined => {
    const r = response as StripeObject | null;
    const value = minor(r?.[field]);
    return value === undefined || typeof r?.currency !== 'string' ? undefined : minorToMicroUsd(value, r.currency, ctx.fx, false);
  };
}

// Calls that move money but that this adapter does not price: refused with cost_unknown (fail closed).
// From the spec's money-moving operations (shared/docs/vendors.md, "Which endpoints move or cost money").
const UNPRICED_MONEY_MOVING = [
  'POST /v1/application_fees/{id}/refunds',
  'POST /v1/transfers/{id}/reversals',
  'POST /v1/credit_notes',
  'POST /v1/treasury/outbound_payments',
  'POST /v1/treasury/outbound_transfers',
  'POST /v1/treasury/inbound_transfers',
  'POST /v1/issuing/authorizations/{id}/approve',
  'POST /v1/invoices',
  'POST /v1/invoices/{id}/finalize',
  'POST /v1/invoices/{id}/send',
  'POST /v1/invoiceitems',
  'POST /v1/subscriptions',
  'POST /v1/subscriptions/{id}',
  'POST /v1/subscription_items',
  'POST /v1/subscription_schedules',
  'POST /v1/payment_links',
  'POST /v1/quotes/{id}/accept',
  'POST /v1/customers/{id}/balance_transactions',
  // API v2 has its own money movement (JSON bodies); nothing there is priced yet.
  'POST /v2/**',
];

const routes: VendorRoute[] = [
  // A payment intent is counted when created (even before it is confirmed: an upper bound), and once only.
  { method: 'POST', pattern: pattern('POST /v1/payment_intents'), moneyMoving: true, price: priceFromBody, settle: settleAmount, countsAs: countsResponse },
  onObject('POST /v1/payment_intents/{id}/confirm', 'payment_intents', (_req, pi) => pi.amount),
  onObject('POST /v1/payment_intents/{id}/capture', 'payment_intents', (req, pi) => req.body.amount_to_capture ?? pi.amount_capturable ?? pi.amount),
  onObject('POST /v1/payment_intents/{id}/increment_authorization', 'payment_intents', (req) => req.body.amount),
  { method: 'POST', pattern: pattern('POST /v1/charges'), moneyMoving: true, price: priceFromBody, settle: settleAmount, countsAs: countsResponse },
  onObject('POST /v1/charges/{id}/capture', 'charges', (req, ch) => req.body.amount ?? ch.amount),
  {
    method: 'POST',
    pattern: pattern('POST /v1/refunds'),
    moneyMoving: true,
    lookup: (req) => ({ paths: [refundTarget(req)].filter((p): p is string => p !== undefined), counted: [] }),
    price(req, ctx) {
      const target = refundTarget(req);
      if (!target) return { kind: 'unknown', reason: 'a refund names a charge or a payment_intent' };
      const obj = looked(ctx, target);
      if (typeof obj === 'string') return { kind: 'unknown', reason: obj };
      return priceAgainstObject(req.body.amount ?? refundable(obj), obj, '', ctx);
    },
    settle: settleAmount,
  },
  { ...onObject('POST /v1/charges/{id}/refunds', 'charges', (req, ch) => req.body.amount ?? refundable(ch)), countsAs: undefined, settle: settleAmount },
  { ...onObject('POST /v1/charges/{id}/refund', 'charges', (req, ch) => req.body.amount ?? refundable(ch)), countsAs: undefined },
  { method: 'POST', pattern: pattern('POST /v1/transfers'), moneyMoving: true, price: priceFromBody, settle: settleAmount },
  { method: 'POST', pattern: pattern('POST /v1/payouts'), moneyMoving: true, price: priceFromBody, settle: settleAmount },
  { method: 'POST', pattern: pattern('POST /v1/topups'), moneyMoving: true, price: priceFromBody, settle: settleAmount },
  { ...onObject('POST /v1/invoices/{id}/pay', 'invoices', (_req, inv) => inv.amount_remaining), countsAs: undefined, settle: settleField('amount_paid') },
  {
    method: 'POST',
    pattern: pattern('POST /v1/checkout/sessions'),
    moneyMoving: true,
    lookup: (req) => ({ paths: priceIds(req).map((id) => `/v1/prices/${id}`), counted: [] }),
    price: priceCheckout,
    settle: settleField('amount_total'),
  },
  ...UNPRICED_MONEY_MOVING.map((source) => ({ method: 'POST', pattern: pattern(source), moneyMoving: true })),
];

export const stripe: VendorAdapter = {
  id: 'stripe',
  name: 'Stripe',
  baseUrl: 'https://api.stripe.com',
  credentialFields: ['secret_key'],
  injectAuth(headers, credentials) {
    headers.authorization = `Bearer ${credentials.secret_key ?? ''}`;
  },
  bodyEncoding: 'form',
  requestHeaders: ['accept', 'idempotency-key', 'stripe-version', 'stripe-account', 'stripe-context', 'user-agent', 'x-stripe-client-user-agent'],
  responseHeaders: ['request-id', 'idempotency-key', 'idempotent-replayed', 'original-request', 'stripe-version', 'stripe-should-retry', 'retry-after'],
  queryOnWrite: false,
  idempotencyHeader: 'idempotency-key',
  routes,
  fieldTypes: {
    amount: 'number', amount_to_capture: 'number', application_fee_amount: 'number', quantity: 'number',
    currency: 'string', customer: 'string', description: 'string', payment_method: 'string', source: 'string',
    receipt_email: 'string', statement_descriptor: 'string', destination: 'string', on_behalf_of: 'string',
    capture_method: 'string', confirmation_method: 'string', setup_future_usage: 'string',
    confirm: 'boolean', off_session: 'boolean', capture: 'boolean',
  },
  checkHeaders(req, policy) {
    // Connect: the same call acts on another account's balance (https://docs.stripe.com/connect/authentication).
    for (const header of ['stripe-account', 'stripe-context']) {
      const value = req.headers[header];
      if (value === undefined) continue;
      const allowed = policy.stripe_accounts ?? [];
      if (!allowed.includes(value)) {
        return `${header} ${value.slice(0, 40)} is not in this key's stripe_accounts`;
      }
    }
    return undefined;
  },
  // Stripe: 4xx means the request failed without effect (https://docs.stripe.com/api/errors); 5xx may have acted.
  releasesReservation: (status) => status >= 400 && status < 500,
  objectId(response) {
    if (typeof response !== 'object' || response === null) return undefined;
    const id = (response as { id?: unknown }).id;
    return typeof id === 'string' ? id.slice(0, 255) : undefined;
  },
};
