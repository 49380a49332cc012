// Resend (https://resend.com/docs/api-reference): JSON bodies, bearer API key, billed per recipient.
import type { VendorAdapter } from '../types';
import { reconcileResend } from './reconcile';
import { resendRoutes } from './classification';

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
  routes: resendRoutes,
  checkSecret(c) {
    if (!/^re_\S{4,}$/.test(c.api_key ?? '')) return 'api_key: must be a Resend API key (re_…)';
    return undefined;
  },
  // A new API key's `token`, a webhook's `signing_secret` (resend.yaml).
  scrubFields: ['token', 'signing_secret'],
  // Resend's 4xx answers (validation, auth, idempotency conflicts, rate limits) send nothing.
  reconcile: reconcileResend,
  releasesReservation: (status) => status >= 400 && status < 500,
  objectId(response) {
    if (typeof response !== 'object' || response === null) return undefined;
    const r = response as { id?: unknown; data?: { id?: unknown }[] };
    const id = typeof r.id === 'string' ? r.id : Array.isArray(r.data) ? r.data.map((d) => d.id).filter((x) => typeof x === 'string').join(',') : undefined;
    return id ? id.slice(0, 255) : undefined;
  },
};
