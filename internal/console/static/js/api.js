// The one door to herald's JSON API. The environment secret key lives in
// this module's memory only: never in the URL, storage or cookies, so a
// reload signs out.

let key = null;
let onUnauthorized = () => {};

// The API's root is the parent of the console's /ui/.
const root = new URL('../', document.baseURI);

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const signedIn = () => key !== null;
export function signIn(k) { key = k; }
export function signOut() { key = null; }
export function whenUnauthorized(f) { onUnauthorized = f; }

// api calls herald and returns the parsed JSON answer, or throws an
// ApiError carrying the error envelope's message. A 401 signs out.
// opts: {signal, key} (key: try this key instead of the session's).
export async function api(method, path, body, opts = {}) {
  const k = opts.key ?? key;
  const headers = { Accept: 'application/json', Authorization: 'Bearer ' + k };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(new URL(path.replace(/^\//, ''), root), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal, cache: 'no-store', credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'herald could not be reached (' + e.message + ').');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const env = data && data.error;
    const err = new ApiError(res.status, env?.code ?? 'http_' + res.status,
      env?.message ?? `herald answered ${res.status} ${res.statusText}`.trim());
    if (res.status === 401 && opts.key === undefined && key !== null) {
      key = null;
      onUnauthorized(err);
    }
    throw err;
  }
  return data;
}
