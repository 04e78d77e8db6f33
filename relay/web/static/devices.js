// The paired devices: the list from the API and presence from the socket,
// choosing one, forgetting one, and saying why devices went away.

import * as api from './api.js';
import { $, state, SELECTED_KEY, displayName } from './page.js';
import { render, showNotice } from './render.js';
import { clearSaved } from './saved.js';

/** @type {() => void} called when the session is gone (app.js stops the socket) */
let sessionEnded = () => {};

/** Sets what happens when the relay says the session is gone. */
export function onSessionEnded(fn) {
  sessionEnded = fn;
}

/** Renders the page, then this browser's own pairing with the selected device. */
function rendered() {
  render();
  showOwnPairing();
}

/**
 * Shows how this browser is paired with the selected device, beside Forget:
 * "Paired as Chrome on Linux since 1 Dec 2026, 10:02" (the name the relay
 * gave this browser, which the computer's owner sees in their list).
 */
function showOwnPairing() {
  let el = document.getElementById('paired-as');
  if (!el) {
    el = document.createElement('p');
    el.id = 'paired-as';
    el.className = 'hint';
    $('forget').before(el);
  }
  const d = state.devices.get(state.selected);
  let text = '';
  if (d && typeof d.paired_as === 'string' && d.paired_as) {
    text = `Paired as ${d.paired_as}`;
    const at = new Date(d.paired_at);
    if (!Number.isNaN(at.getTime())) text += ` since ${at.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })}`;
  }
  el.textContent = text;
  el.hidden = !text;
  $('forget').title = text ? `${text}. Forget takes this browser off the computer’s paired browsers.` : '';
}

/** Replaces the device list with the API's answer, keeping what presence told us. */
export function applyDeviceList(list) {
  if (!Array.isArray(list)) return;
  const seen = new Set();
  for (const d of list) {
    if (!d || !d.device_id) continue;
    seen.add(d.device_id);
    const old = state.devices.get(d.device_id) || {};
    state.devices.set(d.device_id, { ...old, ...d });
  }
  for (const id of [...state.devices.keys()]) {
    if (!seen.has(id)) {
      accessRemoved(state.devices.get(id));
      dropDevice(id);
    }
  }
  rendered();
}

/** Takes a presence message's data p for device id (removed: it is no longer paired). */
export function applyPresence(id, p) {
  if (!id || !p) return;
  if (p.removed) {
    const gone = state.devices.get(id);
    if (gone) accessRemoved(gone);
    dropDevice(id);
    rendered();
    return;
  }
  const old = state.devices.get(id) || { device_id: id };
  const d = { ...old, ...p, device_id: id };
  if (!Array.isArray(p.commands)) {
    // The relay leaves out an empty list: keep what we knew, minus what is no
    // longer allowed (capabilities always comes).
    const caps = Array.isArray(p.capabilities) ? p.capabilities : [];
    d.commands = Array.isArray(old.commands) ? old.commands.filter((c) => caps.includes(c.name)) : undefined;
  }
  if (!('screen' in p)) delete d.screen;
  if (!('unavailable' in p)) delete d.unavailable;
  state.devices.set(id, d);
  rendered();
}

function dropDevice(id) {
  state.devices.delete(id);
  state.history.delete(id);
  state.tracks.delete(id);
  state.shots.delete(id);
  state.shotsWaiting.delete(id);
  if (state.selected === id) state.selected = '';
  if (state.devices.size === 0) {
    // The relay deletes a session left without devices: this socket's
    // session is gone, and a new pairing brings a new one (and a new socket).
    state.session = false;
    sessionEnded();
  }
}

/** Selects the device id and remembers the choice in this browser. */
export function select(id) {
  if (state.selected === id) return;
  state.selected = id;
  try { localStorage.setItem(SELECTED_KEY, id); } catch { /* private mode */ }
  rendered();
}

$('devices').addEventListener('click', (ev) => {
  const item = /** @type {HTMLElement} */ (ev.target).closest('[data-device]');
  if (item) select(item.dataset.device);
});

$('forget').addEventListener('click', async () => {
  const d = state.devices.get(state.selected);
  if (!d) return;
  const name = displayName(d);
  const ok = window.confirm(`Forget “${name}”?\n\nThis browser will no longer see or control it. To use it again, pair with a new code.`);
  if (!ok) return;
  forgetting.add(d.device_id);
  const r = await api.forget(d.device_id);
  if (r.ok || r.status === 404) {
    showAccessNotice(`You forgot “${name}”. To use it again, pair with a new code from that computer.`, 'forgot');
    dropDevice(d.device_id);
    rendered();
    return;
  }
  forgetting.delete(d.device_id);
  if (r.status === 401) { lostSession(); return; }
  showNotice(`Could not forget this device: ${r.message || r.code}.`);
});

/** Devices this page is forgetting itself: their removal is no surprise. */
const forgetting = new Set();

/**
 * Says why devices went away, above the pairing form. kind is "removed" (the
 * computer's owner took this browser's access away), "forgot" (this page did)
 * or "" to hide it.
 */
export function showAccessNotice(text, kind) {
  const el = $('access-notice');
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = !text;
  if (text) {
    // "Paired with …" under the form would contradict it.
    $('pair-ok').textContent = '';
    $('pair-ok').hidden = true;
  }
}

/** Tells the person that the owner of d removed this browser's access. */
function accessRemoved(d) {
  if (forgetting.delete(d.device_id)) return;
  showAccessNotice(`This computer’s owner removed your access to “${displayName(d)}”. To use it again, ask them for a new pairing code.`, 'removed');
}

/** The session is gone: forgets every device, says so, and returns to the pairing form. */
export function lostSession() {
  const had = [...state.devices.values()];
  if (had.length === 1) accessRemoved(had[0]);
  else if (had.length > 1) showAccessNotice('The owners of your computers removed your access, or this browser’s session ended. Pair again with a new code.', 'removed');
  clearSaved();
  state.session = false;
  state.devices.clear();
  state.history.clear();
  state.tracks.clear();
  state.shots.clear();
  state.shotsWaiting.clear();
  state.selected = '';
  sessionEnded();
  rendered();
}
