// Every Stripe operation that writes, classified from Stripe's own description (its OpenAPI document; the
// classification test walks every write in it, and the older paths Stripe still serves). Reads are free, except
// those that reveal credentials. Anything not listed here is refused (deny by default): Stripe adds endpoints
// faster than anyone can price them, and an unknown one may move money.
import { pattern } from '../endpoints';
import { credential, free, refused } from '../classify';
import type { VendorRoute } from '../types';
import { checkoutLookups, priceCheckout } from './checkout';
import {
  countsResponse,
  looked,
  minor,
  moved,
  onObject,
  priceAgainstObject,
  priceBalanceTransaction,
  priceCustomerWrite,
  priceFromBody,
  refundable,
  refundRoute,
  settleBalanceTransaction,
  updatePaymentIntent,
} from './pricing';

const fromBody = (source: string, rule: string, settleField = 'amount'): VendorRoute => {
  const p = pattern(source);
  return { method: p.method, pattern: p, class: 'priced', reason: rule, price: priceFromBody, settle: moved(settleField, false) };
};

const priced: VendorRoute[] = [
  // A payment intent is counted when created (an upper bound, even before it is confirmed), and once only.
  { ...fromBody('POST /v1/payment_intents', '`amount` in `currency`, counted once per payment intent (a later confirm or capture adds only what was not counted)'), countsAs: countsResponse },
  onObject('POST /v1/payment_intents/{id}/confirm', 'payment_intents', 'the intent\'s amount (looked up), less what was already counted for it', (_req, pi) => pi.amount, { settleField: 'amount' }),
  onObject(
    'POST /v1/payment_intents/{id}/capture',
    'payment_intents',
    '`amount_to_capture`, or the capturable amount (looked up), less what was already counted',
    (req, pi) => req.body.amount_to_capture ?? pi.amount_capturable ?? pi.amount,
    { settleField: 'amount_received' },
  ),
  onObject('POST /v1/payment_intents/{id}/increment_authorization', 'payment_intents', 'the new `amount`, less what was already counted', (req) => req.body.amount, { settleField: 'amount' }),
  onObject('POST /v1/payment_intents/{id}/apply_customer_balance', 'payment_intents', '`amount`, or the intent\'s amount (looked up), less what was already counted', (req, pi) => req.body.amount ?? pi.amount, { settleField: 'amount' }),
  updatePaymentIntent,
  { ...fromBody('POST /v1/charges', '`amount` in `currency`'), countsAs: countsResponse },
  onObject('POST /v1/charges/{id}/capture', 'charges', '`amount`, or the charge\'s amount (looked up), less what was already counted', (req, ch) => req.body.amount ?? ch.amount, { settleField: 'amount_captured' }),
  refundRoute('POST /v1/refunds', true),
  onObject('POST /v1/charges/{id}/refunds', 'charges', '`amount`, or all that is still refundable of the charge (looked up)', (req, ch) => req.body.amount ?? refundable(ch), { counted: false, settleField: 'amount' }),
  onObject('POST /v1/charges/{id}/refund', 'charges', '`amount`, or all that is still refundable of the charge (looked up; the older form of refunds)', (req, ch) => req.body.amount ?? refundable(ch), { counted: false }),
  onObject(
    'POST /v1/application_fees/{id}/refunds',
    'application_fees',
    '`amount`, or all that is still refundable of the fee (looked up)',
    (req, fee) => req.body.amount ?? Math.max(0, (minor(fee.amount) ?? 0) - (minor(fee.amount_refunded) ?? 0)),
    { counted: false, settleField: 'amount' },
  ),
  onObject(
    'POST /v1/application_fees/{id}/refund',
    'application_fees',
    '`amount`, or all that is still refundable of the fee (looked up; the older form)',
    (req, fee) => req.body.amount ?? Math.max(0, (minor(fee.amount) ?? 0) - (minor(fee.amount_refunded) ?? 0)),
    { counted: false },
  ),
  onObject(
    'POST /v1/transfers/{id}/reversals',
    'transfers',
    '`amount`, or all that is not yet reversed of the transfer (looked up)',
    (req, tr) => req.body.amount ?? Math.max(0, (minor(tr.amount) ?? 0) - (minor(tr.amount_reversed) ?? 0)),
    { counted: false, settleField: 'amount' },
  ),
  fromBody('POST /v1/transfers', '`amount` in `currency`'),
  fromBody('POST /v1/payouts', '`amount` in `currency`'),
  fromBody('POST /v1/topups', '`amount` in `currency`'),
  fromBody('POST /v1/treasury/outbound_payments', '`amount` in `currency`'),
  fromBody('POST /v1/treasury/outbound_transfers', '`amount` in `currency`'),
  fromBody('POST /v1/treasury/inbound_transfers', '`amount` in `currency`'),
  onObject('POST /v1/invoices/{id}/pay', 'invoices', 'the invoice\'s `amount_remaining` (looked up)', (_req, inv) => inv.amount_remaining, { counted: false, settleField: 'amount_paid' }),
  {
    method: 'POST',
    pattern: pattern('POST /v1/checkout/sessions'),
    class: 'priced',
    reason: 'the most the session can collect: each line item at its largest quantity (prices looked up) plus the dearest shipping option; subscription mode, automatic tax, tax rates, tiered or open-ended prices are refused',
    lookup: checkoutLookups,
    price: priceCheckout,
  },
  refundRoute('POST /v1/terminal/readers/{id}/refund_payment', false),
  {
    method: 'POST',
    pattern: pattern('POST /v1/terminal/readers/{id}/process_payment_intent'),
    class: 'priced',
    reason: 'the named payment intent\'s amount (looked up), less what was already counted for it',
    lookup: (req) => ({ paths: typeof req.body.payment_intent === 'string' ? [`/v1/payment_intents/${req.body.payment_intent}`] : [], counted: typeof req.body.payment_intent === 'string' ? [req.body.payment_intent] : [] }),
    price(req, ctx) {
      const id = req.body.payment_intent;
      if (typeof id !== 'string' || !/^[A-Za-z0-9_]+$/.test(id)) return { kind: 'unknown', reason: 'process_payment_intent names a payment_intent' };
      const pi = looked(ctx, `/v1/payment_intents/${id}`);
      if (typeof pi === 'string') return { kind: 'unknown', reason: pi };
      return priceAgainstObject(pi.amount, pi.currency, id, ctx);
    },
    countsAs: (req) => (typeof req.body.payment_intent === 'string' ? req.body.payment_intent : undefined),
    object: (req) => (typeof req.body.payment_intent === 'string' ? `payment_intents/${req.body.payment_intent}` : undefined),
  },
  {
    method: 'POST',
    pattern: pattern('POST /v1/customers/{id}/balance_transactions'),
    class: 'priced',
    reason: 'the size of `amount` (a credit or a debit on what the customer\'s invoices charge)',
    price: priceBalanceTransaction,
    settle: settleBalanceTransaction,
  },
  // Free, but checked: a `balance` set here would change what the customer's invoices charge.
  ...['POST /v1/customers', 'POST /v1/customers/{id}'].map((source): VendorRoute => ({
    method: 'POST',
    pattern: pattern(source),
    class: 'free',
    reason: 'moves no money; a `balance` is refused (it changes what the customer\'s invoices charge)',
    price: priceCustomerWrite,
  })),
];

const RECURRING = 'starts, changes or ends charges that Stripe makes later on its own schedule (subscriptions, invoices, usage); Keybrake cannot bound them when the call is made';

export const stripeRoutes: VendorRoute[] = [
  // Credentials first: a broad entry here must win over anything below.
  ...credential(
    'returns a secret that lets its holder act on the account outside Keybrake (ephemeral keys, reader connection tokens, stored app secrets, account and login links, embedded-component sessions, webhook signing secrets)',
    'POST /v1/ephemeral_keys', 'DELETE /v1/ephemeral_keys/{id}', 'POST /v1/terminal/connection_tokens', '* /v1/apps/**',
    'POST /v1/account_links', 'POST /v1/account_sessions', 'POST /v1/accounts/{id}/login_links', '* /v1/webhook_endpoints', '* /v1/webhook_endpoints/**',
  ),
  ...credential('changes where a connected account\'s money is paid out (external accounts, bank accounts)', 'POST /v1/accounts/{id}/external_accounts', '* /v1/accounts/{id}/external_accounts/**', 'POST /v1/accounts/{id}/bank_accounts', '* /v1/accounts/{id}/bank_accounts/**'),
  ...credential('creates or changes an issuing card: a payment instrument that spends outside Keybrake', 'POST /v1/issuing/cards', 'POST /v1/issuing/cards/{id}'),
  ...priced,
  ...refused(RECURRING,
    'POST /v1/subscriptions', 'POST /v1/subscriptions/{id}', 'DELETE /v1/subscriptions/{id}', 'POST /v1/subscriptions/{id}/resume',
    'POST /v1/customers/{id}/subscriptions', 'POST /v1/customers/{id}/subscriptions/{id}', 'DELETE /v1/customers/{id}/subscriptions/{id}',
    'POST /v1/subscription_items', 'POST /v1/subscription_items/{id}', 'DELETE /v1/subscription_items/{id}', 'POST /v1/subscription_items/{id}/usage_records',
    'POST /v1/subscription_schedules', 'POST /v1/subscription_schedules/{id}', 'POST /v1/subscription_schedules/{id}/cancel', 'POST /v1/subscription_schedules/{id}/release',
    'POST /v1/invoices', 'POST /v1/invoices/{id}', 'POST /v1/invoices/{id}/finalize', 'POST /v1/invoices/{id}/send',
    'POST /v1/invoiceitems', 'POST /v1/invoiceitems/{id}', 'POST /v1/quotes/{id}/accept',
  ),
  ...refused('can be paid any number of times by anyone who has the link', 'POST /v1/payment_links', 'POST /v1/payment_links/{id}'),
  ...refused('moves money by an amount Keybrake does not price (credit notes, payout reversals, Treasury reversals, issuing approvals)',
    'POST /v1/credit_notes', 'POST /v1/payouts/{id}/reverse', 'POST /v1/treasury/credit_reversals', 'POST /v1/treasury/debit_reversals', 'POST /v1/issuing/authorizations/{id}/approve'),
  ...refused('Stripe bills each one (identity verifications, tax transactions)', 'POST /v1/identity/verification_sessions', 'POST /v1/tax/transactions/create_from_calculation', 'POST /v1/tax/transactions/create_reversal'),
  ...refused('changes who can receive money through the platform, or how (connected accounts, their capabilities and people)',
    'POST /v1/accounts', 'POST /v1/accounts/{id}', 'DELETE /v1/accounts/{id}', 'POST /v1/accounts/{id}/reject', 'POST /v1/accounts/{id}/capabilities/{id}',
    'POST /v1/accounts/{id}/people', 'POST /v1/accounts/{id}/people/{id}', 'DELETE /v1/accounts/{id}/people/{id}',
    'POST /v1/accounts/{id}/persons', 'POST /v1/accounts/{id}/persons/{id}', 'DELETE /v1/accounts/{id}/persons/{id}'),
  ...free('cancels, voids or removes something, or only edits its description, metadata or evidence: no money moves',
    'POST /v1/payment_intents/{id}/cancel', 'POST /v1/payment_intents/{id}/verify_microdeposits', 'POST /v1/charges/{id}', 'POST /v1/charges/{id}/dispute', 'POST /v1/charges/{id}/dispute/close',
    'POST /v1/charges/{id}/refunds/{id}', 'POST /v1/refunds/{id}', 'POST /v1/refunds/{id}/cancel', 'POST /v1/application_fees/{id}/refunds/{id}',
    'POST /v1/transfers/{id}', 'POST /v1/transfers/{id}/reversals/{id}', 'POST /v1/payouts/{id}', 'POST /v1/payouts/{id}/cancel', 'POST /v1/topups/{id}', 'POST /v1/topups/{id}/cancel',
    'POST /v1/checkout/sessions/{id}/expire', 'POST /v1/disputes/{id}', 'POST /v1/disputes/{id}/close',
    'POST /v1/invoices/{id}/void', 'POST /v1/invoices/{id}/mark_uncollectible', 'DELETE /v1/invoices/{id}', 'DELETE /v1/invoiceitems/{id}',
    'POST /v1/credit_notes/{id}', 'POST /v1/credit_notes/{id}/void', 'POST /v1/customers/{id}/balance_transactions/{id}',
    'DELETE /v1/subscriptions/{id}/discount', 'DELETE /v1/customers/{id}/discount', 'DELETE /v1/customers/{id}/subscriptions/{id}/discount',
    'POST /v1/quotes/{id}/cancel', 'POST /v1/treasury/inbound_transfers/{id}/cancel', 'POST /v1/treasury/outbound_payments/{id}/cancel', 'POST /v1/treasury/outbound_transfers/{id}/cancel',
    'POST /v1/issuing/authorizations/{id}', 'POST /v1/issuing/authorizations/{id}/decline', 'POST /v1/issuing/settlements/{id}', 'POST /v1/issuing/transactions/{id}',
    'POST /v1/issuing/disputes', 'POST /v1/issuing/disputes/{id}', 'POST /v1/issuing/disputes/{id}/submit', 'POST /v1/reviews/{id}/approve',
    'POST /v1/identity/verification_sessions/{id}', 'POST /v1/identity/verification_sessions/{id}/cancel', 'POST /v1/identity/verification_sessions/{id}/redact',
  ),
  ...free('customer records and how they pay (cards, sources, bank accounts, payment and setup intents without an amount): nothing is charged',
    'DELETE /v1/customers/{id}', 'POST /v1/customers/{id}/sources', 'POST /v1/customers/{id}/sources/{id}', 'DELETE /v1/customers/{id}/sources/{id}', 'POST /v1/customers/{id}/sources/{id}/verify',
    'POST /v1/customers/{id}/cards', 'POST /v1/customers/{id}/cards/{id}', 'DELETE /v1/customers/{id}/cards/{id}',
    'POST /v1/customers/{id}/bank_accounts', 'POST /v1/customers/{id}/bank_accounts/{id}', 'DELETE /v1/customers/{id}/bank_accounts/{id}', 'POST /v1/customers/{id}/bank_accounts/{id}/verify',
    'POST /v1/customers/{id}/tax_ids', 'DELETE /v1/customers/{id}/tax_ids/{id}', 'POST /v1/customers/{id}/cash_balance', 'POST /v1/customers/{id}/funding_instructions',
    'POST /v1/payment_methods', 'POST /v1/payment_methods/{id}', 'POST /v1/payment_methods/{id}/attach', 'POST /v1/payment_methods/{id}/detach',
    'POST /v1/setup_intents', 'POST /v1/setup_intents/{id}', 'POST /v1/setup_intents/{id}/cancel', 'POST /v1/setup_intents/{id}/confirm', 'POST /v1/setup_intents/{id}/verify_microdeposits',
    'POST /v1/sources', 'POST /v1/sources/{id}', 'POST /v1/sources/{id}/verify', 'POST /v1/tokens',
    'POST /v1/billing_portal/configurations', 'POST /v1/billing_portal/configurations/{id}', 'POST /v1/billing_portal/sessions',
    'POST /v1/financial_connections/accounts/{id}/disconnect', 'POST /v1/financial_connections/accounts/{id}/refresh', 'POST /v1/financial_connections/sessions',
    'POST /v1/link_account_sessions', 'POST /v1/linked_accounts/{id}/disconnect', 'POST /v1/linked_accounts/{id}/refresh',
    'POST /v1/issuing/cardholders', 'POST /v1/issuing/cardholders/{id}',
  ),
  ...free('defines what things cost or how they are discounted (products, prices, plans, coupons, promotion codes, shipping and tax rates, quotes not yet accepted): defining a price charges no one',
    'POST /v1/products', 'POST /v1/products/{id}', 'DELETE /v1/products/{id}', 'POST /v1/prices', 'POST /v1/prices/{id}', 'POST /v1/plans', 'POST /v1/plans/{id}', 'DELETE /v1/plans/{id}',
    'POST /v1/coupons', 'POST /v1/coupons/{id}', 'DELETE /v1/coupons/{id}', 'POST /v1/promotion_codes', 'POST /v1/promotion_codes/{id}',
    'POST /v1/shipping_rates', 'POST /v1/shipping_rates/{id}', 'POST /v1/tax_rates', 'POST /v1/tax_rates/{id}', 'POST /v1/tax/calculations', 'POST /v1/tax/settings',
    'POST /v1/quotes', 'POST /v1/quotes/{id}', 'POST /v1/quotes/{id}/finalize',
  ),
  ...free('configuration that moves no money (domains, files, radar lists, reports, terminal locations and readers, treasury accounts)',
    'POST /v1/apple_pay/domains', 'DELETE /v1/apple_pay/domains/{id}', 'POST /v1/payment_method_domains', 'POST /v1/payment_method_domains/{id}', 'POST /v1/payment_method_domains/{id}/validate',
    'POST /v1/files', 'POST /v1/file_links', 'POST /v1/file_links/{id}',
    'POST /v1/radar/value_lists', 'POST /v1/radar/value_lists/{id}', 'DELETE /v1/radar/value_lists/{id}', 'POST /v1/radar/value_list_items', 'DELETE /v1/radar/value_list_items/{id}',
    'POST /v1/reporting/report_runs',
    'POST /v1/terminal/configurations', 'POST /v1/terminal/configurations/{id}', 'DELETE /v1/terminal/configurations/{id}', 'POST /v1/terminal/locations', 'POST /v1/terminal/locations/{id}', 'DELETE /v1/terminal/locations/{id}',
    'POST /v1/terminal/readers', 'POST /v1/terminal/readers/{id}', 'DELETE /v1/terminal/readers/{id}', 'POST /v1/terminal/readers/{id}/cancel_action', 'POST /v1/terminal/readers/{id}/process_setup_intent', 'POST /v1/terminal/readers/{id}/set_reader_display',
    'POST /v1/treasury/financial_accounts', 'POST /v1/treasury/financial_accounts/{id}', 'POST /v1/treasury/financial_accounts/{id}/features',
  ),
  ...free('test helpers act only on test-mode objects: a live key cannot reach them', '* /v1/test_helpers/**'),
];
