// Every Resend operation that writes, classified from Resend's own description (resend.yaml; the classification
// test walks every write in it). Reads are free, except those that reveal credentials; an unlisted write is refused.
import { pattern } from '../endpoints';
import { credential, free, refused } from '../classify';
import type { VendorRoute } from '../types';
import { perRecipient, recipientsOf } from './pricing';

export const resendRoutes: VendorRoute[] = [
  ...credential(
    'mints, lists, widens or revokes credentials: API keys (the new key comes back in the answer), OAuth grants, webhook signing secrets',
    '* /api-keys', '* /api-keys/**', '* /oauth/**', '* /webhooks', '* /webhooks/**',
  ),
  {
    method: 'POST',
    pattern: pattern('POST /emails'),
    class: 'priced',
    reason: 'every To, Cc and Bcc recipient × the price per email',
    price(req, ctx) {
      const n = recipientsOf(req.body);
      return typeof n === 'string' ? { kind: 'unknown', reason: n } : perRecipient(n, 1, ctx);
    },
  },
  {
    method: 'POST',
    pattern: pattern('POST /emails/batch'),
    class: 'priced',
    reason: 'every To, Cc and Bcc recipient of every email in the batch × the price per email',
    arrayBody: true,
    price(req, ctx) {
      const emails = req.body.emails;
      if (!Array.isArray(emails) || emails.length === 0) return { kind: 'unknown', reason: 'a batch is a JSON array of 1 to 100 emails' };
      if (emails.length > 100) return { kind: 'unknown', reason: `a batch holds at most 100 emails, not ${emails.length}` };
      let total = 0;
      for (const [i, email] of emails.entries()) {
        const n = recipientsOf(email);
        if (typeof n === 'string') return { kind: 'unknown', reason: `email ${i}: ${n}` };
        total += n;
      }
      return perRecipient(total, emails.length, ctx);
    },
  },
  {
    method: 'POST',
    pattern: pattern('POST /broadcasts'),
    class: 'priced',
    reason: 'free as a draft; created with `send` or `scheduled_at` it goes to a whole segment, whose size the request does not say: refused',
    price: (req) =>
      req.body.send === true || req.body.send === 'true' || req.body.scheduled_at !== undefined
        ? { kind: 'unknown', reason: 'a broadcast sent on creation goes to a whole segment, whose size the request does not say' }
        : { kind: 'free' },
  },
  ...refused(
    'sends to a whole segment or starts automations whose emails the request does not count',
    'POST /broadcasts/{id}/send', 'POST /events/send', 'POST /automations', 'PATCH /automations/{id}', 'POST /automations/{id}/duplicate',
  ),
  ...free(
    'edits, cancels, reschedules or deletes something: no email is sent',
    'PATCH /emails/{id}', 'POST /emails/{id}/cancel', 'POST /emails/{id}/share', 'PATCH /broadcasts/{id}', 'DELETE /broadcasts/{id}', 'POST /broadcasts/{id}/cancel',
    'DELETE /automations/{id}', 'POST /automations/{id}/stop', 'POST /events', 'PATCH /events/{id}', 'DELETE /events/{id}',
  ),
  ...free(
    'records that send nothing: domains, templates, audiences, contacts, segments, topics, suppressions',
    'POST /domains', 'PATCH /domains/{id}', 'DELETE /domains/{id}', 'POST /domains/{id}/verify', 'POST /domains/claim', 'POST /domains/{id}/claim/verify',
    'POST /templates', 'PATCH /templates/{id}', 'DELETE /templates/{id}', 'POST /templates/{id}/publish', 'POST /templates/{id}/duplicate',
    'POST /audiences', 'DELETE /audiences/{id}', 'POST /contacts', 'PATCH /contacts/{id}', 'DELETE /contacts/{id}', 'POST /contacts/imports',
    'POST /contacts/{id}/segments/{id}', 'DELETE /contacts/{id}/segments/{id}', 'PATCH /contacts/{id}/topics',
    'POST /contact-properties', 'PATCH /contact-properties/{id}', 'DELETE /contact-properties/{id}',
    'POST /segments', 'DELETE /segments/{id}', 'POST /topics', 'PATCH /topics/{id}', 'DELETE /topics/{id}',
    'POST /suppressions', 'DELETE /suppressions/{id}', 'POST /suppressions/batch/add', 'POST /suppressions/batch/remove',
  ),
];
