// The Tether control page: pairing, the device list, live telemetry, commands
// and their log. Plain ES module; every text from the network goes through
// textContent, never through HTML parsing.

import * as api from './api.js';
import { Socket, socketURL } from './socket.js';
import { History, CpuChart } from './chart.js';
import { buildCommandForm, setAvailability, withScreenBounds, commandTitle, POINT_COMMANDS } from './commands.js';
import { Mirror, PointerTrack } from './mirror.js';
import { readScreenshot, describeScreenshot, decodeScreenshot, screenshotFileName, base64Bytes } from './screenshot.js';
import {
  normalizeCode, browserLabel, osName, formatBytes, formatPercent, timeAgo, clockTime,
  summarizeArgs, shortJSON, humanize, elideLongStrings,
} from './format.js';

const $ = (id) => document.getElementById(id);
const LOG_MAX = 200;
const SELECTED_KEY = 'tether.selected';
/** sessionStorage key of what survives a reload: the chart's history and the activity log. */
const SAVED_KEY = 'tether.page';
/** Largest saved state, in characters: beyond it the per-core columns are left out. */
const SAVED_MAX = 1_500_000;

/** Everything the page knows. */
const state = {
  /** @type {Map<string, any>} device id → device (fields of the devices API and of presence) */
  devices: new Map(),
  /** @type {Map<string, History>} */
  history: new Map(),
  selected: localStorage.getItem(SELECTED_KEY) || '',
  session: false,
  socket: /** @type {{state: string, at?: number}} */ ({ state: 'stopped' }),
  /** @type {Map<string, PointerTrack>} device id → what its pointer did */
  tracks: new Map(),
  /**
   * device id → its latest screenshot (or why the latest attempt failed)
   * @type {Map<string, {seq: number, shot?: any, img?: HTMLImageElement, at?: Date, error?: string}>}
   */
  shots: new Map(),
  /** @type {Map<string, number>} device id → screenshots asked for and not answered yet */
  shotsWaiting: new Map(),
  /** @type {Map<string, {el: HTMLElement, sent: number, name: string, device: string}>} command id → pending log entry */
  pending: new Map(),
  nextId: 1,
  commandsKey: '', // what the command panel was built from
  serverOffset: 0, // server clock − local clock, ms
};

const chart = new CpuChart($('cpu-chart'));
const mirror = new Mirror($('mirror'), pickPoint);

const socket = new Socket({
  url: socketURL(location, '/ws/client'),
  onMessage: handleMessage,
  onState: (s) => { state.socket = s; renderSocketState(); renderCommandsEnabled(); },
  onClose: () => failPending('disconnected', 'The connection closed before the answer arrived; the command may or may not have run.'),
  shouldRetry: async () => {
    // The socket cannot tell us why it closed: ask the API whether the
    // session still exists, and refresh the device list while at it.
    const r = await api.listDevices();
    if (r.status === 401) { lostSession(); return false; }
    if (r.ok) applyDeviceList(r.data);
    return true;
  },
});

// ---- Pairing ---------------------------------------------------------------

const codeInput = /** @type {HTMLInputElement} */ ($('pair-code'));
let pairBlockedUntil = 0;

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
  socket.start();
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

// ---- Devices ---------------------------------------------------------------

/** Replaces the device list with the API's answer, keeping what presence told us. */
function applyDeviceList(list) {
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
  render();
}

function applyPresence(id, p) {
  if (!id || !p) return;
  if (p.removed) {
    const gone = state.devices.get(id);
    if (gone) accessRemoved(gone);
    dropDevice(id);
    render();
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
  render();
}

function dropDevice(id) {
  state.devices.delete(id);
  state.history.delete(id);
  state.tracks.delete(id);
  state.shots.delete(id);
  state.shotsWaiting.delete(id);
  if (state.selected === id) state.selected = '';
}

function select(id) {
  if (state.selected === id) return;
  state.selected = id;
  try { localStorage.setItem(SELECTED_KEY, id); } catch { /* private mode */ }
  render();
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
    render();
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
function showAccessNotice(text, kind) {
  const el = $('access-notice');
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = !text;
}

/** Tells the person that the owner of d removed this browser's access. */
function accessRemoved(d) {
  if (forgetting.delete(d.device_id)) return;
  showAccessNotice(`This computer’s owner removed your access to “${displayName(d)}”. To use it again, ask them for a new pairing code.`, 'removed');
}

function lostSession() {
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
  socket.stop();
  render();
}

// ---- Socket messages -------------------------------------------------------

function handleMessage(m) {
  switch (m.type) {
    case 'welcome': {
      const t = Date.parse(m.data && m.data.server_time);
      if (!isNaN(t)) state.serverOffset = t - Date.now();
      break;
    }
    case 'presence':
      applyPresence(m.device, m.data);
      break;
    case 'telemetry':
      addTelemetry(m);
      break;
    case 'event':
      addEvent(m);
      break;
    case 'result':
      settle(m);
      break;
    case 'error':
      if (m.id && state.pending.has(m.id)) settle({ ...m, ok: false });
      else logRefusal(m.error || {});
      break;
    default:
      break;
  }
}

function addTelemetry(m) {
  if (!m.device || !m.data || !state.devices.has(m.device)) return;
  let h = state.history.get(m.device);
  if (!h) { h = new History(); state.history.set(m.device, h); }
  // Plot at the device's time when its clock agrees with ours; otherwise at arrival.
  const now = Date.now();
  let t = Date.parse(m.ts);
  if (isNaN(t) || Math.abs(t - now) > 10000) t = now;
  h.add(t / 1000, m.data);
  save();
  if (m.device === state.selected) renderStats();
}

// ---- Pointer mirror --------------------------------------------------------

function trackOf(id) {
  let t = state.tracks.get(id);
  if (!t) { t = new PointerTrack(); state.tracks.set(id, t); }
  return t;
}

function addEvent(m) {
  const data = m.data || {};
  if (typeof data.kind !== 'string' || !data.kind.startsWith('mouse_')) {
    logEvent(m);
    return;
  }
  if (!state.devices.has(m.device)) return;
  const t = trackOf(m.device);
  if (!t.add(data, performance.now())) return;
  // Clicks go to the log as well (they are rare and tell a story); moves and
  // scrolls only to the mirror.
  if (data.kind === 'mouse_click') logEvent(m);
  if (m.device !== state.selected) return;
  mirror.update();
  renderMirrorText(state.devices.get(m.device));
}

/** The commands whose x and y a click on the mirror fills in. */
function pickTargets(d) {
  return commandSpecs(d).filter((s) => POINT_COMMANDS.includes(s.name) && (s.args || []).some((a) => a.name === 'x'));
}

/** Fills the x and y fields of the pointer commands with a point picked on the mirror. */
function pickPoint(x, y) {
  const d = state.devices.get(state.selected);
  if (!d) return;
  const targets = pickTargets(d);
  for (const s of targets) {
    for (const [name, v] of [['x', x], ['y', y]]) {
      const el = /** @type {HTMLInputElement|null} */ ($(`arg-${s.name}-${name}`));
      if (el) el.value = String(v);
    }
  }
  if (targets.length) {
    const names = targets.map(commandTitle).join(' and ');
    $('mirror-note').textContent = `${x}, ${y} filled in for ${names}.`;
    $('mirror-note').hidden = false;
  }
}

function renderScreen(d) {
  const s = d.screen;
  const has = !!s && s.width > 0 && s.height > 0;
  $('screen-card').hidden = !has;
  if (!has) return;
  mirror.show(trackOf(d.device_id), s);
  mirror.pickable = pickTargets(d).length > 0;
  renderMirrorText(d);
}

function renderMirrorText(d) {
  const t = trackOf(d.device_id);
  const meta = $('mirror-meta');
  const note = $('mirror-note');
  if (t.events === 0) {
    meta.textContent = '';
    note.textContent = 'No pointer activity yet. The computer’s owner can share it from the Tether menu or with “tether allow mouse”.';
    note.hidden = false;
    return;
  }
  meta.textContent = `${t.x}, ${t.y} · ${t.clicks} click${t.clicks === 1 ? '' : 's'}`;
  if (note.dataset.for !== d.device_id || note.textContent.startsWith('No pointer')) {
    note.textContent = pickTargets(d).length ? 'Click the mirror to fill in x and y of the pointer commands.' : '';
    note.hidden = !note.textContent;
  }
  note.dataset.for = d.device_id;
}

// ---- Screenshots -----------------------------------------------------------

let shotSeq = 0;

function waitingShots(id) {
  return state.shotsWaiting.get(id) || 0;
}

function setWaitingShots(id, n) {
  if (n > 0) state.shotsWaiting.set(id, n);
  else state.shotsWaiting.delete(id);
}

/**
 * Shows the result of a screenshot command. Decoding a large image happens
 * off the main thread (img.decode); the old picture stays until the new one
 * is ready, and a slower earlier answer never replaces a later one.
 */
async function screenshotDone(deviceId, m, shot) {
  const seq = ++shotSeq;
  const d = state.devices.get(deviceId);
  let entry;
  if (!m.ok) {
    const e = m.error || {};
    entry = { ...(state.shots.get(deviceId) || {}), seq, error: e.message || e.code || 'failed' };
  } else {
    if (!shot) {
      entry = { ...(state.shots.get(deviceId) || {}), seq, error: 'the computer sent no image this page can show' };
    } else {
      try {
        const img = await decodeScreenshot(shot, `Screenshot of ${d ? displayName(d) : 'the computer'}`);
        entry = { seq, shot, img, at: new Date() };
      } catch {
        entry = { ...(state.shots.get(deviceId) || {}), seq, error: 'this browser could not decode the image' };
      }
    }
  }
  setWaitingShots(deviceId, waitingShots(deviceId) - 1);
  if (!state.devices.has(deviceId)) return;
  const old = state.shots.get(deviceId);
  if (!old || old.seq < entry.seq) {
    if (old && old.download && old.download !== entry.download) URL.revokeObjectURL(old.download);
    state.shots.set(deviceId, entry);
  }
  if (deviceId === state.selected) renderScreenshot(state.devices.get(deviceId));
}

function renderScreenshot(d) {
  const entry = state.shots.get(d.device_id);
  const waiting = waitingShots(d.device_id);
  const card = $('screenshot');
  card.hidden = !entry && !waiting;
  if (card.hidden) return;
  const status = $('screenshot-status');
  const frame = $('screenshot-frame');
  const link = /** @type {HTMLAnchorElement} */ ($('screenshot-download'));
  const error = $('screenshot-error');
  const failed = !!entry && !!entry.error;
  error.textContent = failed ? `The last screenshot failed: ${entry.error.replace(/[.\s]*$/, '.')}` : '';
  error.hidden = !failed;
  const parts = [];
  if (waiting) parts.push('Taking a screenshot…');
  if (entry && entry.shot) parts.push(`${failed ? 'Earlier: ' : ''}${describeScreenshot(entry.shot)} · taken at ${clockTime(entry.at)}`);
  status.textContent = parts.join(' ');
  card.dataset.state = waiting ? 'waiting' : entry && entry.error ? 'failed' : 'ok';
  if (entry && entry.img) {
    if (frame.firstChild !== entry.img) frame.replaceChildren(entry.img);
    link.hidden = false;
    link.download = screenshotFileName(d.name, entry.shot, entry.at);
    // The image shows from a data: URL (the CSP allows it for img); the
    // download is a blob: URL made on first use, since browsers refuse to
    // download data: URLs of more than a few MB.
    link.href = entry.download || '#';
    link.dataset.device = d.device_id;
  } else {
    frame.replaceChildren();
    link.hidden = true;
    link.removeAttribute('href');
  }
}

$('screenshot-download').addEventListener('click', (ev) => {
  const link = /** @type {HTMLAnchorElement} */ (ev.currentTarget);
  const entry = state.shots.get(link.dataset.device || '');
  if (!entry || !entry.shot) { ev.preventDefault(); return; }
  if (!entry.download) {
    const comma = entry.shot.url.indexOf(',');
    const blob = new Blob([base64Bytes(entry.shot.url.slice(comma + 1))], { type: entry.shot.mime });
    entry.download = URL.createObjectURL(blob);
    link.href = entry.download;
  }
});

// ---- Commands and the log --------------------------------------------------

function sendCommand(spec, args) {
  const d = state.devices.get(state.selected);
  if (!d) return;
  const id = `c${state.nextId++}`;
  const msg = { type: 'command', id, device: d.device_id, name: spec.name, args };
  const el = logEntry({ id, title: commandTitle(spec), device: d, args });
  if (!socket.send(msg)) {
    finish(el, 'not_sent', 'not sent', 'The connection to the relay is down; nothing was sent.');
    return;
  }
  state.pending.set(id, { el, sent: performance.now(), name: spec.name, device: d.device_id });
  if (spec.name === 'screenshot') {
    setWaitingShots(d.device_id, waitingShots(d.device_id) + 1);
    renderScreenshot(d);
  }
}

function settle(m) {
  const p = state.pending.get(m.id);
  if (!p) return;
  state.pending.delete(m.id);
  const ms = Math.round(performance.now() - p.sent);
  if (p.name === 'screenshot') {
    const shot = m.ok ? readScreenshot(m.data) : null;
    screenshotDone(p.device, m, shot);
    if (shot) {
      finish(p.el, 'ok', `ok · ${ms} ms`, `${describeScreenshot(shot)}, shown under Screenshot`);
      return;
    }
  }
  if (m.ok) {
    finish(p.el, 'ok', `ok · ${ms} ms`, resultDetail(m.data));
  } else {
    const e = m.error || {};
    const code = e.code || 'error';
    finish(p.el, code, `${code} · ${ms} ms`, e.message || '');
  }
}

/** What the log says of a successful result's data: never a large payload. */
function resultDetail(data) {
  if (data === undefined || data === null) return '';
  return shortJSON(elideLongStrings(data));
}

function failPending(code, message) {
  for (const [id, p] of state.pending) {
    finish(p.el, code, code, message);
    state.pending.delete(id);
    if (p.name === 'screenshot') screenshotDone(p.device, { ok: false, error: { code, message: 'the connection closed before the picture arrived' } }, null);
  }
}

function finish(el, status, text, detail) {
  const rec = el._rec;
  Object.assign(rec, { status, statusText: text, detail });
  fillLogItem(el, rec);
  save();
}

/**
 * One line of the activity log, as data, so it survives a reload:
 * kind "command" (id set), "event" or "refusal"; time in ms since the epoch;
 * what (bold), target (device name or ""), summary (arguments), status and
 * statusText, detail.
 * @typedef {{kind: string, id?: string, event?: string, time: number, what: string, target: string,
 *   summary: string, status: string, statusText: string, detail: string}} LogRecord
 */

function logEntry({ id, title, device, args }) {
  const target = state.devices.size > 1 ? ` → ${displayName(device)}` : '';
  return addLog({ kind: 'command', id, time: Date.now(), what: title, target, summary: summarizeArgs(args),
    status: 'pending', statusText: 'pending', detail: '' });
}

function logEvent(m) {
  const data = m.data || {};
  const dev = state.devices.get(m.device);
  const t = Date.parse(m.ts);
  const rest = { ...data };
  delete rest.kind;
  addLog({ kind: 'event', event: data.kind || 'event', time: isNaN(t) ? Date.now() : t, what: humanize(data.kind || 'event'),
    target: dev && state.devices.size > 1 ? ` on ${displayName(dev)}` : '', summary: summarizeArgs(rest),
    status: 'event', statusText: 'event', detail: '' });
}

function logRefusal(e) {
  addLog({ kind: 'refusal', time: Date.now(), what: 'The relay refused a message', target: '', summary: '',
    status: e.code || 'error', statusText: e.code || 'error', detail: e.message || '' });
}

/** Makes the list item of rec, newest first, and returns it. */
function addLog(rec) {
  const li = logItem(rec);
  prependLog(li);
  save();
  return li;
}

/** @param {LogRecord} rec */
function logItem(rec) {
  const li = document.createElement('li');
  li._rec = rec;
  if (rec.id) li.dataset.id = rec.id;
  if (rec.kind === 'event') {
    li.className = 'event';
    li.dataset.event = rec.event;
  }
  const what = span('what', '');
  const b = document.createElement(rec.kind === 'refusal' ? 'span' : 'b');
  b.textContent = rec.what;
  what.append(b);
  if (rec.target) what.append(rec.target);
  if (rec.summary) what.append(' ', span('args', rec.summary));
  const detail = span('detail', '');
  li.append(span('time', clockTime(new Date(rec.time))), what, span('status', ''), detail);
  fillLogItem(li, rec);
  return li;
}

function fillLogItem(li, rec) {
  li.dataset.status = rec.status;
  if (rec.kind !== 'event') li.classList.toggle('failed', rec.status !== 'ok' && rec.status !== 'pending');
  li.querySelector('.status').textContent = rec.statusText;
  const d = li.querySelector('.detail');
  d.textContent = rec.detail;
  d.hidden = !rec.detail;
}

function prependLog(li) {
  const log = $('log');
  log.prepend(li);
  while (log.children.length > LOG_MAX) {
    const last = log.lastElementChild;
    if (last.dataset.status === 'pending') break; // keep entries still waiting
    last.remove();
  }
  $('log-empty').hidden = true;
}

function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

// ---- Surviving a reload ------------------------------------------------------

let saveTimer = 0;

/** Saves the history and the log soon (at most once a second). */
function save() {
  if (!saveTimer) saveTimer = setTimeout(saveNow, 1000);
}

/**
 * Writes the chart's history of each paired device and the activity log to
 * sessionStorage (this tab only, gone when it closes), bounded by WINDOW_S
 * of telemetry, LOG_MAX lines and SAVED_MAX characters.
 */
function saveNow() {
  clearTimeout(saveTimer);
  saveTimer = 0;
  if (!state.session) return;
  const history = {};
  for (const [id, h] of state.history) {
    if (state.devices.has(id) && h.t.length) history[id] = { t: h.t, cpu: h.cpu, cores: h.cores, last: h.last };
  }
  const log = [...$('log').children].map((li) => li._rec).filter(Boolean);
  let text = JSON.stringify({ v: 1, nextId: state.nextId, history, log });
  if (text.length > SAVED_MAX) {
    for (const h of Object.values(history)) h.cores = [];
    text = JSON.stringify({ v: 1, nextId: state.nextId, history, log: log.slice(0, 50) });
  }
  try { sessionStorage.setItem(SAVED_KEY, text); } catch { /* full or disabled: nothing is kept */ }
}

function clearSaved() {
  clearTimeout(saveTimer);
  saveTimer = 0;
  try { sessionStorage.removeItem(SAVED_KEY); } catch { /* disabled */ }
}

/** Restores what saveNow kept, before the first render. */
function restore() {
  let saved;
  try { saved = JSON.parse(sessionStorage.getItem(SAVED_KEY) || 'null'); } catch { saved = null; }
  if (!saved || saved.v !== 1) return;
  if (Number.isInteger(saved.nextId) && saved.nextId > 0) state.nextId = saved.nextId;
  for (const [id, v] of Object.entries(saved.history || {})) {
    if (!v || !Array.isArray(v.t) || !Array.isArray(v.cpu) || v.t.length !== v.cpu.length) continue;
    const cores = Array.isArray(v.cores) && v.cores.every((c) => Array.isArray(c) && c.length === v.t.length) ? v.cores : [];
    const h = new History();
    Object.assign(h, { t: v.t, cpu: v.cpu, cores, last: v.last && typeof v.last === 'object' ? v.last : null });
    h.trim(Date.now() / 1000);
    state.history.set(id, h);
  }
  const recs = (Array.isArray(saved.log) ? saved.log : []).filter((r) => r && typeof r.what === 'string' && typeof r.status === 'string');
  const items = recs.slice(0, LOG_MAX).map((r) => {
    const rec = { kind: String(r.kind || 'command'), time: Number(r.time) || Date.now(), what: r.what, target: String(r.target || ''),
      summary: String(r.summary || ''), status: r.status, statusText: String(r.statusText || r.status), detail: String(r.detail || '') };
    if (typeof r.id === 'string') rec.id = r.id;
    if (typeof r.event === 'string') rec.event = r.event;
    if (rec.status === 'pending') {
      Object.assign(rec, { status: 'unknown', statusText: 'no answer',
        detail: 'The page was reloaded before the answer arrived; the command may or may not have run.' });
    }
    return logItem(rec);
  });
  $('log').append(...items);
  $('log-empty').hidden = items.length > 0;
}

window.addEventListener('pagehide', saveNow);

// ---- Rendering -------------------------------------------------------------

function render() {
  const main = $('main');
  if (!state.session) {
    main.dataset.view = 'pair';
    main.dataset.devices = '0';
    renderSocketState();
    $('devices-card').hidden = true;
    $('device-panel').hidden = true;
    chart.show(null, false);
    return;
  }
  if (!state.devices.has(state.selected)) {
    const first = sortedDevices()[0];
    state.selected = first ? first.device_id : '';
  }
  main.dataset.view = state.devices.size ? 'app' : 'pair';
  // On a narrow screen a list of one repeats the panel's heading: hidden there (style.css).
  main.dataset.devices = String(state.devices.size);
  $('devices-card').hidden = state.devices.size === 0;
  renderDevices();
  renderPanel();
  renderSocketState();
}

function sortedDevices() {
  return [...state.devices.values()].sort((a, b) =>
    (b.online === true) - (a.online === true) || String(a.name).localeCompare(String(b.name)));
}

/**
 * The name a person sees for d: its name, and when another paired device has
 * the same name, a short suffix that tells them apart: the operating system
 * when theirs differ, else the last characters of the device id.
 */
function displayName(d) {
  const name = String(d.name || d.device_id);
  const key = name.trim().toLowerCase();
  const twins = [...state.devices.values()].filter((o) => o.device_id !== d.device_id && String(o.name || o.device_id).trim().toLowerCase() === key);
  if (!twins.length) return name;
  const os = osName(d.os);
  if (d.os && twins.every((o) => osName(o.os) !== os)) return `${name} (${os})`;
  return `${name} (…${idTail(d, twins)})`;
}

/** The shortest tail of d's id (4 characters at least) that none of others' ids ends with. */
function idTail(d, others) {
  const id = String(d.device_id);
  for (let n = 4; n < id.length; n++) {
    const tail = id.slice(-n);
    if (others.every((o) => !String(o.device_id).endsWith(tail))) return tail;
  }
  return id;
}

function deviceMeta(d, now) {
  const parts = [osName(d.os)];
  if (d.online) parts.push(d.paused ? 'online, paused' : 'online');
  else if (!d.last_seen) parts.push('never connected');
  else parts.push(`last seen ${timeAgo(d.last_seen, now)}`);
  return parts.join(' · ');
}

function renderDevices() {
  const ul = $('devices');
  const now = Date.now() + state.serverOffset;
  const items = sortedDevices().map((d) => {
    const li = document.createElement('li');
    li.dataset.device = d.device_id;
    li.dataset.online = String(!!d.online);
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'device-item';
    b.setAttribute('aria-current', String(d.device_id === state.selected));
    const dot = span('dot', '');
    dot.setAttribute('aria-hidden', 'true');
    const meta = span('meta', deviceMeta(d, now));
    b.append(dot, span('name', displayName(d)), meta);
    b.setAttribute('aria-label', `${displayName(d)}, ${meta.textContent}`);
    li.append(b);
    return li;
  });
  ul.replaceChildren(...items);
  $('devices-empty').hidden = items.length > 0;
}

function renderPanel() {
  const d = state.devices.get(state.selected);
  $('device-panel').hidden = !d;
  if (!d) {
    chart.show(null, false);
    state.commandsKey = '';
    return;
  }
  const dot = $('device-dot');
  dot.dataset.online = String(!!d.online);
  $('device-name').textContent = displayName(d);
  $('device-meta').textContent = panelMeta(d);
  if (!d.online) showNotice('This computer is offline. Its telemetry and commands come back when it reconnects.');
  else if (d.paused) showNotice('The owner has paused remote control on this computer.');
  else showNotice('');
  renderCommands(d);
  renderScreen(d);
  renderScreenshot(d);
  renderStats();
}

function panelMeta(d) {
  const meta = [deviceMeta(d, Date.now() + state.serverOffset)];
  if (d.screen && d.screen.width) meta.push(`${d.screen.width}×${d.screen.height}`);
  return meta.join(' · ');
}

function showNotice(text) {
  const el = $('device-notice');
  el.textContent = text;
  el.hidden = !text;
}

function renderStats() {
  const d = state.devices.get(state.selected);
  const h = d && state.history.get(d.device_id);
  const last = h && h.last;
  $('cpu-value').textContent = last ? formatPercent(last.cpu_percent) : '—';
  if (last) {
    $('mem-value').textContent = formatPercent(last.mem_percent);
    $('mem-detail').textContent = last.mem_total_bytes
      ? `${formatBytes(last.mem_used_bytes)} of ${formatBytes(last.mem_total_bytes)}` : '';
    $('mem-bar').style.width = `${Math.max(0, Math.min(100, last.mem_percent || 0))}%`;
  } else {
    $('mem-value').textContent = '—';
    $('mem-detail').textContent = '';
    $('mem-bar').style.width = '0';
  }
  if (chart.history !== (h || null) || chart.perCore !== perCore()) {
    chart.show(h || (d ? emptyHistory(d.device_id) : null), perCore());
  }
}

function emptyHistory(id) {
  const h = new History();
  state.history.set(id, h);
  return h;
}

function perCore() {
  return /** @type {HTMLInputElement} */ ($('per-core')).checked;
}
$('per-core').addEventListener('change', () => chart.show(chart.history, perCore()));

function commandSpecs(d) {
  if (Array.isArray(d.commands)) return d.commands;
  // The devices API lists names only; offer bare buttons until presence brings the specs.
  return (d.capabilities || []).map((name) => ({ name, args: [] }));
}

function renderCommands(d) {
  const specs = commandSpecs(d).map((s) => withScreenBounds(s, d.screen));
  const key = `${d.device_id}|${JSON.stringify(specs)}`;
  if (key !== state.commandsKey) {
    state.commandsKey = key;
    $('commands').replaceChildren(...specs.map((s) => buildCommandForm(s, sendCommand)));
  }
  $('commands-empty').hidden = specs.length > 0;
  $('commands-empty').textContent = d.online
    ? 'This computer allows no commands. Its owner can switch them on in the Tether menu or with “tether allow”.'
    : 'The commands this computer allows appear when it is online.';
  renderCommandsEnabled();
}

/**
 * Enables the command buttons when commands can be sent, except those the
 * computer reports it cannot run now (presence "unavailable"), which say why.
 */
function renderCommandsEnabled() {
  const d = state.devices.get(state.selected);
  const usable = !!d && d.online && !d.paused && state.socket.state === 'live';
  const why = d && d.unavailable && typeof d.unavailable === 'object' ? d.unavailable : {};
  for (const form of $('commands').querySelectorAll('form.command')) {
    const reason = Object.hasOwn(why, form.dataset.command) ? String(why[form.dataset.command] || 'not available') : '';
    setAvailability(form, reason, usable);
  }
}

function renderSocketState() {
  const el = $('socket-state');
  const s = state.socket;
  let kind = 'offline';
  let text = 'Offline';
  switch (!state.session || state.devices.size ? s.state : 'unpaired') {
    case 'unpaired': text = 'Not paired'; break;
    case 'live': kind = 'live'; text = 'Live'; break;
    case 'connecting': kind = 'connecting'; text = 'Connecting…'; break;
    case 'retry': {
      kind = 'connecting';
      const secs = Math.max(1, Math.ceil((s.at - Date.now()) / 1000));
      text = navigator.onLine === false ? `Offline · retrying in ${secs} s…` : `Reconnecting in ${secs} s…`;
      break;
    }
    default:
      text = state.session ? 'Offline' : 'Not paired';
  }
  el.dataset.state = kind;
  if (el.textContent !== text) el.textContent = text;
}

// Every second: move the chart, count down, refresh "last seen".
let ticks = 0;
setInterval(() => {
  if (!$('device-panel').hidden) chart.tick();
  if (state.socket.state === 'retry') renderSocketState();
  if (++ticks % 15 === 0 && state.session) {
    renderDevices();
    const d = state.devices.get(state.selected);
    if (d) $('device-meta').textContent = panelMeta(d);
  }
}, 1000);

window.addEventListener('online', () => socket.retryNow());

// ---- Start -----------------------------------------------------------------

async function init() {
  const code = new URLSearchParams(location.search).get('code');
  if (code) codeInput.value = normalizeCode(code);
  const r = await api.listDevices();
  if (r.status !== 401) restore();
  else clearSaved();
  if (r.ok) {
    state.session = true;
    applyDeviceList(r.data);
    socket.start();
  } else if (r.status === 401) {
    state.session = false;
  } else {
    // The relay is unreachable or failing: show what we can and keep trying
    // through the socket, which asks the API again on every retry.
    state.session = true;
    socket.start();
  }
  render();
  renderSocketState();
  if (code || !state.session) codeInput.focus();
}

init();
