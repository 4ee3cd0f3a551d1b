// Deliveries: the list, and one delivery with its request, its attempts
// and a retry.
import { api } from './api.js';
import { listView } from './list.js';
import { TYPES, deliveryRow } from './events.js';
import { h, badge, time, mono, facts, pretty, headersTable, errorBox, notice, confirmDialog, isAbort, later } from './ui.js';

const STATUSES = ['pending', 'sending', 'succeeded', 'failed', 'skipped', 'held'];
const WAITING = ['pending', 'sending', 'held'];

const filters = [
  { name: 'status', label: 'Status', options: STATUSES },
  { name: 'type', label: 'Type', options: TYPES },
  { name: 'connection_id', label: 'Connection id' },
  { name: 'provider_config_key', label: 'Provider config key' },
  { name: 'since', label: 'Created since', time: true },
  { name: 'until', label: 'Created before', time: true },
];

export function list(ctx) {
  document.title = 'Deliveries · herald';
  return listView(ctx, { key: 'deliveries', title: 'Deliveries', path: '/deliveries', filters, item: deliveryRow, noun: 'deliveries' });
}

function attempt(a) {
  const ok = a.status_code >= 200 && a.status_code < 300 && !a.error;
  return h('li', { class: 'attempt ' + (ok ? 'ok' : 'bad') },
    h('h3', {}, `Attempt ${a.number}`),
    facts([
      ['Started', time(a.started_at)],
      ['Duration', `${a.duration_ms} ms`],
      ['Answer', a.status_code === null ? 'no HTTP answer' : `HTTP ${a.status_code}`],
      a.error && ['Error', a.error],
    ]),
    a.request_headers ? [h('h3', {}, 'Request headers'), headersTable(a.request_headers)] : null,
    h('h3', {}, 'Response body'),
    a.response_body === null || a.response_body === undefined
      ? h('p', { class: 'muted' }, 'none') : pretty(a.response_body, 'response body'));
}

export async function detail(ctx, id) {
  document.title = 'Delivery · herald';
  const box = h('div');
  const msg = h('div');
  ctx.main.append(h('h1', {}, 'Delivery ', mono(id)), msg, box);
  let d = null;
  let watch = null; // after a retry: what it was, until it changes
  let next = null; // the scheduled refresh

  const retry = async () => {
    const ok = await confirmDialog({
      title: 'Retry this delivery?', ok: 'Retry',
      text: `herald starts a new round of attempts to ${d.url} now, with the same body.`,
      payload: `POST /deliveries/${id}/retry`,
    });
    if (!ok) return;
    try {
      watch = { status: d.status, attempts: d.attempts, until: Date.now() + 60000 };
      await api('POST', `/deliveries/${encodeURIComponent(id)}/retry`, undefined, ctx);
      msg.replaceChildren(notice('Retry queued. This page refreshes until the delivery’s status changes.'));
      await show();
    } catch (e) {
      watch = null;
      if (!isAbort(e)) msg.replaceChildren(errorBox(e));
    }
  };

  async function show() {
    d = await api('GET', '/deliveries/' + encodeURIComponent(id), undefined, ctx);
    const log = d.attempt_log ?? [];
    box.replaceChildren(h('div', {},
      h('div', { class: 'bar' }, h('button', {
        type: 'button', class: 'primary', id: 'retry', onclick: retry, disabled: WAITING.includes(d.status),
        title: WAITING.includes(d.status) ? 'Already waiting for an attempt' : null,
      }, 'Retry…')),
      facts([
        ['Status', h('span', { id: 'delivery-status' }, badge(d.status))],
        ['Event', h('a', { href: '#/events/' + d.event_id }, mono(d.event_id))],
        ['Type', d.type],
        ['URL', mono(d.url)],
        ['Attempts', String(d.attempts)],
        ['Created', time(d.created_at)],
        ['Updated', time(d.updated_at)],
        d.next_attempt_at && ['Next attempt', time(d.next_attempt_at)],
        ['Last answer', d.last_status_code === null ? '—' : `HTTP ${d.last_status_code}`],
        d.last_error && ['Last error', d.last_error],
      ]),
      h('h2', {}, 'Request'),
      h('p', {}, mono(`POST ${d.url}`)),
      d.request_headers ? [h('h3', {}, 'Headers'), headersTable(d.request_headers)]
        : h('p', { class: 'muted small' }, 'Headers: Content-Type, User-Agent, the X-Nango signatures and X-Herald ids (see docs/webhooks.md).'),
      h('h3', {}, 'Body'),
      pretty(d.body, 'delivery body'),
      h('h2', {}, `Attempts (${log.length})`),
      log.length ? h('ol', { class: 'attempts' }, log.map(attempt)) : h('p', { class: 'muted' }, 'No attempt yet.')));
    const changed = watch && (d.status !== watch.status || d.attempts !== watch.attempts) && !WAITING.includes(d.status);
    if (changed) {
      msg.replaceChildren(notice(`Its status is now: ${d.status}.`));
      watch = null;
    }
    next?.();
    if (WAITING.includes(d.status) || (watch && Date.now() < watch.until)) {
      next = later(ctx, 1500, () => show().catch((e) => { if (!isAbort(e)) msg.replaceChildren(errorBox(e)); }));
    }
  }
  return show();
}
