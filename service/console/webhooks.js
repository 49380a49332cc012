// Alert deliveries (cap.threshold, cap.exceeded, key.revoked, key.expired, approval.requested), to webhooks and by
// email: each one's target, status and attempts, and the secret receivers verify Keybrake-Signature with.
import { api, badge, el, go, page, table, when } from './ui.js';

export async function webhooksPage(query) {
  const status = query.get('status') || '';
  const res = await api('GET', `/webhooks/deliveries?limit=100${status ? `&status=${encodeURIComponent(status)}` : ''}`);
  const filter = el('select', { id: 'hook-status' }, ['', 'pending', 'delivered', 'failed'].map((s) => el('option', { value: s, text: s || 'any status' })));
  filter.value = status;
  filter.addEventListener('change', () => go(`#/webhooks${filter.value ? `?status=${filter.value}` : ''}`));
  const secret = el('code', { id: 'signing-secret', hidden: true });
  const reveal = el('button', { type: 'button', text: 'Show the signing secret', 'aria-controls': 'signing-secret', 'aria-expanded': 'false' });
  reveal.addEventListener('click', async () => {
    if (secret.hidden) secret.textContent = (await api('GET', '/webhooks/signing-secret')).secret;
    secret.hidden = !secret.hidden;
    reveal.setAttribute('aria-expanded', String(!secret.hidden));
    reveal.textContent = secret.hidden ? 'Show the signing secret' : 'Hide the signing secret';
  });
  return page(
    'Webhook deliveries',
    el('div', { class: 'filters' }, el('div', { class: 'field' }, el('label', { for: 'hook-status', text: 'Status' }), filter)),
    table(
      'Webhook deliveries',
      [
        ['Created', (d) => when(d.created_at)],
        ['Event', (d) => d.type],
        ['Key', (d) => (d.key_id ? el('a', { href: `#/keys/${encodeURIComponent(d.key_id)}` }, el('code', { text: d.key_id })) : '—')],
        ['Target', (d) => (d.channel === 'email' ? `email ${d.url.replace(/^mailto:/, '')}` : el('code', { text: d.url }))],
        ['Status', (d) => badge(d.status, d.status === 'failed' ? 'bad' : d.status === 'delivered' ? 'ok' : 'wait')],
        ['Attempts', (d) => String(d.attempts)],
        ['Last result', (d) => (d.last_error && d.status !== 'delivered' ? d.last_error : d.last_status ? `${d.channel === 'email' ? 'SMTP' : 'HTTP'} ${d.last_status}` : d.last_error || '—')],
      ],
      res.data,
      status
        ? `No ${status} deliveries.`
        : 'No deliveries yet. Alerts go to the targets under webhooks and emails in KEYBRAKE_CONFIG and to a key\'s webhook_url and alert_emails: at its alert thresholds, when a cap refuses a call, when a call waits for approval, and when a key is revoked or expires.',
    ),
    el('div', { class: 'panel' }, el('h2', { text: 'Verifying deliveries' }), el('p', { text: 'Each delivery carries Keybrake-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body"> made with this secret.' }), reveal, ' ', secret),
  );
}
