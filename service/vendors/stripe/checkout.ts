// A Checkout session is priced at the most it can collect (https://docs.stripe.com/api/checkout/sessions/create):
// every line item at its unit amount × the largest quantity the customer may choose, plus the dearest shipping
// option. What cannot be bounded from the request and the prices it names is refused: recurring (subscription)
// sessions, taxes added on top, customer-chosen amounts without a maximum, tiered prices, a session currency that
// differs from its prices'.
import type { CanonicalRequest, LookupNeed, PriceResult, PricingContext } from '../types';
import { looked, minor, priceAmount, type StripeObject } from './pricing';

const ID = /^[A-Za-z0-9_]+$/;
/** Stripe's default maximum for an adjustable quantity. */
const DEFAULT_MAX_QUANTITY = 99;

const unknown = (reason: string): PriceResult => ({ kind: 'unknown', reason });
const list = (v: unknown): StripeObject[] => (Array.isArray(v) ? v.map((x) => (x ?? {}) as StripeObject) : []);
const isTrue = (v: unknown): boolean => v === 'true' || v === true;

function ids(req: CanonicalRequest): { prices: string[]; shippingRates: string[] } {
  const prices = list(req.body.line_items).map((i) => i.price).filter((p): p is string => typeof p === 'string' && ID.test(p));
  const shippingRates = list(req.body.shipping_options).map((o) => o.shipping_rate).filter((p): p is string => typeof p === 'string' && ID.test(p));
  return { prices, shippingRates };
}

export function checkoutLookups(req: CanonicalRequest): LookupNeed {
  const { prices, shippingRates } = ids(req);
  return { paths: [...prices.map((id) => `/v1/prices/${id}`), ...shippingRates.map((id) => `/v1/shipping_rates/${id}`)], counted: [] };
}

/** A unit amount in minor units, rounded up: `unit_amount_decimal` may hold fractions of a cent. */
function unitOf(data: StripeObject): number | undefined {
  const whole = minor(data.unit_amount);
  if (whole !== undefined) return whole;
  const decimal = data.unit_amount_decimal;
  if (typeof decimal === 'string' && /^\d{1,12}(\.\d{1,12})?$/.test(decimal)) {
    const [int = '0', frac = ''] = decimal.split('.');
    return Number(int) + (/[1-9]/.test(frac) ? 1 : 0);
  }
  return undefined;
}

/** One line item's largest charge, in minor units of its currency, or why it has none. */
function lineItem(item: StripeObject, ctx: PricingContext): { minor: number; currency: string } | string {
  if (item.tax_rates !== undefined || item.dynamic_tax_rates !== undefined) return 'tax rates on a line item may add to its amount';
  const quantity = item.quantity === undefined ? 1 : minor(item.quantity);
  if (quantity === undefined) return 'line_items quantity must be a whole number';
  const adjustable = (item.adjustable_quantity ?? {}) as StripeObject;
  let most = quantity;
  if (isTrue(adjustable.enabled)) {
    const max = adjustable.maximum === undefined ? DEFAULT_MAX_QUANTITY : minor(adjustable.maximum);
    if (max === undefined) return 'adjustable_quantity maximum must be a whole number';
    most = Math.max(quantity, max);
  }
  let unit: number | undefined;
  let currency: unknown;
  if (typeof item.price === 'string') {
    const price = looked(ctx, `/v1/prices/${item.price}`);
    if (typeof price === 'string') return price;
    if (price.billing_scheme === 'tiered' || price.tiers !== undefined) return `price ${item.price} is tiered`;
    const custom = price.custom_unit_amount as StripeObject | null | undefined;
    if (custom) {
      unit = minor(custom.maximum);
      if (unit === undefined) return `price ${item.price} lets the customer choose the amount, with no maximum`;
    } else unit = unitOf(price);
    currency = price.currency;
    if (unit === undefined) return `price ${item.price} has no fixed unit_amount`;
  } else {
    const data = (item.price_data ?? {}) as StripeObject;
    if (data.recurring !== undefined) return 'a recurring price_data charges again later';
    unit = unitOf(data);
    currency = data.currency;
    if (unit === undefined) return 'each line item needs a price or price_data[unit_amount]';
  }
  if (typeof currency !== 'string') return 'a line item has no currency';
  return { minor: unit * most, currency: currency.toLowerCase() };
}

/** The dearest shipping option, in minor units of its currency (the customer picks one). */
function shipping(req: CanonicalRequest, ctx: PricingContext): { minor: number; currency: string | undefined } | string {
  let most = 0;
  let currency: string | undefined;
  for (const option of list(req.body.shipping_options)) {
    let fixed: StripeObject;
    if (typeof option.shipping_rate === 'string') {
      const rate = looked(ctx, `/v1/shipping_rates/${option.shipping_rate}`);
      if (typeof rate === 'string') return rate;
      fixed = (rate.fixed_amount ?? {}) as StripeObject;
    } else fixed = (((option.shipping_rate_data ?? {}) as StripeObject).fixed_amount ?? {}) as StripeObject;
    const amount = minor(fixed.amount);
    if (amount === undefined || typeof fixed.currency !== 'string') return 'each shipping option needs a fixed amount and currency';
    if (currency !== undefined && fixed.currency.toLowerCase() !== currency) return 'shipping options must share one currency';
    currency = fixed.currency.toLowerCase();
    most = Math.max(most, amount);
  }
  return { minor: most, currency };
}

export function priceCheckout(req: CanonicalRequest, ctx: PricingContext): PriceResult {
  const b = req.body;
  if (b.mode === 'setup') return { kind: 'free' };
  if (b.mode === 'subscription') return unknown('a subscription-mode session starts charges that recur on Stripe\'s schedule');
  if (isTrue(((b.automatic_tax ?? {}) as StripeObject).enabled)) return unknown('automatic tax adds an amount Keybrake cannot know in advance');
  const items = list(b.line_items);
  if (items.length === 0) return unknown('a checkout session needs line_items to be priced');
  let total = 0;
  let currency = typeof b.currency === 'string' ? b.currency.toLowerCase() : undefined;
  for (const item of items) {
    const line = lineItem(item, ctx);
    if (typeof line === 'string') return unknown(line);
    if (currency !== undefined && line.currency !== currency) return unknown('line items (and the session) must share one currency');
    currency = line.currency;
    total += line.minor;
  }
  const ship = shipping(req, ctx);
  if (typeof ship === 'string') return unknown(ship);
  if (ship.currency !== undefined && ship.currency !== currency) return unknown('shipping options must be in the line items\' currency');
  const priced = priceAmount(String(total + ship.minor), currency, ctx);
  if (priced.kind !== 'priced') return priced;
  return { ...priced, basis: `at most ${total + ship.minor} ${currency ?? ''} (minor units): line items at their largest quantities${ship.minor > 0 ? ' and the dearest shipping option' : ''}` };
}
