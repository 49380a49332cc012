// Calls whose outcome is unknown (a timeout, a reset, a 5xx): the reconciler asks the vendor; those it cannot settle
// wait here for a person to settle (it took effect, at this amount) or release (it did not).
import { showCall } from './audit.js';
import { api, el, field, number, onSubmit, openPanel, page, refresh, say, table, usd, when } from './ui.js';

function resolveForm(r) {
  const amount = el('input', { inputmode: 'decimal', value: String(r.reserved_usd ?? 0), autocomplete: 'off' });
  const note = el('input', { autocomplete: 'off', maxlength: '500' });
  const form = el(
    'form',
    { novalidate: true, 'aria-label': `Resolve ${r.id}` },
    el('p', { text: `Reserved ${usd(r.reserved_usd)}. Look the call up at ${r.vendor} first: settle it at what it really cost if it took effect, release it if it did not.` }),
    field('It cost (USD)', amount, { param: 'usd' }),
    field('Note', note, { param: 'note' }),
    el('p', { class: 'form-error', role: 'alert' }),
    el('button', { type: 'submit', class: 'primary', value: 'settle', text: 'Settle: it took effect' }),
    ' ',
    el('button', { type: 'submit', class: 'danger', value: 'release', text: 'Release: it did not' }),
  );
  onSubmit(form, async (e) => {
    const action = e.submitter?.value === 'release' ? 'release' : 'settle';
    const noted = note.value ? { note: note.value } : {};
    await api('POST', `/audit/${encodeURIComponent(r.id)}/${action}`, action === 'settle' ? { usd: number(amount.value), ...noted } : noted);
    say(action === 'settle' ? `Settled ${r.id}.` : `Released ${r.id}.`);
    refresh();
  });
  return form;
}

export async function reconcilePage() {
  const [pending, manual] = await Promise.all([api('GET', '/audit?reconcile=pending&limit=200'), api('GET', '/audit?reconcile=manual&limit=200')]);
  const rows = [...manual.data, ...pending.data];
  return page(
    'Reconciliation',
    el('p', { class: 'hint', text: 'Their reservations stand (counted against the caps) until each is resolved; an identical call waits for the answer.' }),
    table(
      'Calls waiting',
      [
        ['Time', (r) => el('button', { type: 'button', class: 'link', text: when(r.time), onclick: () => showCall(r) })],
        ['Key', (r) => r.label || r.key_id || '—'],
        ['Call', (r) => el('code', { text: `${r.vendor} ${r.method} ${r.path}` })],
        ['Reserved', (r) => usd(r.reserved_usd)],
        ['State', (r) => (r.reconcile_state === 'manual' ? 'needs a person' : `asking ${r.vendor} (${r.reconcile_attempts} tries)`)],
        ['Note', (r) => r.reconcile_note || '—'],
        ['', (r) => el('button', { type: 'button', text: 'Resolve…', onclick: () => openPanel(`Resolve ${r.method} ${r.path}`, resolveForm(r)) })],
      ],
      rows,
      'Nothing waiting: the outcome of every call is known.',
    ),
  );
}
