// Recover failed deliveries and replay events, in bulk, over a time range.
import { api } from './api.js';
import { TYPES, FATES } from './events.js';
import { h, field, localToISO, errorBox, notice, confirmDialog, isAbort } from './ui.js';

// bulkForm builds one form; fields: [{name, label, options?, time?}].
function bulkForm(ctx, { id, title, text, path, fields, button, done }) {
  const inputs = {};
  const els = fields.map((f) => {
    const attrs = { name: f.name, required: !!f.time };
    if (f.time) attrs.type = 'datetime-local';
    const { input, el } = field(`${id}-${f.name}`, f.label, attrs, f.options);
    inputs[f.name] = input;
    return el;
  });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    class: 'card', 'aria-labelledby': id + '-title',
    onsubmit: async (e) => {
      e.preventDefault();
      const body = {};
      for (const f of fields) {
        const v = f.time ? localToISO(inputs[f.name].value) : inputs[f.name].value.trim();
        if (v) body[f.name] = v;
      }
      const ok = await confirmDialog({ title: title + '?', text, ok: button, payload: `POST ${path}\n${JSON.stringify(body, null, 2)}` });
      if (!ok) return;
      try {
        out.replaceChildren(notice(done(await api('POST', path, body, ctx))));
      } catch (err) {
        if (!isAbort(err)) out.replaceChildren(errorBox(err));
      }
    },
  },
  h('h2', { id: id + '-title' }, title),
  h('p', { class: 'muted' }, text),
  h('div', { class: 'grid' }, els),
  h('div', { class: 'bar' }, h('button', { type: 'submit', class: 'primary' }, button + '…')),
  out);
  return form;
}

const range = [
  { name: 'since', label: 'Created since', time: true },
  { name: 'until', label: 'Created before', time: true },
];
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export function view(ctx) {
  document.title = 'Recover & replay · herald';
  ctx.main.append(
    h('h1', {}, 'Recover & replay'),
    h('p', {}, 'Times are in this browser’s time zone. A second identical request within a minute does nothing.'),
    bulkForm(ctx, {
      id: 'recover', title: 'Recover failed deliveries', path: '/deliveries/recover', button: 'Recover',
      text: 'Every delivery created in the range that ended failed gets a new round of attempts, to the URL it had (after your app was down, for example).',
      fields: range, done: (r) => `Requeued ${plural(r?.requeued ?? 0, 'delivery', 'deliveries')}.`,
    }),
    bulkForm(ctx, {
      id: 'replay', title: 'Replay events', path: '/events/replay', button: 'Replay',
      text: 'Every event created in the range that matches is sent again, as new deliveries to the current webhook URLs.',
      fields: [...range,
        { name: 'type', label: 'Type', options: TYPES },
        { name: 'status', label: 'Fate', options: FATES },
        { name: 'connection_id', label: 'Connection id' },
        { name: 'provider_config_key', label: 'Provider config key' }],
      done: (r) => `Queued ${plural(r?.queued ?? 0, 'delivery', 'deliveries')}.`,
    }));
}
