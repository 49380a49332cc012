// Resend bills per email, and "multiple To, CC, or BCC recipients in sent emails count as separate emails"
// (https://resend.com/docs/knowledge-base/account-quotas-and-limits): an email is priced per recipient.
import type { JsonValue, PriceResult, PricingContext } from '../types';

/**
 * Recipients in a `to`, `cc` or `bcc` value: a string or a list of strings. A string with several addresses in
 * it ("a@x.com, b@y.com") counts each `@`, so that no way of splitting it can send to more than were counted.
 */
function recipients(value: JsonValue | undefined): number | string {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'string') return Math.max(1, value.split('@').length - 1);
  if (Array.isArray(value)) {
    let n = 0;
    for (const v of value) {
      if (typeof v !== 'string') return 'recipients must be email addresses (strings)';
      n += Math.max(1, v.split('@').length - 1);
    }
    return n;
  }
  return 'recipients must be a string or a list of strings';
}

/** Every To, Cc and Bcc recipient of one email. */
export function recipientsOf(email: JsonValue | undefined): number | string {
  if (email === null || typeof email !== 'object' || Array.isArray(email)) return 'each email must be a JSON object';
  let total = 0;
  for (const field of ['to', 'cc', 'bcc']) {
    const n = recipients(email[field]);
    if (typeof n === 'string') return `${field}: ${n}`;
    total += n;
  }
  if (total === 0) return 'an email needs at least one recipient in to';
  return total;
}

export function perRecipient(n: number, emails: number, ctx: PricingContext): PriceResult {
  const each = ctx.prices.resend.per_email;
  return {
    kind: 'priced',
    micros: Math.ceil(n * each * 1e6 - 1e-6),
    basis: `${n} recipient${n === 1 ? '' : 's'}${emails > 1 ? ` in ${emails} emails` : ''} × $${each}`,
  };
}
