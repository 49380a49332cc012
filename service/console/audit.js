// The audit trail: every call, allowed or refused, filtered by key, label, vendor, decision, code, run, conversation
// and time; one call's details in the side panel; the current filter exported as CSV or NDJSON (the API's streams).
import { api, badge, dl, download, el, go, openPanel, say, table, usd, when } from './ui.js';

const FILTERS = ['key_id', 'label_prefix', 'vendor', 'decision', 'code', 'run_id', 'conversation_id', 'from', 'to'];

/** What became of a call, in a sentence: refused (not sent), answered from an earlier call, sent, or unknown. */
function verdict(r) {
  if (r.decision === 'deny') return { kind: 'refused', text: `Refused by Keybrake: nothing was sent to ${r.vendor}.` };
  if (r.code === 'duplicate_replayed') return { kind: 'replayed', text: `Not sent again: answered with the earlier identical call's response.` };
  if (r.reconcile_state === 'pending' || r.reconcile_state === 'manual') return { kind: 'unknown', text: `Sent to ${r.vendor}; whether it took effect is being reconciled.` };
  if (r.status === null) return { kind: 'open', text: `Sent to ${r.vendor}; not settled yet.` };
  return { kind: 'sent', text: `Sent to ${r.vendor}, which answered ${r.upstream_status ?? r.status}.` };
}

const pretty = (text) => {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
};

/** One call in the side panel. */
export function showCall(r) {
  const v = verdict(r);
  const sent = v.kind !== 'refused' && v.kind !== 'replayed';
  openPanel(
    `${r.method} ${r.path}`,
    el('p', { class: `verdict ${v.kind}`, text: v.text }),
    r.decision === 'deny' ? el('div', { class: 'refusal' }, el('p', {}, 'Keybrake answered ', el('strong', { text: String(r.status ?? '—') }), ' ', el('code', { text: r.code || '' })), el('p', { text: r.message || '' })) : null,
    dl([
      ['Audit id', el('code', { text: r.id })],
      ['Time', when(r.time)],
      ['Key', r.key_id ? el('a', { href: `#/keys/${encodeURIComponent(r.key_id)}`, text: r.label || r.key_id }) : 'none'],
      ['Decision', r.decision],
      ['Code', r.code],
      ...(r.decision === 'allow' && r.message ? [['Note', r.message]] : []),
      ['Status', r.status === null ? null : String(r.status)],
      ['Estimated', usd(r.estimated_usd)],
      ['Reserved', usd(r.reserved_usd)],
      ['Settled', r.settled_usd === null ? 'not yet' : usd(r.settled_usd)],
      ...(r.reconcile_state ? [['Reconciliation', `${r.reconcile_state}${r.reconcile_note ? `: ${r.reconcile_note}` : ''}`]] : []),
      ['Run', r.run_id],
      ['Conversation', r.conversation_id],
      ['Vendor object', r.object_id],
      ['Vendor request id', r.upstream_request_id],
      ['Idempotency key', r.idempotency_key],
      ['Latency', r.latency_ms === null ? null : `${r.latency_ms} ms`],
    ]),
    el('h3', { text: sent ? `Request sent to ${r.vendor}` : 'Request as received (not sent)' }),
    el('pre', { id: 'detail-request', text: r.request_body || '(no body)' }),
    sent ? el('h3', { text: `Response from ${r.vendor}` }) : null,
    sent ? el('pre', { id: 'detail-response', text: r.response_body ? pretty(r.response_body) : '(none yet)' }) : null,
  );
}

/** Calls as a table whose rows open their details. */
export function callsTable(rows, empty) {
  return table(
    'Calls',
    [
      ['Time', (r) => el('button', { type: 'button', class: 'link', 'data-audit-id': r.id, text: when(r.time), onclick: () => showCall(r) })],
      ['Key', (r) => r.label || r.key_id || '—'],
      ['Call', (r) => el('code', { text: `${r.vendor} ${r.method} ${r.path}` })],
      ['Decision', (r) => el('span', {}, badge(r.decision === 'deny' ? 'refused' : 'allowed', r.decision), r.code ? ` ${r.code}` : '')],
      ['Status', (r) => (r.status === null ? '—' : String(r.status))],
      ['USD', (r) => usd(r.settled_usd ?? r.reserved_usd)],
    ],
    rows,
    empty,
  );
}

export async function auditPage(query) {
  const from30 = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const [vendors, codes] = await Promise.all([api('GET', '/vendors'), api('GET', `/usage?group_by=code&from=${encodeURIComponent(from30)}`)]);
  const filter = new URLSearchParams();
  for (const k of FILTERS) if (query.get(k)) filter.set(k, query.get(k));

  const input = (name, label, extra = {}) => {
    const control = el('input', { id: `audit-${name}`, name, value: query.get(name) || '', autocomplete: 'off', ...extra });
    return el('div', { class: 'field' }, el('label', { for: control.id, text: label }), control);
  };
  const select = (name, label, options) => {
    const control = el('select', { id: `audit-${name}`, name }, options.map(([value, text]) => el('option', { value, text })));
    control.value = query.get(name) || '';
    return el('div', { class: 'field' }, el('label', { for: control.id, text: label }), control);
  };
  const local = (iso) => (iso ? new Date(new Date(iso).getTime() - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : '');
  const more = ['label_prefix', 'run_id', 'conversation_id', 'from', 'to'];
  const form = el(
    'form',
    { id: 'audit-form', role: 'search', 'aria-label': 'Filter the audit trail' },
    el(
      'div',
      { class: 'filters' },
      select('decision', 'Decision', [['', 'any decision'], ['allow', 'allowed'], ['deny', 'refused']]),
      select('vendor', 'Vendor', [['', 'any vendor'], ...vendors.data.map((v) => [v.id, v.name])]),
      select('code', 'Code', [['', 'any code'], ...codes.data.filter((c) => c.code).map((c) => [c.code, `${c.code} (${c.requests})`])]),
      input('key_id', 'Key id'),
      el('button', { type: 'submit', class: 'primary', text: 'Search' }),
    ),
    el(
      'details',
      { class: 'more-filters', open: more.some((k) => query.get(k)) },
      el('summary', { text: 'More filters: label, run, conversation, time' }),
      el('div', { class: 'filters' }, input('label_prefix', 'Label prefix'), input('run_id', 'Run id'), input('conversation_id', 'Conversation id'), input('from', 'From', { type: 'datetime-local', value: local(query.get('from')) }), input('to', 'To', { type: 'datetime-local', value: local(query.get('to')) })),
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) params.set(k, k === 'from' || k === 'to' ? new Date(String(v)).toISOString() : String(v));
    go(`#/audit${params.size ? `?${params}` : ''}`);
  });

  const exporter = (format) => {
    const b = el('button', { type: 'button', text: `Export ${format.toUpperCase()}` });
    b.addEventListener('click', async () => {
      const params = new URLSearchParams(filter);
      params.set('format', format);
      try {
        await download(`/audit?${params}`, `keybrake-audit.${format}`);
        say(`Exported the calls that match as ${format.toUpperCase()}.`);
      } catch (err) {
        say(err.message, 'error');
      }
    });
    return b;
  };

  const rows = [];
  let cursor = null;
  const list = el('div');
  const moreButton = el('button', { type: 'button', id: 'audit-more', text: 'More', hidden: true });
  async function load(next) {
    const params = new URLSearchParams(filter);
    params.set('limit', '50');
    if (next && cursor) params.set('cursor', cursor);
    const page = await api('GET', `/audit?${params}`);
    if (!next) rows.length = 0;
    rows.push(...page.data);
    cursor = page.next_cursor;
    moreButton.hidden = !cursor;
    list.replaceChildren(callsTable(rows, filter.size ? 'No call matches these filters.' : 'No calls yet. Every call through the proxy, allowed or refused, shows here.'));
  }
  moreButton.addEventListener('click', () => void load(true));
  await load(false);

  return el('section', { class: 'page' }, el('div', { class: 'page-head' }, el('h1', { text: 'Audit trail' }), el('div', { class: 'actions' }, exporter('csv'), exporter('ndjson'))), form, list, moreButton);
}
