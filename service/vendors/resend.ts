// Resend (https://resend.com/docs/api-reference): JSON bodies, bearer API key, billed per email sent.
import { pattern } from '../policy/endpoints';
import type { CanonicalRequest, PriceResult, PricingContext, VendorAdapter, VendorRoute } from './types';

const perEmail = (n: number, ctx: PricingContext): PriceResult => ({
  kind: 'priced',
  micros: Math.ceil(n * ctx.prices.resend.per_email * 1e6),
  basis: `${n} email${n === 1 ? '' : 's'} × $${ctx.prices.resend.per_email}`,
});

const routes: VendorRoute[] = [
  { method: 'POST', pattern: pattern('POST /emails'), moneyMoving: true, price: (_req, ctx) => perEmail(1, ctx) },
  {
    method: 'POST',
    pattern: pattern('POST /emails/batch'),
    moneyMoving: true,
    arrayBody: true,
    price(req: CanonicalRequest, ctx) {
      const emails = req.body.emails;
      if (!Array.isArray(emails) || emails.length === 0) return { kind: 'unknown', reason: 'a batch is a JSON array of 1 to 100 emails' };
      if (emails.length > 100) return { kind: 'unknown', reason: `a batch holds at most 100 emails, not ${emails.length}` };
      return perEmail(emails.length, ctx);
    },
  },
  // A broadcast goes to a whole audience, whose size the request does not say.
  { method: 'POST', pattern: pattern('POST /broadcasts/{id}/send'), moneyMoving: true },
];

export const resend: VendorAdapter = {
  id: 'resend',
  name: 'Resend',
  baseUrl: 'https://api.resend.com',
  credentialFields: ['api_key'],
  injectAuth(headers, credentials) {
    headers.authorization = `Bearer ${credentials.api_key ?? ''}`;
  },
  bodyEncoding: 'json',
  arrayBodyField: 'emails',
  requestHeaders: ['accept', 'idempotency-key', 'user-agent', 'x-batch-validation'],
  responseHeaders: ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after'],
  queryOnWrite: false,
  idempotencyHeader: 'idempotency-key',
  routes,
  // Resend's 4xx answers (validation, auth, idempotency conflicts, rate limits) send nothing.
  releasesReservation: (status) => status >= 400 && status < 500,
  objectId(response) {
    if (typeof response !== 'object' || response === null) return undefined;
    const r = response as { id?: unknown; data?: { id?: unknown }[] };
    const id = typeof r.id === 'string' ? r.id : Array.isArray(r.data) ? r.data.map((d) => d.id).filter((x) => typeof x === 'string').join(',') : undefined;
    return id ? id.slice(0, 255) : undefined;
  },
};
