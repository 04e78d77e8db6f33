// The Tether control page: the entry module. It opens the socket to the
// relay, hands every message to the part of the page it is for, and starts
// the page. The parts: page.js (shared state), pairing.js, devices.js,
// render.js, pointer.js (the screen mirror), shots.js (the Screenshot card),
// sending.js and activity.js (commands and the log), sendfiles.js and
// sha256.js (the Send photo or file card), saved.js (what survives a reload). Plain ES modules; every text from the network goes through
// textContent, never through HTML parsing.

import * as api from './api.js';
import { Socket, socketURL } from './socket.js';
import { History } from './chart.js';
import { addSensors } from './sensors.js';
import { $, state } from './page.js';
import { fillCode, focusCode, onPaired } from './pairing.js';
import { applyDeviceList, applyPresence, lostSession, onSessionEnded } from './devices.js';
import { render, renderCommandsEnabled, renderDevices, renderSocketState, renderStats, panelMeta, tickChart } from './render.js';
import { addPointerEvent } from './pointer.js';
import { screenshotResults } from './shots.js';
import { sendThrough, onResult, settle, failPending } from './sending.js';
import { logEvent, logRefusal, restoreLog } from './activity.js';
import { save, clearSaved, restore } from './saved.js';
import { transferThrough, fileAck, fileResult, failTransfers, initSendCard } from './sendfiles.js';

const socket = new Socket({
  url: socketURL(location, '/ws/client'),
  onMessage: handleMessage,
  onState: (s) => { state.socket = s; renderSocketState(); renderCommandsEnabled(); },
  onClose: () => {
    failPending('disconnected', 'The connection closed before the answer arrived; the command may or may not have run.');
    failTransfers('disconnected');
  },
  shouldRetry: async () => {
    // The socket cannot tell us why it closed: ask the API whether the
    // session still exists, and refresh the device list while at it.
    const r = await api.listDevices();
    if (r.status === 401) { lostSession(); return false; }
    if (r.ok) applyDeviceList(r.data);
    return true;
  },
});

sendThrough((msg) => socket.send(msg));
// Files go through the same socket: JSON frames as usual, chunks as binary frames.
transferThrough((msg) => socket.send(msg), (bytes) => {
  if (!socket.live) return false;
  socket.ws.send(bytes);
  return true;
});
initSendCard();
onResult('screenshot', screenshotResults);
onPaired(() => socket.start());
onSessionEnded(() => socket.stop());

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
      if (!fileResult(m)) settle(m);
      break;
    case 'file_ack':
      fileAck(m);
      break;
    case 'error':
      if (m.id && fileResult(m)) break;
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
  addSensors(m.device, m.data);
  save();
  if (m.device === state.selected) renderStats();
}

/** Pointer events go to the mirror (clicks to the log as well); others to the log. */
function addEvent(m) {
  const data = m.data || {};
  if (typeof data.kind !== 'string' || !data.kind.startsWith('mouse_')) {
    logEvent(m);
    return;
  }
  if (addPointerEvent(m)) logEvent(m);
}

// Every second: move the chart, count down, refresh "last seen".
let ticks = 0;
setInterval(() => {
  tickChart();
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
  fillCode(code);
  const r = await api.listDevices();
  if (r.status !== 401) restoreLog(restore());
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
  if (code || !state.session) focusCode();
}

init();
