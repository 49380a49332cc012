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

// Calls that move money but are not yet priced by this adapter: refused with cost_unknown (fail closed).
// From the spec's money-moving operations (shared/docs/vendors.md, "Which endpoints move or cost money").
const UNPRICED_MONEY_MOVING = [
  'POST /v1/payment_intents/{id}/confirm',
  'POST /v1/payment_intents/{id}/capture',
  'POST /v1/payment_intents/{id}/increment_authorization',
  'POST /v1/charges/{id}/capture',
  'POST /v1/refunds',
  'POST /v1/charges/{id}/refunds',
  'POST /v1/charges/{id}/refund',
  'POST /v1/application_fees/{id}/refunds',
  'POST /v1/transfers',
  'POST /v1/transfers/{id}/reversals',
  'POST /v1/payouts',
  'POST /v1/topups',
  'POST /v1/credit_notes',
  'POST /v1/treasury/outbound_payments',
  'POST /v1/treasury/outbound_transfers',
  'POST /v1/treasury/inbound_transfers',
  'POST /v1/issuing/authorizations/{id}/approve',
  'POST /v1/invoices',
  'POST /v1/invoices/{id}/pay',
  'POST /v1/invoices/{id}/finalize',
  'POST /v1/invoices/{id}/send',
  'POST /v1/invoiceitems',
  'POST /v1/subscriptions',
  'POST /v1/subscriptions/{id}',
  'POST /v1/subscription_items',
  'POST /v1/subscription_schedules',
  'POST /v1/checkout/sessions',
  'POST /v1/payment_links',
  'POST /v1/quotes/{id}/accept',
  'POST /v1/customers/{id}/balance_transactions',
  // API v2 has its own money movement (JSON bodies); nothing there is priced yet.
  'POST /v2/**',
];

const routes: VendorRoute[] = [
  { method: 'POST', pattern: pattern('POST /v1/payment_intents'), moneyMoving: true, price: priceFromBody, settle: settleAmount },
  { method: 'POST', pattern: pattern('POST /v1/charges'), moneyMoving: true, price: priceFromBody, settle: settleAmount },
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
