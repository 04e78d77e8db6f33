// The relay's HTTP API, as the page uses it. Same origin; the session is a cookie.

/**
 * The outcome of one request. ok is true for 2xx; otherwise code and message
 * come from the relay's {"error":{"code","message"}} body (or describe a
 * network failure with code "network"), and retryAfter is in seconds.
 * @typedef {{ok: boolean, status: number, data?: any, code?: string, message?: string, retryAfter?: number}} Reply
 */

/**
 * Sends one JSON request and never throws.
 * @param {string} method
 * @param {string} path
 * @param {any} [body]
 * @returns {Promise<Reply>}
 */
export async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    return { ok: false, status: 0, code: 'network', message: String(err && err.message || err) };
  }
  let data;
  const text = await res.text().catch(() => '');
  if (text) {
    try { data = JSON.parse(text); } catch { data = undefined; }
  }
  if (res.ok) return { ok: true, status: res.status, data };
  const err = data && data.error || {};
  const ra = parseInt(res.headers.get('Retry-After') || '', 10);
  return {
    ok: false,
    status: res.status,
    code: err.code || `http_${res.status}`,
    message: err.message || res.statusText || `HTTP ${res.status}`,
    retryAfter: isNaN(ra) ? undefined : ra,
  };
}

/** Lists the devices paired with this browser's session. 401 means no session. */
export function listDevices() {
  return request('GET', '/api/v1/devices');
}

/** Pairs this browser with the device that showed code. */
export function pair(code, label) {
  return request('POST', '/api/v1/pairings', { code, label });
}

/** Forgets a paired device. */
export function forget(deviceId) {
  return request('DELETE', `/api/v1/pairings/${encodeURIComponent(deviceId)}`);
}

/**
 * The sentence to show when pairing failed.
 * @param {Reply} r
 */
export function pairErrorMessage(r) {
  const expired = r.code === 'not_found' && /expired/i.test(r.message || '');
  if (r.code === 'expired' || r.status === 410 || expired) {
    return 'This code has expired: codes are valid for 10 minutes. Ask the computer for a new one.';
  }
  switch (r.code) {
    case 'network':
      return 'Cannot reach the relay. Check your connection and try again.';
    case 'bad_request':
    case 'invalid_args':
      return 'That is not a valid pairing code. It looks like ABCD-2345: eight letters and digits.';
    case 'not_found':
      return 'This code is unknown or was already used. Check it, or ask the computer for a new one.';
    case 'rate_limited': {
      const wait = r.retryAfter ? ` Try again in ${waitText(r.retryAfter)}.` : ' Wait a moment and try again.';
      return `Too many attempts.${wait}`;
    }
    case 'unavailable':
      return 'The relay is busy right now. Try again in a moment.';
  }
  if (r.status === 503) return 'The relay is busy right now. Try again in a moment.';
  return `Pairing failed: ${r.message || r.code}.`;
}

/** "7 s" below 90 seconds, "3 min" above. */
function waitText(seconds) {
  return seconds < 90 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}
