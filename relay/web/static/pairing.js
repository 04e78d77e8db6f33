// The pairing form: a code typed (or filled in from a /pair link) becomes a
// paired device.

import * as api from './api.js';
import { $, state } from './page.js';
import { applyDeviceList, select, showAccessNotice } from './devices.js';
import { render } from './render.js';
import { normalizeCode, browserLabel } from './format.js';

/** @type {() => void} called after a pairing (app.js starts the socket) */
let paired = () => {};

/** Sets what happens after a pairing succeeded. */
export function onPaired(fn) {
  paired = fn;
}

const codeInput = /** @type {HTMLInputElement} */ ($('pair-code'));
let pairBlockedUntil = 0;

/** Fills the form with code (from a /pair link) and focuses it. */
export function fillCode(code) {
  if (code) codeInput.value = normalizeCode(code);
  showScan(code ? codeInput.value : '');
}

/**
 * Shows code as a QR code of its pairing link (drawn by the relay, which
 * knows its public URL) and in large letters, for a phone to scan from this
 * screen; an empty code hides it.
 */
function showScan(code) {
  const valid = /^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$/.test(code);
  $('pair-scan').hidden = !valid;
  $('pair-submit').textContent = valid ? 'Pair this browser' : 'Pair';
  const img = /** @type {HTMLImageElement} */ ($('pair-qr'));
  if (!valid) { img.removeAttribute('src'); return; }
  img.src = '/pair/qr.svg?code=' + encodeURIComponent(code);
  $('pair-qr-code').textContent = code;
}

/** Puts the cursor in the code field. */
export function focusCode() {
  codeInput.focus();
}

codeInput.addEventListener('input', () => {
  const atEnd = codeInput.selectionStart === codeInput.value.length;
  if (atEnd) codeInput.value = normalizeCode(codeInput.value);
  else {
    const pos = codeInput.selectionStart;
    codeInput.value = codeInput.value.toUpperCase();
    codeInput.setSelectionRange(pos, pos);
  }
  showPairError('');
});

$('pair-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const code = normalizeCode(codeInput.value);
  codeInput.value = code;
  showPairOk('');
  if (!code) { showPairError('Type the pairing code shown on the computer.'); codeInput.focus(); return; }
  if (Date.now() < pairBlockedUntil) return;
  const button = /** @type {HTMLButtonElement} */ ($('pair-submit'));
  button.disabled = true;
  showPairError('');
  const ua = navigator.userAgentData;
  const r = await api.pair(code, browserLabel(navigator.userAgent, ua && ua.platform));
  button.disabled = false;
  if (!r.ok) {
    showPairError(api.pairErrorMessage(r));
    if (r.code === 'rate_limited' && r.retryAfter) blockPairing(r.retryAfter);
    codeInput.focus();
    return;
  }
  codeInput.value = '';
  showScan('');
  history.replaceState(null, '', '/');
  const d = r.data || {};
  showPairOk(`Paired with ${d.device_name || 'the computer'}.`);
  showAccessNotice('', '');
  state.session = true;
  if (d.device_id) {
    if (!state.devices.has(d.device_id)) {
      state.devices.set(d.device_id, { device_id: d.device_id, name: d.device_name || d.device_id, online: false, capabilities: [] });
    }
    select(d.device_id);
  }
  const list = await api.listDevices();
  if (list.ok) applyDeviceList(list.data);
  render();
  // An open socket starts watching the new device by itself (the relay sends
  // its presence); start one if there is none yet.
  paired();
});

function blockPairing(seconds) {
  const button = /** @type {HTMLButtonElement} */ ($('pair-submit'));
  pairBlockedUntil = Date.now() + seconds * 1000;
  button.disabled = true;
  setTimeout(() => { button.disabled = false; }, seconds * 1000);
}

function showPairError(text) {
  const el = $('pair-error');
  el.textContent = text;
  el.hidden = !text;
  codeInput.setAttribute('aria-invalid', text ? 'true' : 'false');
}

function showPairOk(text) {
  const el = $('pair-ok');
  el.textContent = text;
  el.hidden = !text;
}
