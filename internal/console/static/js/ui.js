// DOM helpers shared by the views. Everything is built with
// createElement and textContent: no HTML is ever parsed from data.

// h builds an element: attrs holds properties (class, value, hidden…),
// on* listeners, and attributes (aria-*, data-*, for); children are nodes,
// strings, arrays, or null (skipped).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k in el && !k.includes('-') && k !== 'for' && k !== 'list') el[k] = v;
    else if (v !== false) el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export const isAbort = (e) => e?.name === 'AbortError';

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export const time = (iso) => h('time', { dateTime: iso ?? '' }, fmtTime(iso));
export const badge = (status) => status ? h('span', { class: 'badge ' + status }, status) : null;
export const mono = (text) => h('span', { class: 'mono' }, text);

// connLink links a connection id to its view, or says there is none.
export function connLink(id) {
  if (!id) return h('span', { class: 'muted' }, 'no connection');
  return h('a', { href: '#/connections/' + encodeURIComponent(id), class: 'conn' }, 'connection ', mono(id));
}

export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

// pretty shows a JSON value indented, or text as it is (JSON when it parses).
export function pretty(value, label) {
  let text = value;
  if (typeof value === 'string') {
    try { text = JSON.stringify(JSON.parse(value), null, 2); } catch { text = value; }
  } else {
    text = JSON.stringify(value, null, 2);
  }
  return h('pre', { tabIndex: 0, 'aria-label': label ?? 'JSON' }, text);
}

export function headersTable(obj) {
  return pretty(Object.keys(obj).sort().map((k) => `${k}: ${obj[k]}`).join('\n'), 'headers');
}

// errorBox shows an error readably: the envelope's message, its code.
export function errorBox(err) {
  const code = err.code && err.status ? ` (${err.status} ${err.code})` : '';
  return h('div', { class: 'alert', role: 'alert' }, (err.message || String(err)) + code);
}
export const notice = (text) => h('div', { class: 'notice', role: 'status' }, text);

// confirmDialog asks before an action that sends something; it resolves
// true when confirmed. Its first button (Cancel) has focus; Escape closes.
export function confirmDialog({ title, text, payload, ok = 'Confirm' }) {
  const dlg = document.getElementById('confirm');
  dlg.querySelector('#confirm-title').textContent = title;
  dlg.querySelector('#confirm-text').textContent = text ?? '';
  const pre = dlg.querySelector('#confirm-payload');
  pre.textContent = payload ?? '';
  pre.hidden = !payload;
  const okBtn = dlg.querySelector('#confirm-ok');
  okBtn.textContent = ok;
  return new Promise((resolve) => {
    const done = (v) => () => dlg.close(v);
    const cancel = dlg.querySelector('#confirm-cancel');
    cancel.onclick = done('cancel');
    okBtn.onclick = done('ok');
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.returnValue = '';
    dlg.showModal();
    cancel.focus();
  });
}

// every calls f every ms while the page is visible, until ctx ends.
export function every(ctx, ms, f) {
  const t = setInterval(() => { if (document.visibilityState === 'visible') f(); }, ms);
  ctx.signal.addEventListener('abort', () => clearInterval(t));
  return () => clearInterval(t);
}

// later calls f once after ms, unless ctx has ended or the returned
// func was called.
export function later(ctx, ms, f) {
  const t = setTimeout(f, ms);
  ctx.signal.addEventListener('abort', () => clearTimeout(t), { once: true });
  return () => clearTimeout(t);
}

// localToISO turns a datetime-local value into RFC 3339 UTC.
export function localToISO(v) {
  const d = new Date(v);
  return isNaN(d) ? '' : d.toISOString();
}

// field is a labelled input or select; opts.options makes a select.
export function field(id, label, attrs = {}, options) {
  const input = options
    ? h('select', { id, ...attrs }, h('option', { value: '' }, 'any'), options.map((o) => h('option', { value: o }, o)))
    : h('input', { id, type: 'text', ...attrs });
  if (attrs.value !== undefined) input.value = attrs.value;
  return { input, el: h('div', {}, h('label', { for: id }, label), input) };
}
