// Settings: the environment's webhook settings (PATCH /environment/webhook,
// only the fields that changed) and the signing key's rotation.
import { api } from './api.js';
import { h, mono, facts, errorBox, notice, confirmDialog, isAbort } from './ui.js';

const TOGGLES = [
  ['on_auth_creation', 'Send auth webhooks for new connections'],
  ['on_auth_refresh_error', 'Send auth webhooks for failed token refreshes'],
  ['on_sync_error', 'Send sync webhooks for failed syncs'],
  ['on_sync_completion_always', 'Send sync webhooks even when nothing changed'],
  ['on_async_action_completion', 'Send async action webhooks'],
  ['on_connection_deletion', 'Send auth webhooks for deleted connections'],
  ['standard_webhooks', 'Also send Standard Webhooks headers (webhook-id, -timestamp, -signature)'],
  ['strict_validation', 'Refuse event fields herald does not know (strict validation)'],
];
const EXPO = [
  ['max_retries', 'Retries after the first attempt', '1'],
  ['initial_delay_ms', 'First wait (ms)', '1'],
  ['multiplier', 'Multiplier', 'any'],
  ['max_delay_ms', 'Longest wait (ms, 0: no cap)', '1'],
  ['jitter', 'Jitter (0–1)', 'any'],
];

const input = (id, attrs) => h('input', { id: 's-' + id, name: id, ...attrs });
const labelled = (id, label, el, hint) =>
  h('div', { class: 'field' }, h('label', { for: 's-' + id }, label), el, hint ? h('p', { class: 'hint' }, hint) : null);

export async function view(ctx) {
  document.title = 'Settings · herald';
  const env = await api('GET', '/environment', undefined, ctx);
  const msg = h('div', { id: 'settings-message' });
  const keyMsg = h('div');
  const formBox = h('div');
  let ws = env.webhook_settings;

  function renderForm() {
    const el = {};
    for (const k of ['primary_url', 'secondary_url']) el[k] = input(k, { type: 'text', inputMode: 'url', spellcheck: false, value: ws[k] ?? '', placeholder: 'none', autocomplete: 'off' });
    for (const [k] of TOGGLES) el[k] = input(k, { type: 'checkbox', checked: ws[k] });
    el.timeout_ms = input('timeout_ms', { type: 'number', min: 1000, max: 60000, step: 1, value: ws.timeout_ms, required: true });
    const isSchedule = Array.isArray(ws.retry?.schedule_ms);
    const expo = input('retry-expo', { type: 'radio', name: 'retry-form', value: 'expo', checked: !isSchedule });
    const sched = input('retry-sched', { type: 'radio', name: 'retry-form', value: 'schedule', checked: isSchedule });
    for (const [k, , step] of EXPO) el[k] = input(k, { type: 'number', step, min: 0, value: isSchedule ? '' : ws.retry?.[k] ?? '' });
    el.schedule_ms = input('schedule_ms', { type: 'text', inputMode: 'numeric', value: isSchedule ? ws.retry.schedule_ms.join(', ') : '' });
    const expoBox = h('div', { class: 'grid' }, EXPO.map(([k, label]) => labelled(k, label, el[k])));
    const schedBox = labelled('schedule_ms', 'Waits before each retry (ms, comma-separated)', el.schedule_ms, 'Empty: no retries.');
    const sync = () => { expoBox.hidden = !expo.checked; schedBox.hidden = expo.checked; };
    expo.addEventListener('change', sync);
    sched.addEventListener('change', sync);
    sync();

    // patch holds the fields whose value differs from the settings shown.
    const patch = () => {
      const p = {};
      for (const k of ['primary_url', 'secondary_url']) {
        const v = el[k].value.trim() || null;
        if (v !== (ws[k] || null)) p[k] = v;
      }
      for (const [k] of TOGGLES) if (el[k].checked !== ws[k]) p[k] = el[k].checked;
      if (Number(el.timeout_ms.value) !== ws.timeout_ms) p.timeout_ms = Number(el.timeout_ms.value);
      const retry = expo.checked
        ? Object.fromEntries(EXPO.map(([k]) => [k, Number(el[k].value)]))
        : { schedule_ms: el.schedule_ms.value.split(',').map((s) => s.trim()).filter(Boolean).map(Number) };
      if (JSON.stringify(retry) !== JSON.stringify(ws.retry)) p.retry = retry;
      return p;
    };

    const form = h('form', {
      class: 'card', 'aria-label': 'Webhook settings',
      onsubmit: async (e) => {
        e.preventDefault();
        const p = patch();
        if (Object.keys(p).length === 0) { msg.replaceChildren(notice('Nothing changed.')); return; }
        try {
          ws = await api('PATCH', '/environment/webhook', p, ctx);
          renderForm();
          msg.replaceChildren(notice('Saved: ' + Object.keys(p).join(', ') + '.'));
        } catch (err) {
          if (!isAbort(err)) msg.replaceChildren(errorBox(err));
        }
      },
    },
    h('fieldset', {}, h('legend', {}, 'Where webhooks go'),
      labelled('primary_url', 'Primary URL', el.primary_url),
      labelled('secondary_url', 'Secondary URL', el.secondary_url, 'Empty removes the URL. Each webhook goes to both URLs.')),
    h('fieldset', {}, h('legend', {}, 'Which webhooks are sent'),
      TOGGLES.map(([k, label]) => h('label', { class: 'check', for: 's-' + k }, el[k], h('span', {}, label, h('code', {}, k))))),
    h('fieldset', {}, h('legend', {}, 'Retries and time limit'),
      h('div', { class: 'bar', role: 'radiogroup', 'aria-label': 'Retry policy form' },
        h('label', { class: 'check', for: 's-retry-expo' }, expo, 'Exponential'),
        h('label', { class: 'check', for: 's-retry-sched' }, sched, 'Explicit schedule')),
      expoBox, schedBox,
      labelled('timeout_ms', 'Time limit per attempt (ms, 1000–60000)', el.timeout_ms)),
    msg,
    h('div', { class: 'bar' }, h('button', { type: 'submit', class: 'primary', id: 'settings-save' }, 'Save changes')));
    formBox.replaceChildren(form);
  }

  const keyCode = mono('••••••••');
  let shown = false;
  const reveal = h('button', { type: 'button', class: 'link', 'aria-pressed': 'false' }, 'Show');
  const showKey = () => {
    keyCode.textContent = shown ? env.webhook_signing_key : '••••••••';
    reveal.textContent = shown ? 'Hide' : 'Show';
    reveal.setAttribute('aria-pressed', String(shown));
  };
  reveal.addEventListener('click', () => { shown = !shown; showKey(); });
  const rotate = async () => {
    const ok = await confirmDialog({
      title: 'Rotate the signing key?', ok: 'Rotate',
      text: 'herald signs with a new key from now on. Update your app; the Standard Webhooks signature carries both keys for 24 hours.',
      payload: 'POST /environment/webhook-signing-key/rotate',
    });
    if (!ok) return;
    try {
      const r = await api('POST', '/environment/webhook-signing-key/rotate', undefined, ctx);
      env.webhook_signing_key = r?.data?.webhook_signing_key ?? r?.webhook_signing_key ?? env.webhook_signing_key;
      shown = true;
      showKey();
      keyMsg.replaceChildren(notice('Rotated. The new key is shown above.'));
    } catch (err) {
      if (!isAbort(err)) keyMsg.replaceChildren(errorBox(err));
    }
  };

  renderForm();
  ctx.main.append(
    h('h1', {}, 'Settings'),
    facts([['Environment', env.name], ['Id', mono(env.id)]]),
    h('h2', {}, 'Webhooks'),
    formBox,
    h('h2', {}, 'Signing key'),
    h('div', { class: 'card' },
      h('p', {}, 'Your app checks the signatures of herald’s requests with this key.'),
      h('p', {}, keyCode, ' ', reveal),
      h('button', { type: 'button', class: 'danger', onclick: rotate }, 'Rotate signing key…'),
      keyMsg));
}
