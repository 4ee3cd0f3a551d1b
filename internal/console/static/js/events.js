// Events: the list, one event (body, inbound log, deliveries, replay), and
// the events of one connection.
import { api } from './api.js';
import { listView } from './list.js';
import { h, badge, time, mono, connLink, facts, pretty, headersTable, errorBox, notice, confirmDialog, isAbort, later } from './ui.js';

export const TYPES = ['auth', 'sync', 'async_action', 'forward'];
export const FATES = ['skipped', 'pending', 'succeeded', 'failed'];

const filters = [
  { name: 'status', label: 'Status', options: FATES },
  { name: 'type', label: 'Type', options: TYPES },
  { name: 'connection_id', label: 'Connection id' },
  { name: 'provider_config_key', label: 'Provider config key' },
  { name: 'since', label: 'Created since', time: true },
  { name: 'until', label: 'Created before', time: true },
];

// fate is the event's status; before herald reported it, what skipped says.
const fate = (ev) => ev.status ?? (ev.skipped ? 'skipped' : null);

function row(ev) {
  return h('li', {},
    h('a', { class: 'main', href: '#/events/' + ev.id }, ev.type, ' ', mono(ev.id.slice(-12))),
    badge(fate(ev)),
    connLink(ev.connection_id),
    ev.provider_config_key ? h('span', { class: 'meta' }, ev.provider_config_key) : null,
    ev.skipped ? h('span', { class: 'meta' }, 'skipped: ' + ev.skipped) : null,
    time(ev.created_at));
}

export function list(ctx) {
  document.title = 'Events · herald';
  return listView(ctx, { key: 'events', title: 'Events', path: '/events', filters, item: row, noun: 'events' });
}

export function connection(ctx, id) {
  document.title = `Connection ${id} · herald`;
  return listView(ctx, {
    key: 'connection', title: 'Connection ' + id, path: '/events', noun: 'events',
    filters: filters.filter((f) => f.name !== 'connection_id'), fixed: { connection_id: id }, item: row,
    intro: h('p', {}, 'Every event about this connection, newest first, with its fate. ',
      h('a', { href: '#/deliveries?connection_id=' + encodeURIComponent(id) }, 'Its deliveries')),
  });
}

export function deliveryRow(d) {
  return h('li', {},
    h('a', { class: 'main', href: '#/deliveries/' + d.id }, d.type, ' delivery ', mono(d.id.slice(-12))),
    badge(d.status),
    d.connection_id !== undefined ? connLink(d.connection_id) : null,
    h('span', { class: 'meta' }, d.url),
    h('span', { class: 'meta' }, `${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`),
    time(d.created_at));
}

export async function detail(ctx, id) {
  document.title = 'Event · herald';
  const box = h('div');
  const msg = h('div');
  ctx.main.append(h('h1', {}, 'Event ', mono(id)), msg, box);
  const replay = async () => {
    const ok = await confirmDialog({
      title: 'Replay this event?', ok: 'Replay',
      text: 'herald sends it again as new deliveries to the current webhook URLs, whatever its fate.',
      payload: `POST /events/${id}/replay`,
    });
    if (!ok) return;
    try {
      const r = await api('POST', `/events/${encodeURIComponent(id)}/replay`, undefined, ctx);
      msg.replaceChildren(notice(`Replay queued: ${r?.queued ?? 0} new deliver${r?.queued === 1 ? 'y' : 'ies'}.`));
      await show();
    } catch (e) {
      if (!isAbort(e)) msg.replaceChildren(errorBox(e));
    }
  };
  let next = null; // the scheduled refresh
  async function show() {
    const ev = await api('GET', '/events/' + encodeURIComponent(id), undefined, ctx);
    const inb = ev.inbound;
    box.replaceChildren(h('div', {},
      h('div', { class: 'bar' }, h('button', { type: 'button', class: 'primary', id: 'replay', onclick: replay }, 'Replay…')),
      facts([
        ['Type', ev.type],
        ['Fate', badge(fate(ev)) ?? '—'],
        ev.skipped && ['Skipped because', ev.skipped],
        ['Connection', connLink(ev.connection_id)],
        ['Integration', ev.provider_config_key || '—'],
        ['Created', time(ev.created_at)],
        ev.unknown_fields?.length && ['Unknown fields', ev.unknown_fields.join(', ')],
      ]),
      h('h2', {}, 'Body'),
      pretty(ev.body, 'event body'),
      inb ? [
        h('h2', {}, 'Inbound request (from the provider)'),
        facts([
          ['Request', mono(`${inb.method} ${inb.url}`)],
          ['Provider', inb.provider],
          ['Signature', `${inb.verified ? 'verified' : 'not verified'}${inb.verification ? ' — ' + inb.verification : ''}`],
          inb.event_type && ['Provider event', inb.event_type],
          ['Matched', inb.matched_connections?.length ? inb.matched_connections.map((c) => [connLink(c), ' ']) : 'no connection'],
        ]),
        inb.headers ? [h('h3', {}, 'Headers'), headersTable(inb.headers)] : null,
      ] : null,
      h('h2', {}, 'Deliveries'),
      ev.deliveries?.length ? h('ul', { class: 'rows' }, ev.deliveries.map(deliveryRow))
        : h('p', { class: 'muted' }, 'None: nothing was sent.')));
    // While a delivery waits, the page follows it.
    next?.();
    if (fate(ev) === 'pending') next = later(ctx, 2000, () => show().catch((e) => { if (!isAbort(e)) msg.replaceChildren(errorBox(e)); }));
  }
  return show();
}
