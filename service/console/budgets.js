// Shared budgets: several keys (every conversation of one user, say) draw from one daily cap. The list, creating one,
// and a budget's page with today's spend by key.
import { api, day, dl, el, field, formPanel, number, page, refresh, say, spendBar, table, usd, when } from './ui.js';

export async function budgetsPage() {
  const budgets = await api('GET', '/budgets');
  const label = el('input', { autocomplete: 'off', maxlength: '256' });
  const cap = el('input', { inputmode: 'decimal', value: '50', autocomplete: 'off' });
  const zone = el('input', { value: 'UTC', autocomplete: 'off' });
  const form = formPanel(
    'Create a budget',
    [field('Label', label, { param: 'label', hint: 'e.g. user-42' }), field('Daily cap (USD)', cap, { param: 'daily_usd_cap' }), field('Time zone of its day', zone, { param: 'timezone', hint: 'An IANA zone such as Europe/Berlin.' })],
    'Create',
    async () => {
      const b = await api('POST', '/budgets', { label: label.value, daily_usd_cap: number(cap.value), timezone: zone.value.trim() });
      say(`Created the budget ${b.label || b.id}. Give a key "budget": "${b.id}" to draw from it.`);
      refresh();
    },
  );
  return page(
    'Budgets',
    el('p', { class: 'hint', text: 'Keys that name a budget (their policy field budget) spend from its daily cap as well as their own.' }),
    table(
      'Budgets',
      [
        ['Budget', (b) => el('a', { href: `#/budgets/${encodeURIComponent(b.id)}`, text: b.label || b.id })],
        ['Id', (b) => el('code', { text: b.id })],
        ['Daily cap', (b) => usd(b.daily_usd_cap)],
        ['Time zone', (b) => b.timezone],
        ['Created', (b) => day(b.created_at)],
      ],
      budgets.data,
      'No budgets yet. Create one to let many keys share a daily cap.',
    ),
    form,
  );
}

export async function budgetPage(id) {
  const b = await api('GET', `/budgets/${encodeURIComponent(id)}`);
  return el(
    'section',
    { class: 'page' },
    el('p', {}, el('a', { href: '#/budgets', text: '← All budgets' })),
    el('h1', { text: b.label || b.id }),
    el('div', { class: 'panel' }, el('h2', { text: 'Today' }), spendBar(b.spent_today_usd, b.daily_usd_cap), dl([
      ['Id', el('code', { text: b.id })],
      ['Remaining', usd(b.remaining_today_usd)],
      ['Day', `${b.window} (${b.timezone})`],
      ['Resets', when(b.resets_at)],
    ])),
    el('div', { class: 'panel' }, el('h2', { text: 'Spend today by key' }), table(
      'Spend today by key',
      [
        ['Key', (k) => el('a', { href: `#/keys/${encodeURIComponent(k.key_id)}`, text: k.label || k.key_id })],
        ['Spent', (k) => usd(k.spent_usd)],
        ['Calls', (k) => String(k.requests)],
      ],
      b.spend_by_key,
      'No key has spent from this budget today.',
    )),
  );
}
