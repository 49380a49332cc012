import type { VendorCatalog } from '../catalogs/types';

export const resendCatalog: VendorCatalog = {
  vendor: 'resend',
  name: 'Resend',
  description: 'Resend email through Keybrake: every call is checked against a spending cap before it reaches Resend.',
  endpoints: [
    {
      method: 'POST',
      path: '/emails',
      operationId: 'resend_send_email',
      summary: 'Send an email',
      description: 'Sends one email. Returns its id. Send each email once: check the conversation for an earlier id before sending again.',
      pathParams: [],
      query: [],
      body: [
        { name: 'from', type: 'string', required: true, description: 'Sender, e.g. "Acme <billing@acme.com>"; the domain must be verified in Resend.' },
        { name: 'to', type: 'array', items: 'string', required: true, description: 'Recipient email addresses (at most 50).' },
        { name: 'subject', type: 'string', required: true, description: 'The subject line.' },
        { name: 'text', type: 'string', description: 'The plain-text body.' },
        { name: 'html', type: 'string', description: 'The HTML body.' },
        { name: 'reply_to', type: 'string', description: 'Address that replies should go to.' },
      ],
      spends: true,
    },
    {
      method: 'POST',
      path: '/emails/batch',
      operationId: 'resend_send_batch',
      summary: 'Send a batch of emails',
      description:
        'Sends up to 100 emails in one call. emails is a JSON array of objects, each with from, to, subject and text or html. Each email is billed separately. Returns their ids.',
      pathParams: [],
      query: [],
      body: [{ name: 'emails', type: 'array', required: true, description: 'JSON array of email objects: [{"from": "...", "to": ["..."], "subject": "...", "text": "..."}], at most 100.' }],
      spends: true,
    },
  ],
};
