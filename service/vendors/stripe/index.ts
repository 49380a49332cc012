// Stripe (https://docs.stripe.com/api): form-encoded v1 bodies, bearer secret key, amounts in minor units.
import type { VendorAdapter } from '../types';
import { markStripe, reconcileStripe } from './reconcile';
import { stripeRoutes } from './classification';

export { priceAmount } from './pricing';

/** Expansions that would put card data or stored secrets into any answer (issuing cards, app secrets). */
const SECRET_EXPANSIONS = new Set(['number', 'cvc', 'payload']);

function expansions(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(expansions);
  if (v !== null && typeof v === 'object') return Object.values(v).flatMap(expansions);
  return [];
}

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
  scopeHeaders: ['stripe-account', 'stripe-context'],
  lookupHeaders: ['stripe-version'],
  requestIdHeader: 'request-id',
  queryOnWrite: false,
  idempotencyHeader: 'idempotency-key',
  routes: stripeRoutes,
  pathPrefixes: ['/v1/', '/v2/'],
  checkSecret(c) {
    const key = c.secret_key ?? '';
    if (/\.\.\.|…/.test(key)) return `secret_key: "${key.slice(0, 14)}" is the README's placeholder, not a key: use one from https://dashboard.stripe.com/test/apikeys`;
    if (!/^(sk|rk)_(test|live)_\S+$/.test(key)) return 'secret_key: must be a Stripe secret key (sk_test_…, sk_live_…) or restricted key (rk_…)';
    return undefined;
  },
  // Secrets Stripe's own description marks as such: an ephemeral key's or a connection token's `secret`, the
  // `client_secret` of intents and sessions ("should not be stored, logged, or exposed to anyone other than the
  // customer"), a webhook endpoint's signing `secret`, an app secret's `payload`.
  scrubFields: ['secret', 'client_secret', 'payload'],
  credentialInputs: {
    token: 'a card, bank account or PII token made by Stripe.js in the customer\'s browser; it only stands for the data it was made from',
    account_token: 'a Connect account token made by Stripe.js from the account holder\'s own details',
    person_token: 'a Connect person token made by Stripe.js from the person\'s own details',
    cvc_token: 'a CVC token made by Stripe.js for re-collecting a CVC',
    client_secret: 'an intent\'s client secret handed back to confirm it from a browser; it is scrubbed from every answer, so an agent only has one it was given',
  },
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
  revealsCredential(req) {
    for (const path of [...expansions(req.query.expand), ...expansions(req.body.expand)]) {
      const last = path.split('.').pop() ?? '';
      if (SECRET_EXPANSIONS.has(last)) return `expand=${path.slice(0, 60)} would return card data or a stored secret`;
    }
    return undefined;
  },
  // Stripe: 4xx means the request failed without effect (https://docs.stripe.com/api/errors); 5xx may have acted.
  mark: markStripe,
  reconcile: reconcileStripe,
  releasesReservation: (status) => status >= 400 && status < 500,
  objectId(response) {
    if (typeof response !== 'object' || response === null) return undefined;
    const id = (response as { id?: unknown }).id;
    return typeof id === 'string' ? id.slice(0, 255) : undefined;
  },
};
