// A paged, filtered list of events or deliveries, newest first, with
// "Load more" and a live refresh while the page is visible.
import { api } from './api.js';
import { h, errorBox, isAbort, field, every, localToISO } from './ui.js';

const saved = new Map(); // filters and live toggle per list, in memory only
const LIVE_MS = 5000;

// filters: [{name, label, options?, time?}]; fixed: query always sent;
// item(row) → <li>.
export function listView(ctx, { key, title, path, filters, fixed = {}, item, intro, noun }) {
  const state = saved.get(key) ?? { values: {}, live: false };
  saved.set(key, state);
  for (const [k, v] of ctx.params) if (filters.some((f) => f.name === k && !f.time)) state.values[k] = v;

  const inputs = {};
  const fields = filters.map((f) => {
    const attrs = { name: f.name, value: state.values[f.name] ?? '' };
    if (f.time) attrs.type = 'datetime-local';
    const { input, el } = field(`${key}-${f.name}`, f.label, attrs, f.options);
    inputs[f.name] = input;
    return el;
  });
  const ul = h('ul', { class: 'rows', 'aria-label': title });
  const more = h('button', { type: 'button', hidden: true, onclick: () => load(true) }, 'Load more');
  const status = h('p', { class: 'muted small', 'aria-live': 'polite' });
  const err = h('div');
  const live = h('input', { type: 'checkbox', id: key + '-live', checked: state.live });
  let cursor = null;
  let shown = 0;
  let seq = 0; // the latest load; an older one's answer is dropped
  let busy = false;
  let stop = null;

  // load fetches the first page again, or the next one (append); a live
  // tick (auto) waits for no one and skips while a load is on its way.
  async function load(append, auto = false) {
    if (auto && busy) return;
    const mine = ++seq;
    busy = true;
    const q = new URLSearchParams();
    for (const f of filters) {
      const v = f.time ? localToISO(inputs[f.name].value) : inputs[f.name].value.trim();
      if (v) q.set(f.name, v);
    }
    for (const [k, v] of Object.entries(fixed)) q.set(k, v);
    if (append) q.set('cursor', cursor);
    else if (shown > 50) q.set('limit', String(Math.min(shown, 200))); // a refresh keeps what is shown
    try {
      const page = await api('GET', `${path}?${q}`, undefined, ctx);
      if (mine !== seq) return;
      err.replaceChildren();
      const rows = page.data.map(item);
      if (append) ul.append(...rows); else ul.replaceChildren(...rows);
      shown = append ? shown + rows.length : rows.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.textContent = shown === 0 ? `No ${noun} match.`
        : `${shown} ${noun}${cursor ? ' shown, more below' : ''} · updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      if (!isAbort(e) && mine === seq) err.replaceChildren(errorBox(e));
    } finally {
      if (mine === seq) busy = false;
    }
  }

  function setLive() {
    state.live = live.checked;
    stop?.();
    stop = live.checked ? every(ctx, LIVE_MS, () => load(false, true)) : null;
  }
  live.addEventListener('change', setLive);

  const form = h('form', {
    class: 'card', 'aria-label': 'Filters',
    onsubmit: (e) => {
      e.preventDefault();
      for (const f of filters) state.values[f.name] = inputs[f.name].value;
      load(false);
    },
  },
  h('details', { open: matchMedia('(min-width: 40rem)').matches || Object.values(state.values).some(Boolean) },
    h('summary', {}, 'Filters'),
    h('div', { class: 'grid' }, fields)),
  h('div', { class: 'bar' },
    h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
    h('button', {
      type: 'button',
      onclick: () => { for (const f of filters) inputs[f.name].value = ''; state.values = {}; load(false); },
    }, 'Clear'),
    h('label', { class: 'check', for: live.id }, live, `Live refresh (every ${LIVE_MS / 1000} s)`)));

  ctx.main.append(h('h1', {}, title), ...(intro ? [intro] : []), form, err, status, ul, h('div', { class: 'bar' }, more));
  setLive();
  return load(false);
}
