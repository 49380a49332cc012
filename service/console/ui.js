// The console's building blocks: the admin API client, elements built with textContent only (a value from the API is
// never parsed as HTML), tables with empty states, the side panel, forms that show the API's messages next to the
// field they name, and bar charts drawn as SVG.
const KEY = 'keybrake.adminKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(message, status, param) {
    super(message);
    this.status = status;
    this.param = param;
  }
}

export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${session.key()}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    credentials: 'omit',
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) {
    window.dispatchEvent(new CustomEvent('keybrake:signed-out', { detail: 'Your admin key was refused; sign in again.' }));
    throw new ApiError('Your admin key was refused.', 401);
  }
  if (!res.ok) throw new ApiError((data.error && data.error.message) || `HTTP ${res.status}`, res.status, data.error && data.error.param);
  return data;
}

/** Downloads what the API answers at `path` (an export) as a file. */
export async function download(path, filename) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${session.key()}` }, credentials: 'omit' });
  if (!res.ok) throw new ApiError(`The export failed (HTTP ${res.status}).`, res.status);
  const url = URL.createObjectURL(await res.blob());
  const a = el('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** A page of the console: its heading, then its parts. */
export const page = (title, ...parts) => el('section', { class: 'page' }, el('h1', { text: title }), ...parts);

/** Draws the current page again (after a change it shows). */
export const refresh = () => window.dispatchEvent(new Event('keybrake:refresh'));

/** Goes to another page of the console (a #/… address). */
export const go = (hash) => {
  if (location.hash === hash) refresh();
  else location.hash = hash;
};

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'hidden' || k === 'disabled' || k === 'checked' || k === 'open' || k === 'required' || k === 'multiple') node[k] = Boolean(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

export const usd = (n) => (n === null || n === undefined ? '—' : `$${Number(n).toFixed(2)}`);
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
export const day = (iso) => (iso ? new Date(iso).toLocaleDateString() : '—');
export const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** A button that copies what `text()` gives to the clipboard, and says whether it could. */
export function copyButton(text) {
  const b = el('button', { type: 'button', text: 'Copy' });
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text());
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Select it and copy';
    }
  });
  return b;
}

/** The live region every page reports to. */
export function say(message, kind = 'ok') {
  const region = $('#status');
  region.className = `status ${kind}`;
  region.textContent = message;
}

export function badge(text, kind) {
  return el('span', { class: `badge ${kind || text}`, text });
}

/** A spend-against-cap bar with its numbers beside it. */
export function spendBar(spent, cap) {
  const share = cap > 0 ? Math.min(1, spent / cap) : 0;
  const fill = el('span');
  fill.style.width = `${(share * 100).toFixed(1)}%`;
  const bar = el('span', { class: `bar${share >= 1 ? ' full' : share >= 0.8 ? ' high' : ''}`, role: 'img', 'aria-label': `${Math.round(share * 100)}% of the cap` }, fill);
  return el('span', { class: 'spend' }, bar, ` ${usd(spent)} of ${usd(cap)}`);
}

/**
 * A table: `columns` are [heading, (row) => node or text]; with no rows it says `empty` instead. Wide tables scroll
 * inside their own box on a narrow screen.
 */
export function table(caption, columns, rows, empty) {
  if (rows.length === 0) return el('p', { class: 'empty', text: empty });
  const head = el('tr', {}, columns.map(([h]) => el('th', { scope: 'col', text: h })));
  // Each cell carries its heading, which a narrow screen shows beside it (rows become cards there).
  const body = rows.map((r) => el('tr', {}, columns.map(([h, cell]) => el('td', { 'data-label': h }, cell(r)))));
  return el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption }, el('table', {}, el('caption', { class: 'visually-hidden', text: caption }), el('thead', {}, head), el('tbody', {}, body)));
}

export function dl(pairs) {
  return el('dl', {}, pairs.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v === null || v === '' ? '—' : v)]));
}

// ---- Side panel ------------------------------------------------------------------------------------------------

let lastFocus = null;

export function openPanel(title, ...content) {
  const panel = $('#panel');
  lastFocus = document.activeElement;
  $('#panel-title').textContent = title;
  $('#panel-body').replaceChildren(...content.flat().filter((c) => c !== null && c !== undefined && c !== false));
  panel.hidden = false;
  $('#panel-close').focus();
}

export function closePanel() {
  const panel = $('#panel');
  if (panel.hidden) return;
  panel.hidden = true;
  $('#panel-body').replaceChildren();
  if (lastFocus && document.contains(lastFocus)) lastFocus.focus();
}

// ---- Forms -----------------------------------------------------------------------------------------------------

/** A labelled control; `param` names the API field whose errors show under it. */
export function field(label, control, { hint, param } = {}) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  if (param) control.dataset.param = param;
  const hintNode = hint ? el('span', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
  if (hintNode) control.setAttribute('aria-describedby', hintNode.id);
  return el('div', { class: 'field' }, el('label', { for: id, text: label }), control, hintNode, el('span', { class: 'field-error', id: `${id}-error`, role: 'alert' }));
}

export function clearErrors(form) {
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  for (const e of form.querySelectorAll('.field-error, .form-error')) e.textContent = '';
}

/** Shows an API error next to the field it names (`param`, or the field before its first dot), and atop the form. */
export function showError(form, err) {
  clearErrors(form);
  const param = err.param || (/^([\w.[\]]+):/.exec(err.message) || [])[1];
  const controls = [...form.querySelectorAll('[data-param]')];
  const target = param && (controls.find((c) => c.dataset.param === param) || controls.find((c) => param.startsWith(`${c.dataset.param}.`) || param.startsWith(`${c.dataset.param}[`)));
  if (target) {
    target.setAttribute('aria-invalid', 'true');
    const slot = document.getElementById(`${target.id}-error`) || target.closest('fieldset')?.querySelector('.field-error');
    if (slot) slot.textContent = err.message;
    target.focus();
  }
  const top = form.querySelector('.form-error');
  if (top) top.textContent = err.message;
}

/**
 * A form in a panel: a heading, its fields in a grid, the place for the API's message, and its submit button; `action`
 * runs on submit (a refusal shows next to the field it names).
 */
export function formPanel(title, fields, submit, action) {
  const form = el('form', { class: 'panel', novalidate: true, 'aria-label': title }, el('h2', { text: title }), el('div', { class: 'grid' }, fields), el('p', { class: 'form-error', role: 'alert' }), el('button', { type: 'submit', class: 'primary', text: submit }));
  onSubmit(form, action);
  return form;
}

/** Runs `action` when the form is submitted; what the API refuses shows next to the field it names. */
export function onSubmit(form, action) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    try {
      await action(e);
    } catch (err) {
      if (err.status !== 401) showError(form, err);
    }
  });
}

/** A decimal typed as text goes to the API as a number; anything else as typed, for the API to name what is wrong. */
export const number = (s) => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s.trim()) : s);

// ---- Charts ----------------------------------------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs = {}, ...children) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
};

/** One row per UTC day from `from` to `to` (YYYY-MM-DD), with the given rows' values and zero elsewhere. */
export function everyDay(from, to, rows) {
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const out = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`) && out.length < 400; t += 86_400_000) {
    const d = new Date(t).toISOString().slice(0, 10);
    out.push(byDay.get(d) ?? { day: d, spent_usd: 0, requests: 0, allowed: 0, denied: 0 });
  }
  return out;
}

/**
 * Vertical bars, one per row ({label, value, note}), as SVG with a title per bar; the figures are also in the
 * table beside it, so the chart itself is one image to assistive technology.
 */
export function barChart(title, rows, format) {
  const width = Math.max(320, rows.length * 28 + 60);
  const height = 180;
  const max = Math.max(0.01, ...rows.map((r) => r.value));
  const bars = rows.map((r, i) => {
    const h = Math.max(r.value > 0 ? 2 : 0, Math.round((r.value / max) * (height - 40)));
    const x = 50 + i * 28;
    return svg('g', {}, svg('rect', { x, y: height - 20 - h, width: 20, height: h, class: 'chart-bar' }, svg('title', {}, document.createTextNode(`${r.label}: ${format(r.value)}${r.note ? `, ${r.note}` : ''}`))));
  });
  const axis = [svg('line', { x1: 44, y1: height - 20, x2: width - 6, y2: height - 20, class: 'chart-axis' }), svg('text', { x: 40, y: 16, 'text-anchor': 'end', class: 'chart-label' }, document.createTextNode(format(max)))];
  // The first and last bars are labelled (and one in the middle of a long range).
  const marks = [...new Set([0, rows.length > 8 ? Math.floor(rows.length / 2) : 0, rows.length - 1])].filter((i) => i >= 0);
  const labels = marks.map((i) => svg('text', { x: 50 + i * 28 + 10, y: height - 4, 'text-anchor': i === 0 && rows.length > 1 ? 'start' : i === rows.length - 1 && rows.length > 1 ? 'end' : 'middle', class: 'chart-label' }, document.createTextNode(rows[i].label)));
  return el('figure', { class: 'chart' }, svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': `${title}: ${rows.length} bars, highest ${format(max)}` }, ...axis, ...bars, ...labels));
}
