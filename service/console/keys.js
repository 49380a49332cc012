// Vault keys: the list with search and filters, issuing, revoking many by label; and one key's page with its
// policy, today's spend, its spend per day, its last calls, editing and revoking.
import { callsTable } from './audit.js';
import { keyForm } from './keyform.js';
import { api, badge, barChart, copyButton, day, dl, el, everyDay, go, refresh, say, spendBar, table, usd, when } from './ui.js';

const keyLink = (k) => el('a', { href: `#/keys/${encodeURIComponent(k.id)}`, class: 'key-link' }, el('code', { text: k.id }), el('span', { class: 'hint', text: ` ${k.key_prefix}…` }));

/** The issued secret, shown once, with a button that copies it. */
function issuedPanel(key) {
  return el(
    'div',
    { id: 'issued', class: 'panel secret', role: 'region', 'aria-label': 'The new vault key' },
    el('p', {}, 'Issued ', el('a', { href: `#/keys/${encodeURIComponent(key.id)}`, text: key.label || key.id }), '. The vault key, shown only now:'),
    el('code', { id: 'issued-key', text: key.vault_key }),
    copyButton(() => key.vault_key),
    (key.warnings || []).map((w) => el('p', { class: 'warning', text: w })),
  );
}

export async function keysPage(query) {
  const [vendors, budgets] = await Promise.all([api('GET', '/vendors'), api('GET', '/budgets')]);
  const q = (query.get('q') || '').trim();
  const status = query.get('status') || '';
  const vendor = query.get('vendor') || '';
  const section = el('section', { class: 'page' });
  const list = el('div');
  const issued = el('div');
  const issueBox = el('div', { hidden: true });
  const toggle = el('button', { type: 'button', class: 'primary', 'aria-expanded': 'false', 'aria-controls': 'issue-box', text: 'Issue a key' });
  issueBox.id = 'issue-box';
  const showIssue = (open) => {
    issueBox.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open) issueBox.querySelector('input, select')?.focus();
  };
  toggle.addEventListener('click', () => showIssue(issueBox.hidden));
  issueBox.append(
    keyForm({
      vendors: vendors.data,
      budgets: budgets.data,
      onSaved: (key) => {
        issued.replaceChildren(issuedPanel(key));
        showIssue(false);
        say(`Issued ${key.label || key.id}.`);
        void load(false);
      },
    }),
  );

  // Filters live in the address, so that a filtered list can be linked to and survives back and forward.
  const search = el('input', { id: 'key-search', type: 'search', value: q, autocomplete: 'off' });
  const statusSel = el('select', { id: 'key-status' }, ['', 'active', 'revoked', 'expired'].map((s) => el('option', { value: s, text: s || 'any status' })));
  statusSel.value = status;
  const vendorSel = el('select', { id: 'key-vendor-filter' }, el('option', { value: '', text: 'any vendor' }), vendors.data.map((v) => el('option', { value: v.id, text: v.name })));
  vendorSel.value = vendor;
  const filters = el(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Find keys' },
    el('div', { class: 'field' }, el('label', { for: 'key-search', text: 'Label prefix or key id' }), search),
    el('div', { class: 'field' }, el('label', { for: 'key-status', text: 'Status' }), statusSel),
    el('div', { class: 'field' }, el('label', { for: 'key-vendor-filter', text: 'Vendor' }), vendorSel),
    el('button', { type: 'submit', text: 'Find' }),
  );
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    if (search.value.trim()) params.set('q', search.value.trim());
    if (statusSel.value) params.set('status', statusSel.value);
    if (vendorSel.value) params.set('vendor', vendorSel.value);
    go(`#/keys${params.size ? `?${params}` : ''}`);
  });

  let cursor = null;
  const rows = [];
  const more = el('button', { type: 'button', text: 'More', hidden: true });
  more.addEventListener('click', () => void load(true));
  async function load(next) {
    let page;
    if (/^vk_[A-Za-z0-9]+$/.test(q)) {
      const one = await api('GET', `/vault/keys/${encodeURIComponent(q)}`).catch((err) => (err.status === 404 ? null : Promise.reject(err)));
      page = { data: one ? [one] : [], next_cursor: null };
    } else {
      const params = new URLSearchParams({ limit: '50' });
      if (q) params.set('label_prefix', q);
      if (status) params.set('status', status);
      if (vendor) params.set('vendor', vendor);
      if (next && cursor) params.set('cursor', cursor);
      page = await api('GET', `/vault/keys?${params}`);
    }
    if (!next) rows.length = 0;
    rows.push(...page.data);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    const filtered = Boolean(q || status || vendor);
    list.replaceChildren(
      table(
        'Vault keys',
        [
          ['Key', keyLink],
          ['Label', (k) => k.label || '—'],
          ['Vendor', (k) => k.vendor],
          ['Status', (k) => badge(k.status)],
          ['Spent today', (k) => spendBar(k.spent_today_usd, k.daily_usd_cap)],
          ['Expires', (k) => when(k.expires_at)],
          ['Created', (k) => day(k.created_at)],
        ],
        rows,
        filtered ? 'No key matches these filters.' : 'No vault keys yet. Issue one to give an agent a capped key you can revoke at any time.',
      ),
    );
    if (!filtered && rows.length === 0) showIssue(true);
  }
  await load(false);

  const bulkPrefix = el('input', { id: 'bulk-prefix', required: true, autocomplete: 'off' });
  const bulk = el('form', { class: 'panel', 'aria-label': 'Revoke many keys' }, el('div', { class: 'field' }, el('label', { for: 'bulk-prefix', text: 'Revoke every active key whose label starts with' }), bulkPrefix), el('button', { type: 'submit', class: 'danger', text: 'Revoke…' }));
  bulk.addEventListener('submit', async (e) => {
    e.preventDefault();
    const prefix = bulkPrefix.value;
    if (!prefix) return;
    const matching = await api('GET', `/vault/keys?status=active&limit=200&label_prefix=${encodeURIComponent(prefix)}`);
    if (!window.confirm(`Revoke ${matching.data.length} active key(s) whose label starts with "${prefix}"?`)) return;
    const res = await api('POST', '/vault/keys/revoke', { label_prefix: prefix });
    say(`Revoked ${res.revoked} key(s).`);
    await load(false);
  });

  section.append(
    el('div', { class: 'page-head' }, el('h1', { text: 'Vault keys' }), toggle),
    issued,
    issueBox,
    filters,
    list,
    more,
    el('details', { class: 'bulk' }, el('summary', { text: 'Revoke many keys by label' }), bulk),
  );
  return section;
}

const CLIENT_NAMES = { dify: 'Dify', 'claude-desktop': 'Claude Desktop', cursor: 'Cursor', vscode: 'VS Code' };

/** How to use the key over MCP: the URL, and each client's configuration to copy (the key itself as a placeholder). */
function mcpPanel(mcp) {
  if (!mcp.enabled) return el('div', { class: 'panel' }, el('h2', { text: 'Over MCP' }), el('p', { text: 'This key was issued with "mcp": false: it is not served over MCP.' }));
  const select = el('select', { id: 'mcp-client' }, mcp.clients.map((c) => el('option', { value: c.client, text: CLIENT_NAMES[c.client] || c.client })));
  const where = el('p', { class: 'hint' });
  const text = el('pre', { id: 'mcp-config' });
  const copy = copyButton(() => text.textContent);
  const show = () => {
    const c = mcp.clients.find((x) => x.client === select.value);
    where.textContent = c.where;
    text.textContent = c.text;
    copy.textContent = 'Copy';
  };
  select.addEventListener('change', show);
  show();
  return el(
    'div',
    { class: 'panel' },
    el('h2', { text: 'Over MCP' }),
    el('p', {}, 'Agents that take tools from MCP servers reach this key\'s endpoints at ', el('code', { id: 'mcp-url', text: mcp.url }), ', with the vault key in the Authorization header (replace vault_key_… with it).'),
    el('div', { class: 'field' }, el('label', { for: 'mcp-client', text: 'Client' }), select),
    where,
    text,
    copy,
  );
}

export async function keyPage(id) {
  const from = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const [key, vendors, budgets, calls, perDay, mcp] = await Promise.all([
    api('GET', `/vault/keys/${encodeURIComponent(id)}`),
    api('GET', '/vendors'),
    api('GET', '/budgets'),
    api('GET', `/audit?key_id=${encodeURIComponent(id)}&limit=20`),
    api('GET', `/usage?group_by=day&key_id=${encodeURIComponent(id)}&from=${encodeURIComponent(from)}`),
    api('GET', `/vault/keys/${encodeURIComponent(id)}/mcp`),
  ]);
  const revoke = el('button', { type: 'button', class: 'danger', text: 'Revoke this key', disabled: key.status !== 'active' });
  revoke.addEventListener('click', async () => {
    if (!window.confirm(`Revoke the key "${key.label || key.id}"? Its next call will be refused.`)) return;
    await api('DELETE', `/vault/keys/${encodeURIComponent(key.id)}`);
    say(`Revoked ${key.label || key.id}.`);
    refresh();
  });
  const policy = [
    ['Daily cap', usd(key.daily_usd_cap)],
    ['Most per call', key.max_usd_per_call === undefined ? 'no limit' : usd(key.max_usd_per_call)],
    ['Lifetime cap', key.total_usd_cap === undefined ? 'none' : usd(key.total_usd_cap)],
    ['Rate limit', key.rate_limit ? `${key.rate_limit.requests_per_minute} requests per minute` : 'none'],
    ['Duplicate window', key.dedupe_window],
    ['Time zone', key.timezone],
    ['Shared budget', key.budget ? el('a', { href: `#/budgets/${encodeURIComponent(key.budget)}`, text: key.budget }) : 'none'],
    ['Alerts at', key.alert_thresholds.map((t) => `${Math.round(t * 100)}%`).join(', ')],
    ['Webhook', key.webhook_url || 'none'],
    ['Parameter rules', key.params ? el('pre', { text: JSON.stringify(key.params, null, 2) }) : 'none'],
    ...(key.vendor === 'twilio' ? [['Longest call', key.max_call_seconds ? `${key.max_call_seconds} s` : 'the default'], ['Most legs per call', key.max_call_legs ?? 'unset']] : []),
    ...(key.vendor === 'stripe' ? [['Connected accounts', key.stripe_accounts ? key.stripe_accounts.join(', ') : 'the platform account only']] : []),
  ];
  const edit = keyForm({
    vendors: vendors.data,
    budgets: budgets.data,
    key,
    onSaved: () => {
      say('Saved.');
      refresh();
    },
  });
  return el(
    'section',
    { class: 'page' },
    el('p', {}, el('a', { href: '#/keys', text: '← All keys' })),
    el('div', { class: 'page-head' }, el('h1', { text: key.label || key.id }), badge(key.status), revoke),
    el(
      'div',
      { class: 'cards' },
      el('div', { class: 'panel' }, el('h2', { text: 'Today' }), spendBar(key.spent_today_usd, key.daily_usd_cap), dl([
        ['Remaining', usd(key.remaining_today_usd)],
        ['Resets', when(key.resets_at)],
        ...(key.spent_total_usd !== undefined ? [['Spent in its lifetime', `${usd(key.spent_total_usd)} of ${usd(key.total_usd_cap)}`]] : []),
      ])),
      el('div', { class: 'panel' }, el('h2', { text: 'Key' }), dl([
        ['Id', el('code', { text: key.id })],
        ['Starts with', el('code', { text: `${key.key_prefix}…` })],
        ['Vendor', key.vendor],
        ['Created', when(key.created_at)],
        ['Expires', key.expires_at ? when(key.expires_at) : 'never'],
        ...(key.revoked_at ? [['Revoked', when(key.revoked_at)]] : []),
      ])),
    ),
    el('div', { class: 'panel' }, el('h2', { text: 'Policy' }), dl(policy), el('h3', { text: 'Allowed endpoints' }), el('ul', { class: 'endpoints' }, key.allowed_endpoints.map((e) => el('li', {}, el('code', { text: e }))))),
    el('div', { class: 'panel' }, el('h2', { text: 'Spend per day, last 30 days (UTC)' }), perDay.data.length ? barChart('Spend per day', everyDay(from.slice(0, 10), new Date().toISOString().slice(0, 10), perDay.data).map((d) => ({ label: d.day, value: d.spent_usd, note: `${d.requests} calls` })), usd) : el('p', { class: 'empty', text: 'No calls in the last 30 days.' })),
    mcpPanel(mcp),
    el('div', { class: 'panel' }, el('h2', { text: 'Last calls' }), callsTable(calls.data, 'This key has made no calls yet.'), el('p', {}, el('a', { href: `#/audit?key_id=${encodeURIComponent(key.id)}`, text: 'All of its calls in the audit trail' }))),
    key.status === 'revoked' ? null : el('details', { class: 'edit' }, el('summary', { text: 'Change this key' }), edit),
  );
}
