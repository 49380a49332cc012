// Spend over a date range: per day (a chart, and the figures), per vendor, per key and per label, each with how many
// calls were allowed and refused (GET /usage).
import { api, barChart, el, everyDay, go, page, table, usd } from './ui.js';

const isoDay = (d) => d.toISOString().slice(0, 10);

export async function spendPage(query) {
  const today = new Date();
  const fromDay = query.get('from') || isoDay(new Date(today.getTime() - 29 * 86_400_000));
  const toDay = query.get('to') || isoDay(today);
  // The range is whole UTC days: from the first day's start to the last day's end.
  const range = `from=${encodeURIComponent(`${fromDay}T00:00:00.000Z`)}&to=${encodeURIComponent(new Date(Date.parse(`${toDay}T00:00:00.000Z`) + 86_400_000 - 1).toISOString())}`;
  const [byDay, byVendor, byKey, byLabel] = await Promise.all(['day', 'vendor', 'key', 'label'].map((g) => api('GET', `/usage?group_by=${g}&${range}`)));

  const from = el('input', { id: 'spend-from', type: 'date', value: fromDay, required: true });
  const to = el('input', { id: 'spend-to', type: 'date', value: toDay, required: true });
  const form = el(
    'form',
    { class: 'filters', 'aria-label': 'Date range' },
    el('div', { class: 'field' }, el('label', { for: 'spend-from', text: 'From (UTC day)' }), from),
    el('div', { class: 'field' }, el('label', { for: 'spend-to', text: 'To (UTC day)' }), to),
    el('button', { type: 'submit', class: 'primary', text: 'Show' }),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go(`#/spend?from=${from.value}&to=${to.value}`);
  });

  const counts = [
    ['Spent', (r) => usd(r.spent_usd)],
    ['Calls', (r) => String(r.requests)],
    ['Allowed', (r) => String(r.allowed)],
    ['Refused', (r) => String(r.denied)],
  ];
  const total = byDay.data.reduce((n, r) => n + r.spent_usd, 0);
  const calls = byDay.data.reduce((n, r) => n + r.requests, 0);
  const refused = byDay.data.reduce((n, r) => n + r.denied, 0);
  const none = 'No calls in this range.';
  return page(
    'Spend',
    form,
    el('p', { class: 'summary', text: `${usd(total)} spent by ${calls} calls from ${fromDay} to ${toDay}; ${refused} refused.` }),
    el('div', { class: 'panel' }, el('h2', { text: 'Per day' }), byDay.data.length ? barChart('Spend per day', everyDay(fromDay, toDay, byDay.data).map((d) => ({ label: d.day, value: d.spent_usd, note: `${d.requests} calls, ${d.denied} refused` })), usd) : null, table('Spend per day', [['Day', (r) => r.day], ...counts], byDay.data, none)),
    el('div', { class: 'cards' },
      el('div', { class: 'panel' }, el('h2', { text: 'Per vendor' }), table('Spend per vendor', [['Vendor', (r) => r.vendor || '—'], ...counts], byVendor.data, none)),
      el('div', { class: 'panel' }, el('h2', { text: 'Per label' }), table('Spend per label', [['Label', (r) => r.label || '(no label)'], ...counts], byLabel.data, none)),
    ),
    el('div', { class: 'panel' }, el('h2', { text: 'Per key' }), table('Spend per key', [['Key', (r) => (r.key_id ? el('a', { href: `#/keys/${encodeURIComponent(r.key_id)}` }, el('code', { text: r.key_id })) : '(no key)')], ...counts], byKey.data, none)),
  );
}
