// The admin console: plain browser JavaScript modules, no build step, and only the public admin API. Every value
// from the API is rendered as text (ui.js), the admin key lives in this tab's sessionStorage, and the page is chosen
// by the address's #fragment (#/keys, #/keys/<id>, #/audit, …), so that back, forward and links work.
import { approvalsPage } from './approvals.js';
import { auditPage } from './audit.js';
import { budgetPage, budgetsPage } from './budgets.js';
import { keyPage, keysPage } from './keys.js';
import { reconcilePage } from './reconcile.js';
import { spendPage } from './spend.js';
import { $, api, closePanel, el, session } from './ui.js';
import { vendorsPage } from './vendors.js';
import { webhooksPage } from './webhooks.js';

const ROUTES = {
  keys: (id, query) => (id ? keyPage(id) : keysPage(query)),
  approvals: (id, query) => approvalsPage(query, id),
  audit: (_id, query) => auditPage(query),
  spend: (_id, query) => spendPage(query),
  budgets: (id) => (id ? budgetPage(id) : budgetsPage()),
  vendors: () => vendorsPage(),
  reconcile: () => reconcilePage(),
  webhooks: (_id, query) => webhooksPage(query),
};

function route() {
  const [path, qs] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, id] = (path || '').split('/');
  return { name: ROUTES[name] ? name : 'keys', id: id ? decodeURIComponent(id) : undefined, query: new URLSearchParams(qs || '') };
}

let rendering = 0;

async function render() {
  closePanel();
  const signedIn = Boolean(session.key());
  $('#nav').hidden = !signedIn;
  $('#signout').hidden = !signedIn;
  $('#signin').hidden = signedIn;
  const page = $('#page');
  if (!signedIn) {
    page.replaceChildren();
    return;
  }
  const { name, id, query } = route();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const seq = ++rendering;
  page.replaceChildren(el('p', { class: 'hint', text: 'Loading…' }));
  try {
    const node = await ROUTES[name](id, query);
    if (seq !== rendering) return; // a later navigation won
    page.replaceChildren(node);
    document.title = `${node.querySelector('h1')?.textContent || 'Console'} · Keybrake`;
  } catch (err) {
    if (seq !== rendering || err.status === 401) return;
    page.replaceChildren(el('p', { class: 'form-error', role: 'alert', text: err.message }));
  }
}

$('#signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  session.set($('#admin-key').value.trim());
  $('#admin-key').value = '';
  $('#signin-error').textContent = '';
  try {
    await api('GET', '/vault/keys?limit=1');
    await render();
    $('#view').focus();
  } catch (err) {
    session.clear();
    $('#signin-error').textContent = err.status === 401 ? 'That admin key was refused.' : err.message;
  }
});

$('#signout').addEventListener('click', () => {
  session.clear();
  $('#signin-error').textContent = '';
  void render();
});

window.addEventListener('keybrake:signed-out', (e) => {
  session.clear();
  $('#signin-error').textContent = e.detail;
  void render();
});
window.addEventListener('keybrake:refresh', () => void render());
window.addEventListener('hashchange', () => {
  // What the last page reported does not belong to the next one.
  $('#status').textContent = '';
  void render().then(() => $('#view').focus({ preventScroll: true }));
});
$('#panel-close').addEventListener('click', closePanel);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') closePanel();
});

void render();
