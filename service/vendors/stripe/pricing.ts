// How Stripe calls are priced before they are forwarded, and settled from Stripe's answer. Amounts are integers
// in the currency's smallest unit (https://docs.stripe.com/currencies); estimates round up to the micro-dollar.
import { pattern } from '../endpoints';
import { minorToMicroUsd } from '../currency';
import type { CanonicalRequest, JsonValue, LookupNeed, PriceResult, PricingContext, VendorRoute } from '../types';

const AMOUNT = /^(0|[1-9]\d{0,11})$/;
const CURRENCY = /^[A-Za-z]{3}$/;
const ID = /^[A-Za-z0-9_]+$/;

export type StripeObject = Record<string, unknown>;

const unknown = (reason: string): PriceResult => ({ kind: 'unknown', reason });

/** A whole number of minor units, from a form field (a string) or a looked-up object (a number). */
export const minor = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : typeof v === 'string' && AMOUNT.test(v) ? Number(v) : undefined;

/** Prices `amount` + `currency` (minor units). */
export function priceAmount(amount: JsonValue | undefined, currency: unknown, ctx: PricingContext): PriceResult {
  if (typeof amount !== 'string' || !AMOUNT.test(amount)) {
    return unknown('amount must be a whole number in the currency\'s smallest unit (e.g. 2000 for $20.00)');
  }
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) return unknown('currency must be a three-letter ISO code such as usd');
  const micros = minorToMicroUsd(Number(amount), currency, ctx.fx, true);
  if (micros === undefined) return unknown(`no exchange rate for currency ${currency.toLowerCase()}; add it to the fx table in KEYBRAKE_CONFIG`);
  return { kind: 'priced', micros, basis: `${amount} ${currency.toLowerCase()} (minor units)` };
}

export const priceFromBody = (req: CanonicalRequest, ctx: PricingContext): PriceResult => priceAmount(req.body.amount, req.body.currency, ctx);

/** A looked-up object, or why it could not be had. */
export function looked(ctx: PricingContext, path: string): StripeObject | string {
  const r = ctx.lookups?.objects[path];
  if (!r) return `${path} was not looked up`;
  if (!r.ok) return `looking up ${path} with the real key answered ${r.status}`;
  return typeof r.body === 'object' && r.body !== null ? (r.body as StripeObject) : `${path} did not answer with an object`;
}

/**
 * Prices `amount` of a currency, less what Keybrake already counted for the object (a payment intent created
 * through Keybrake and confirmed later is counted once).
 */
export function priceAgainstObject(amount: unknown, currency: unknown, objectId: string, ctx: PricingContext): PriceResult {
  const value = minor(amount);
  if (value === undefined) return unknown('the amount must be a whole number in the smallest currency unit');
  const priced = priceAmount(String(value), currency, ctx);
  if (priced.kind !== 'priced') return priced;
  const counted = objectId === '' ? 0 : (ctx.lookups?.counted[objectId] ?? 0);
  const micros = Math.max(0, priced.micros - counted);
  if (micros === 0) return { kind: 'free' };
  return { kind: 'priced', micros, basis: `${priced.basis}${counted > 0 ? `, less $${(counted / 1e6).toFixed(2)} already counted` : ''}` };
}

/**
 * What a 2xx answer says the call moved: `field` of the answer, in the answer's currency, less (for calls counted
 * per object) what Keybrake had already counted for that object when it priced the call.
 */
export function moved(field: string, lessCounted: boolean) {
  return (response: unknown, ctx: PricingContext): number | undefined => {
    const r = response as StripeObject | null;
    const value = minor(r?.[field]);
    if (value === undefined || typeof r?.currency !== 'string') return undefined;
    const micros = minorToMicroUsd(value, r.currency, ctx.fx, false);
    if (micros === undefined) return undefined;
    const counted = lessCounted && typeof r.id === 'string' ? (ctx.lookups?.counted[r.id] ?? 0) : 0;
    return Math.max(0, micros - counted);
  };
}

export const countsResponse = (_req: CanonicalRequest, response: unknown): string | undefined => {
  const id = (response as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : undefined;
};

const pathId = (req: CanonicalRequest): string | undefined => req.segments[2];

/**
 * A priced route on one object named in the path: the object is looked up with the real key, and the amount the
 * call moves (`amountOf`) is priced in the object's currency, less what was already counted for it.
 */
export function onObject(
  source: string,
  collection: string,
  rule: string,
  amountOf: (req: CanonicalRequest, obj: StripeObject) => unknown,
  opts: { counted?: boolean; settleField?: string } = {},
): VendorRoute {
  const counted = opts.counted ?? true;
  const path = (req: CanonicalRequest): string => `/v1/${collection}/${req.segments[2] ?? ''}`;
  return {
    method: 'POST',
    pattern: pattern(source),
    class: 'priced',
    reason: rule,
    lookup: (req) => ({ paths: [path(req)], counted: counted ? [req.segments[2] ?? ''] : [] }),
    price(req, ctx) {
      const obj = looked(ctx, path(req));
      if (typeof obj === 'string') return unknown(obj);
      return priceAgainstObject(amountOf(req, obj), obj.currency, counted ? (req.segments[2] ?? '') : '', ctx);
    },
    ...(counted ? { countsAs: (req: CanonicalRequest) => pathId(req) } : {}),
    ...(opts.settleField ? { settle: moved(opts.settleField, counted) } : {}),
    object: (req) => `${collection}/${req.segments[2] ?? ''}`,
  };
}

/** What can still be refunded of a charge or payment intent. */
export const refundable = (obj: StripeObject): number | undefined => {
  const amount = minor(obj.object === 'payment_intent' ? (obj.amount_received ?? obj.amount) : obj.amount);
  const refunded = minor(obj.amount_refunded) ?? 0;
  return amount === undefined ? undefined : Math.max(0, amount - refunded);
};

/** The charge or payment intent a refund (or a reader's refund_payment) names in its body. */
export function refundTarget(req: CanonicalRequest): string | undefined {
  const { charge, payment_intent: pi } = req.body;
  if (typeof charge === 'string' && ID.test(charge)) return `/v1/charges/${charge}`;
  if (typeof pi === 'string' && ID.test(pi)) return `/v1/payment_intents/${pi}`;
  return undefined;
}

/** A refund named in the body: its amount, or everything still refundable of the charge or payment intent. */
export function refundRoute(source: string, settles: boolean): VendorRoute {
  return {
    method: 'POST',
    pattern: pattern(source),
    class: 'priced',
    reason: '`amount`, or all that is still refundable of the named charge or payment intent (looked up)',
    lookup: (req) => ({ paths: [refundTarget(req)].filter((p): p is string => p !== undefined), counted: [] }),
    price(req, ctx) {
      const target = refundTarget(req);
      if (!target) return unknown('a refund names a charge or a payment_intent');
      const obj = looked(ctx, target);
      if (typeof obj === 'string') return unknown(obj);
      return priceAgainstObject(req.body.amount ?? refundable(obj), obj.currency, '', ctx);
    },
    ...(settles ? { settle: moved('amount', false) } : {}),
    object: (req) => refundTarget(req)?.slice(4),
  };
}

/** A payment intent update that raises its amount (or changes its currency) counts the difference. */
export const updatePaymentIntent: VendorRoute = {
  method: 'POST',
  pattern: pattern('POST /v1/payment_intents/{id}'),
  class: 'priced',
  reason: 'free unless it changes `amount` or `currency`: then the new amount, less what was already counted for the intent (looked up)',
  lookup: (req) =>
    req.body.amount === undefined && req.body.currency === undefined
      ? { paths: [], counted: [] }
      : { paths: [`/v1/payment_intents/${req.segments[2] ?? ''}`], counted: [req.segments[2] ?? ''] },
  price(req, ctx) {
    if (req.body.amount === undefined && req.body.currency === undefined) return { kind: 'free' };
    const pi = looked(ctx, `/v1/payment_intents/${req.segments[2] ?? ''}`);
    if (typeof pi === 'string') return unknown(pi);
    return priceAgainstObject(req.body.amount ?? pi.amount, req.body.currency ?? pi.currency, req.segments[2] ?? '', ctx);
  },
  countsAs: (req) => (req.body.amount === undefined && req.body.currency === undefined ? undefined : pathId(req)),
  settle: (response, ctx) => moved('amount', true)(response, ctx),
  object: (req) => `payment_intents/${req.segments[2] ?? ''}`,
};

/** A customer balance transaction credits or debits what the customer's invoices charge: its size counts. */
export function priceBalanceTransaction(req: CanonicalRequest, ctx: PricingContext): PriceResult {
  const amount = req.body.amount;
  if (typeof amount !== 'string' || !/^-?(0|[1-9]\d{0,11})$/.test(amount)) return unknown('amount must be a whole number of minor units (negative for a credit)');
  return priceAmount(amount.replace(/^-/, ''), req.body.currency, ctx);
}

export function settleBalanceTransaction(response: unknown, ctx: PricingContext): number | undefined {
  const r = response as StripeObject | null;
  if (typeof r?.amount !== 'number' || !Number.isSafeInteger(r.amount) || typeof r.currency !== 'string') return undefined;
  return minorToMicroUsd(Math.abs(r.amount), r.currency, ctx.fx, false);
}

/** Customers move no money, but a `balance` changes what their invoices will charge: refused. */
export function priceCustomerWrite(req: CanonicalRequest): PriceResult {
  if (req.body.balance !== undefined) return unknown('a customer `balance` changes what the customer\'s invoices charge; use a priced balance transaction instead');
  return { kind: 'free' };
}

export type { LookupNeed };
