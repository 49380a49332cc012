// Calls that wait for a person (policy fields approval_above_usd, approval_endpoints): what each asks, for how much,
// until when; approve or deny it with a reason. An approved call is sent when the agent makes the identical call again.
// #/approvals/<id> (the console link in approval.requested) shows that approval above the list of its status.
import { api, badge, dl, el, field, onSubmit, openPanel, page, refresh, say, table, usd, when } from './ui.js';

const STATUSES = ['pending', 'approved', 'denied', 'expired', 'used'];

/** What an approval asks for. */
const summary = (a) =>
  dl([
    ['Key', `${a.label || a.key_id} (${a.key_id})`],
    ['Call', el('code', { text: `${a.vendor} ${a.method} ${a.path}` })],
    ['Amount', usd(a.amount_usd)],
    ['Priced', a.priced],
    ['Expires', when(a.expires_at)],
  ]);

function decideForm(a, action) {
  const reason = el('input', { autocomplete: 'off', maxlength: '1000' });
  const verb = action === 'approve' ? 'Approve' : 'Deny';
  const form = el(
    'form',
    { novalidate: true, 'aria-label': `${verb} ${a.id}` },
    summary(a),
    field('Reason (optional)', reason, { param: 'reason' }),
    el('p', { class: 'form-error', role: 'alert' }),
    el('button', { type: 'submit', class: action === 'approve' ? 'primary' : 'danger', text: verb }),
  );
  onSubmit(form, async () => {
    await api('POST', `/approvals/${encodeURIComponent(a.id)}/${action}`, reason.value ? { reason: reason.value } : {});
    say(action === 'approve' ? `Approved ${a.id}: the identical call will be sent once.` : `Denied ${a.id}; its reservation is released.`);
    refresh();
  });
  return form;
}

function actions(a) {
  const buttons = [];
  if (a.status === 'pending') buttons.push(el('button', { type: 'button', text: 'Approve…', onclick: () => openPanel(`Approve ${a.method} ${a.path}`, decideForm(a, 'approve')) }));
  if (a.status === 'pending' || a.status === 'approved') buttons.push(' ', el('button', { type: 'button', text: 'Deny…', onclick: () => openPanel(`Deny ${a.method} ${a.path}`, decideForm(a, 'deny')) }));
  return buttons.length ? el('span', {}, ...buttons) : '—';
}

/** One approval, as the alert's console link opens it: what it asks, where it stands, and its actions. */
function oneApproval(a) {
  return el(
    'section',
    { class: 'panel', 'aria-label': `Approval ${a.id}` },
    el('h2', {}, `Approval ${a.id} `, badge(a.status)),
    summary(a),
    a.decided_at ? el('p', { text: `Decided by ${a.decided_by} at ${when(a.decided_at)}${a.reason ? `: ${a.reason}` : ''}.` }) : null,
    a.status === 'pending' || a.status === 'approved' ? actions(a) : null,
  );
}

export async function approvalsPage(query, id) {
  const one = id ? await api('GET', `/approvals/${encodeURIComponent(id)}`) : undefined;
  const asked = query.get('status');
  const status = STATUSES.includes(asked) ? asked : (one?.status ?? 'pending');
  const list = await api('GET', `/approvals?status=${status}&limit=200`);
  const select = el('select', { id: 'approval-status', onchange: (e) => (location.hash = `#/approvals?status=${e.target.value}`) }, STATUSES.map((s) => el('option', { value: s, text: s, ...(s === status ? { selected: true } : {}) })));
  return page(
    'Approvals',
    el('p', { class: 'hint', text: 'Calls above a key’s or budget’s approval threshold wait here, their amount reserved against every cap. Approved, the identical call is sent once, until the approval expires; denied or expired, the reservation is released.' }),
    one ? oneApproval(one) : null,
    el('div', { class: 'filters' }, el('label', { for: 'approval-status', text: 'Status' }), select),
    table(
      `Approvals: ${status}`,
      [
        ['Asked', (a) => when(a.created_at)],
        ['Key', (a) => el('a', { href: `#/keys/${encodeURIComponent(a.key_id)}`, text: a.label || a.key_id })],
        ['Call', (a) => el('code', { text: `${a.vendor} ${a.method} ${a.path}` })],
        ['Amount', (a) => usd(a.amount_usd)],
        ['Status', (a) => badge(a.status)],
        ['Decided', (a) => (a.decided_at ? `${a.decided_by} · ${when(a.decided_at)}${a.reason ? ` · ${a.reason}` : ''}` : '—')],
        ['Expires', (a) => when(a.expires_at)],
        ['', actions],
      ],
      list.data,
      status === 'pending' ? 'Nothing waits for a decision.' : `No ${status} approvals.`,
    ),
  );
}
