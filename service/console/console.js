// The admin console: plain browser JavaScript, no build step, and only the public admin API. Every value from the
// API is rendered with textContent (never as HTML); the admin key lives in this tab's sessionStorage.
'use strict';

(() => {
  const $ = (sel) => document.querySelector(sel);
  const KEY = 'keybrake.adminKey';
  const adminKey = () => sessionStorage.getItem(KEY);

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${adminKey()}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      credentials: 'omit',
    });
    const data = await res.json().catch(() => ({}));
    if (res.status === 401) {
      signOut('Your admin key was refused; sign in again.');
      throw new Error('unauthorized');
    }
    if (!res.ok) throw new Error((data.error && data.error.message) || `HTTP ${res.status}`);
    return data;
  }

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }
  const usd = (n) => (n === null || n === undefined ? '—' : `$${Number(n).toFixed(2)}`);
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

  function show(view) {
    for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== view;
    for (const b of document.querySelectorAll('nav .tab')) b.classList.toggle('active', b.dataset.view === view);
    const load = { keys: loadKeys, audit: () => loadAudit(false), spend: loadSpend, webhooks: loadWebhooks }[view];
    if (load) load().catch((e) => console.warn(e));
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    $('#nav').hidden = true;
    show('signin');
    $('#signin-error').textContent = message || '';
  }

  $('#signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $('#admin-key').value.trim());
    $('#admin-key').value = '';
    try {
      await api('GET', '/vault/keys?limit=1');
      $('#nav').hidden = false;
      show('keys');
    } catch (err) {
      if (err.message !== 'unauthorized') $('#signin-error').textContent = err.message;
    }
  });
  $('#signout').addEventListener('click', () => signOut());
  for (const b of document.querySelectorAll('nav .tab')) b.addEventListener('click', () => show(b.dataset.view));

  // Keys
  async function loadKeys() {
    const vendors = await api('GET', '/vendors');
    const select = $('#issue-vendor');
    if (select.options.length === 0) for (const v of vendors.data) select.append(el('option', { value: v.id, text: v.name }));
    const list = await api('GET', '/vault/keys?limit=100');
    const details = await Promise.all(list.data.map((k) => api('GET', `/vault/keys/${encodeURIComponent(k.id)}`)));
    const body = $('#keys-table tbody');
    body.replaceChildren();
    for (const k of details) {
      const share = k.daily_usd_cap > 0 ? Math.min(1, k.spent_today_usd / k.daily_usd_cap) : 0;
      const fill = el('span');
      fill.style.width = `${(share * 100).toFixed(1)}%`;
      const bar = el('span', { class: `bar${share >= 1 ? ' full' : share >= 0.8 ? ' high' : ''}`, title: `${Math.round(share * 100)}%` }, fill);
      const revoke = el('button', { text: 'Revoke', type: 'button' });
      revoke.disabled = k.status !== 'active';
      revoke.addEventListener('click', async () => {
        if (!window.confirm(`Revoke the key "${k.label || k.id}"? Its next call will be refused.`)) return;
        await api('DELETE', `/vault/keys/${encodeURIComponent(k.id)}`);
        $('#keys-message').textContent = `Revoked ${k.id}.`;
        await loadKeys();
      });
      body.append(
        el(
          'tr',
          { 'data-key-id': k.id },
          el('td', { class: `status-${k.status}`, text: k.status }),
          el('td', { text: k.label }),
          el('td', { text: k.vendor }),
          el('td', {}, bar, ` ${usd(k.spent_today_usd)} of ${usd(k.daily_usd_cap)}`),
          el('td', { text: when(k.expires_at) }),
          el('td', {}, revoke),
        ),
      );
    }
  }

  $('#issue-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('#issue-error').textContent = '';
    const expires = $('#issue-expires').value.trim();
    try {
      const key = await api('POST', '/vault/keys', {
        vendor: $('#issue-vendor').value,
        daily_usd_cap: Number($('#issue-cap').value),
        allowed_endpoints: $('#issue-endpoints').value.split(/[,\n]/).map((s) => s.trim()).filter(Boolean),
        ...(expires ? { expires_in: expires } : {}),
        label: $('#issue-label').value,
      });
      $('#issued-key').textContent = key.vault_key;
      $('#issued').hidden = false;
      await loadKeys();
    } catch (err) {
      $('#issue-error').textContent = err.message;
    }
  });
  $('#copy-key').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('#issued-key').textContent);
      $('#copy-key').textContent = 'Copied';
    } catch {
      $('#copy-key').textContent = 'Select and copy';
    }
  });
  $('#bulk-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const prefix = $('#bulk-prefix').value;
    const matching = await api('GET', `/vault/keys?status=active&limit=200&label_prefix=${encodeURIComponent(prefix)}`);
    if (!window.confirm(`Revoke ${matching.data.length} active key(s) whose label starts with "${prefix}"?`)) return;
    const res = await api('POST', '/vault/keys/revoke', { label_prefix: prefix });
    $('#keys-message').textContent = `Revoked ${res.revoked} key(s).`;
    await loadKeys();
  });

  // Audit
  let auditCursor = null;
  async function loadAudit(more) {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData($('#audit-form'))) {
      if (!v) continue;
      params.set(k, k === 'from' || k === 'to' ? new Date(v).toISOString() : v);
    }
    params.set('limit', '50');
    if (more && auditCursor) params.set('cursor', auditCursor);
    $('#audit-error').textContent = '';
    let page;
    try {
      page = await api('GET', `/audit?${params}`);
    } catch (err) {
      $('#audit-error').textContent = err.message;
      return;
    }
    const body = $('#audit-table tbody');
    if (!more) body.replaceChildren();
    for (const r of page.data) {
      body.append(
        el(
          'tr',
          { class: 'clickable', 'data-audit-id': r.id, onclick: () => showDetail(r) },
          el('td', { text: when(r.time) }),
          el('td', { text: r.label || '—' }),
          el('td', { text: `${r.vendor} ${r.method} ${r.path}` }),
          el('td', { class: `decision-${r.decision}`, text: r.code ? `${r.decision} (${r.code})` : r.decision }),
          el('td', { text: r.status === null ? '—' : String(r.status) }),
          el('td', { text: usd(r.settled_usd ?? r.reserved_usd) }),
        ),
      );
    }
    auditCursor = page.next_cursor;
    $('#audit-more').hidden = !auditCursor;
  }
  function showDetail(r) {
    $('#audit-detail').hidden = false;
    $('#detail-title').textContent = `${r.method} ${r.path} — ${r.id}`;
    const dl = $('#detail-fields');
    dl.replaceChildren();
    for (const k of ['time', 'key_id', 'label', 'decision', 'code', 'message', 'status', 'estimated_usd', 'settled_usd', 'run_id', 'conversation_id', 'object_id', 'idempotency_key']) {
      dl.append(el('dt', { text: k }), el('dd', { text: r[k] === null || r[k] === undefined ? '—' : String(r[k]) }));
    }
    $('#detail-request').textContent = r.request_body || '(no body)';
    let response = r.response_body || '(no body)';
    try {
      response = JSON.stringify(JSON.parse(response), null, 2);
    } catch {
      /* not JSON: shown as it is */
    }
    $('#detail-response').textContent = response;
  }
  $('#audit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    loadAudit(false);
  });
  $('#audit-more').addEventListener('click', () => loadAudit(true));

  // Spend
  function chart(target, rows, name) {
    const max = Math.max(0.01, ...rows.map((r) => r.spent_usd));
    target.replaceChildren();
    if (rows.length === 0) target.append(el('p', { class: 'hint', text: 'No spend yet.' }));
    for (const r of rows) {
      const fill = el('span', { class: 'fill', title: usd(r.spent_usd) });
      fill.style.width = `${Math.round((r.spent_usd / max) * 400)}px`;
      target.append(el('div', { class: 'row' }, el('span', { class: 'name', text: r[name] || '—' }), fill, el('span', { text: `${usd(r.spent_usd)} · ${r.requests} calls` })));
    }
  }
  async function loadSpend() {
    const from = new Date(Date.now() - 30 * 86400000).toISOString();
    const [byDay, byVendor] = await Promise.all([api('GET', `/usage?group_by=day&from=${from}`), api('GET', `/usage?group_by=vendor&from=${from}`)]);
    chart($('#chart-day'), byDay.data, 'day');
    chart($('#chart-vendor'), byVendor.data, 'vendor');
  }

  // Webhooks
  async function loadWebhooks() {
    const res = await api('GET', '/webhooks/deliveries?limit=100');
    const body = $('#webhooks-table tbody');
    body.replaceChildren();
    for (const d of res.data) {
      body.append(
        el(
          'tr',
          {},
          el('td', { text: when(d.created_at) }),
          el('td', { text: d.type }),
          el('td', { text: d.url }),
          el('td', { text: d.status }),
          el('td', { text: String(d.attempts) }),
          el('td', { text: d.last_status ? `HTTP ${d.last_status}` : d.last_error || '—' }),
        ),
      );
    }
  }

  if (adminKey()) {
    $('#nav').hidden = false;
    show('keys');
  } else show('signin');
})();
