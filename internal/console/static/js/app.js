// The console's entry: sign-in, hash routing, the header.
import { api, signedIn, signIn, signOut, whenUnauthorized } from './api.js';
import { h, errorBox, isAbort } from './ui.js';
import * as events from './events.js';
import * as deliveries from './deliveries.js';
import * as bulk from './bulk.js';
import * as settings from './settings.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signoutBtn = document.getElementById('signout');

const routes = [
  [/^\/events$/, events.list],
  [/^\/events\/([^/]+)$/, events.detail],
  [/^\/connections\/(.+)$/, events.connection],
  [/^\/deliveries$/, deliveries.list],
  [/^\/deliveries\/([^/]+)$/, deliveries.detail],
  [/^\/bulk$/, bulk.view],
  [/^\/settings$/, settings.view],
];

let current = null; // the AbortController of the view shown

function chrome(on, envName) {
  nav.hidden = who.hidden = signoutBtn.hidden = !on;
  who.textContent = on ? 'Environment: ' + envName : '';
}

function route() {
  current?.abort();
  current = new AbortController();
  main.replaceChildren();
  if (!signedIn()) return showSignIn();
  const [path, query = ''] = (location.hash.replace(/^#/, '') || '/events').split('?');
  for (const a of nav.querySelectorAll('a')) {
    if (path.startsWith(a.hash.slice(1))) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const ctx = { signal: current.signal, params: new URLSearchParams(query), main };
  for (const [re, view] of routes) {
    const m = path.match(re);
    if (!m) continue;
    let args;
    try { args = m.slice(1).map(decodeURIComponent); } catch { break; }
    Promise.resolve()
      .then(() => view(ctx, ...args))
      .catch((e) => { if (!isAbort(e) && !ctx.signal.aborted) main.append(errorBox(e)); });
    return;
  }
  main.append(h('h1', {}, 'Not found'), h('p', {}, 'No such page. ', h('a', { href: '#/events' }, 'Go to the events.')));
}

function showSignIn(message) {
  chrome(false);
  document.title = 'Sign in · herald';
  const key = h('input', { id: 'signin-key', type: 'password', autocomplete: 'off', spellcheck: false, required: true });
  const out = h('div', { 'aria-live': 'polite' }, message ? errorBox({ message }) : null);
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', {
    class: 'card signin', method: 'post', 'aria-labelledby': 'signin-title',
    onsubmit: async (e) => {
      e.preventDefault();
      const k = key.value.trim();
      button.disabled = true;
      try {
        const env = await api('GET', '/environment', undefined, { key: k });
        key.value = '';
        signIn(k);
        chrome(true, env.name);
        route();
        main.focus();
      } catch (err) {
        out.replaceChildren(errorBox(err.status === 401 ? { message: 'herald refused this key: it is not the secret key of an environment.' } : err));
        button.disabled = false;
        key.focus();
      }
    },
  },
  h('h1', { id: 'signin-title' }, 'Sign in to herald'),
  h('label', { for: key.id }, 'Environment secret key'),
  key,
  button,
  h('p', { class: 'hint' }, 'The key stays in this page’s memory only: it is never saved and never put in the address bar. ' +
    'Reloading or closing the page signs you out.'),
  out);
  main.append(form);
  key.focus();
}

whenUnauthorized((err) => {
  current?.abort();
  main.replaceChildren();
  showSignIn('Signed out: ' + err.message);
});

signoutBtn.addEventListener('click', () => {
  signOut();
  route();
});

window.addEventListener('hashchange', () => {
  route();
  window.scrollTo(0, 0);
  if (signedIn()) main.focus({ preventScroll: true });
});
route();
