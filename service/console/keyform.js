// The form that issues a vault key (POST /vault/keys) or changes one (PATCH /vault/keys/{id}): the vendor's usual
// endpoints to tick (from the catalogs the generators use) and any others, the caps, the expiry and every policy
// field. The API validates; its message shows next to the field it names.
import { api, el, field, number, onSubmit } from './ui.js';

const ZONES = ['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Chicago', 'America/Los_Angeles', 'Asia/Tokyo', 'Asia/Kolkata', 'Australia/Sydney'];

const list = (s) => s.split(/[\s,]+/).filter(Boolean);
/** Entries that may contain spaces ("POST /v1/refunds"): split at commas and line ends only. */
const entries = (s) => s.split(/\s*[,\n]\s*/).filter(Boolean);

class FormProblem extends Error {
  constructor(param, message) {
    super(`${param}: ${message}`);
    this.param = param;
  }
}

function json(param, text) {
  try {
    return JSON.parse(text);
  } catch {
    throw new FormProblem(param, 'is not valid JSON');
  }
}

/**
 * The policy fields: how each is shown (from the key as the API shows it) and read back. `read` gets the trimmed
 * text and returns the value to send.
 */
const POLICY = [
  { param: 'max_usd_per_call', label: 'Most per call (USD)', show: (k) => k.max_usd_per_call, read: number, hint: 'A call priced above this is refused.' },
  { param: 'total_usd_cap', label: 'Lifetime cap (USD)', show: (k) => k.total_usd_cap, read: number },
  { param: 'rate_limit', label: 'Requests per minute', show: (k) => k.rate_limit?.requests_per_minute, read: (s) => ({ requests_per_minute: number(s) }) },
  { param: 'dedupe_window', label: 'Duplicate window', show: (k) => k.dedupe_window, read: (s) => s, hint: 'An identical money-moving call within it is not made twice: 10m, 2h, or off.', fallback: '10m' },
  { param: 'timezone', label: 'Time zone of the daily cap', show: (k) => k.timezone, read: (s) => s, list: 'zones', fallback: 'UTC' },
  { param: 'alert_thresholds', label: 'Alert at (fractions of the cap)', show: (k) => k.alert_thresholds?.join(', '), read: (s) => list(s).map(number), hint: 'e.g. 0.5, 0.8', fallback: '0.8' },
  { param: 'webhook_url', label: "This key's webhook URL", show: (k) => k.webhook_url, read: (s) => s, type: 'url' },
  { param: 'alert_emails', label: 'Email alerts to', show: (k) => k.alert_emails?.join(', '), read: list, hint: 'Addresses, comma-separated (needs KEYBRAKE_SMTP_URL).' },
  { param: 'approval_above_usd', label: 'Ask a person above (USD)', show: (k) => k.approval_above_usd, read: number, hint: 'A call priced above this waits for approval.' },
  { param: 'approval_endpoints', label: 'Always ask a person for', show: (k) => k.approval_endpoints?.join(', '), read: entries, hint: 'Endpoints, comma-separated: POST /v1/refunds' },
  { param: 'approval_wait', label: 'Wait for approval (seconds)', show: (k) => (k.approval_wait ? k.approval_wait : ''), read: number, hint: 'Up to 50; 0 answers approval_required at once.', fallback: '0' },
  { param: 'max_call_seconds', label: 'Longest call (seconds)', show: (k) => k.max_call_seconds, read: number, vendor: 'twilio' },
  { param: 'max_call_legs', label: 'Most legs a call may dial', show: (k) => k.max_call_legs, read: number, vendor: 'twilio', hint: 'Needed for calls whose TwiML is fetched from a URL.' },
  { param: 'stripe_accounts', label: 'Connected accounts (acct_…)', show: (k) => k.stripe_accounts?.join(', '), read: list, vendor: 'stripe' },
  { param: 'params', label: 'Parameter rules (JSON)', show: (k) => (k.params ? JSON.stringify(k.params, null, 2) : ''), read: (s) => json('params', s), area: true, hint: '{"POST /v1/payment_intents": {"currency": {"in": ["usd"]}, "amount": {"max": 5000}}}' },
  { param: 'metadata', label: 'Metadata (JSON)', show: (k) => (k.metadata ? JSON.stringify(k.metadata) : ''), read: (s) => json('metadata', s), area: true },
];

/**
 * The form. `key`: the key to change (as GET /vault/keys/{id} shows it); without it, a new key. `onSaved` gets the
 * API's answer.
 */
export function keyForm({ vendors, budgets, key, onSaved }) {
  const editing = Boolean(key);
  const form = el('form', { class: 'panel key-form', novalidate: true, 'aria-label': editing ? 'Change this key' : 'Issue a key' });
  const vendor = el('select', { disabled: editing }, vendors.map((v) => el('option', { value: v.id, text: v.name })));
  vendor.value = key ? key.vendor : vendors[0]?.id ?? '';
  const label = el('input', { value: key?.label ?? '', maxlength: '256', autocomplete: 'off' });
  const cap = el('input', { inputmode: 'decimal', value: key ? String(key.daily_usd_cap) : '20', autocomplete: 'off' });
  const expires = el('input', { value: editing ? '' : '24h', autocomplete: 'off' });
  const never = el('input', { type: 'checkbox', id: 'key-never', 'data-param': 'expires_at' });
  const others = el('textarea', { rows: '3', spellcheck: 'false' });
  const choicesBox = el('fieldset', { class: 'choices' });
  const budget = el('select', {}, el('option', { value: '', text: 'No shared budget' }), budgets.map((b) => el('option', { value: b.id, text: `${b.label || b.id} (${b.id})` })));
  budget.value = key?.budget ?? '';
  const policyBox = el('div', { class: 'grid' });
  const inputs = new Map();

  function drawVendorParts() {
    const v = vendors.find((x) => x.id === vendor.value);
    const allowed = new Set(key ? key.allowed_endpoints : (v?.endpoints ?? []).filter((e) => e.spends).slice(0, 1).map((e) => e.endpoint));
    const known = new Set((v?.endpoints ?? []).map((e) => e.endpoint));
    choicesBox.replaceChildren(
      el('legend', { text: 'Allowed endpoints' }),
      ...(v?.endpoints ?? []).map((e) => {
        const box = el('input', { type: 'checkbox', value: e.endpoint, checked: allowed.has(e.endpoint) });
        const id = `ep-${Math.random().toString(36).slice(2, 9)}`;
        box.id = id;
        return el('div', { class: 'choice' }, box, el('label', { for: id }, el('code', { text: e.endpoint }), ` ${e.summary}${e.spends ? ' (spends)' : ''}`));
      }),
      field('Other endpoints, one per line', others, { hint: 'METHOD /path, with {id} for one segment and ** for the rest; * alone allows every endpoint.', param: 'allowed_endpoints' }),
    );
    others.value = key ? key.allowed_endpoints.filter((e) => !known.has(e)).join('\n') : '';
    policyBox.replaceChildren(
      ...POLICY.filter((p) => !p.vendor || p.vendor === vendor.value).map((p) => {
        const shown = key ? p.show(key) : undefined;
        const input = p.area ? el('textarea', { rows: '3', spellcheck: 'false', placeholder: p.hint || '' }) : el('input', { type: p.type || 'text', autocomplete: 'off', list: p.list || undefined, placeholder: p.fallback || '' });
        input.value = shown === undefined || shown === null ? '' : String(shown);
        inputs.set(p.param, { p, input, shown: input.value });
        return field(p.label, input, { hint: p.area ? undefined : p.hint, param: p.param });
      }),
      field('Shared budget', budget, { param: 'budget' }),
    );
    for (const k of [...inputs.keys()]) if (!POLICY.some((p) => p.param === k && (!p.vendor || p.vendor === vendor.value))) inputs.delete(k);
  }
  vendor.addEventListener('change', drawVendorParts);
  drawVendorParts();

  /** The request body: everything for a new key; for a change, only what changed (a cleared field removes it). */
  function body() {
    const out = {};
    if (!editing) out.vendor = vendor.value;
    if (!editing || label.value !== key.label) out.label = label.value;
    if (!editing || cap.value.trim() !== String(key.daily_usd_cap)) out.daily_usd_cap = number(cap.value.trim());
    const endpoints = [...choicesBox.querySelectorAll('input[type=checkbox]:checked')].map((b) => b.value).concat(others.value.split('\n').map((s) => s.trim()).filter(Boolean));
    if (!editing || endpoints.join('\n') !== key.allowed_endpoints.join('\n')) out.allowed_endpoints = endpoints;
    if (never.checked) out.expires_at = null;
    else if (expires.value.trim()) out.expires_in = expires.value.trim();
    for (const { p, input, shown } of inputs.values()) {
      const text = input.value.trim();
      if (editing && text === shown.trim()) continue;
      if (text === '') {
        if (editing && shown !== '') out[p.param] = null;
        continue;
      }
      out[p.param] = p.read(text);
    }
    if ((budget.value || null) !== (key?.budget ?? null)) out.budget = budget.value || null;
    return out;
  }

  onSubmit(form, async () => {
    const sent = body();
    onSaved(editing ? await api('PATCH', `/vault/keys/${encodeURIComponent(key.id)}`, sent) : await api('POST', '/vault/keys', sent));
  });

  const parts = [
    el('h2', { text: editing ? 'Change this key' : 'Issue a key' }),
    el('div', { class: 'grid' },
      field('Vendor', vendor, { param: 'vendor' }),
      field('Label', label, { param: 'label', hint: 'Who or what holds the key, e.g. user-42/conversation-7.' }),
      field('Daily cap (USD)', cap, { param: 'daily_usd_cap' }),
      field(editing ? 'New expiry, from now' : 'Expires in', expires, { param: 'expires_in', hint: editing ? `Now ${key.expires_at ? new Date(key.expires_at).toLocaleString() : 'never'}; e.g. 24h or 7d.` : 'e.g. 30m, 24h or 7d; empty: never.' }),
    ),
    editing ? el('div', { class: 'choice' }, never, el('label', { for: never.id, text: 'Never expires' })) : null,
    choicesBox,
    el('details', { class: 'policy', open: editing }, el('summary', { text: 'Limits and rules' }), policyBox),
    el('datalist', { id: 'zones' }, ZONES.map((z) => el('option', { value: z }))),
    el('p', { class: 'form-error', role: 'alert' }),
    el('button', { type: 'submit', class: 'primary', text: editing ? 'Save changes' : 'Issue the key' }),
  ];
  form.append(...parts.filter(Boolean));
  return form;
}
