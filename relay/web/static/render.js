// Drawing the page from state: the view (pairing or the app), the device
// list, the selected device's panel, its numbers and chart, its command forms
// and the connection state in the header.

import { $, state, span, displayName, commandSpecs } from './page.js';
import { History, CpuChart } from './chart.js';
import { renderSensors } from './sensors.js';
import { buildCommandForm, setAvailability, withScreenBounds } from './commands.js';
import { sendCommand } from './sending.js';
import { renderScreen } from './pointer.js';
import { renderScreenshot } from './shots.js';
import { renderSend } from './sendfiles.js';
import { osName, formatBytes, formatPercent, timeAgo } from './format.js';

const chart = new CpuChart($('cpu-chart'));

/** Draws everything from state. */
export function render() {
  const main = $('main');
  if (!state.session) {
    main.dataset.view = 'pair';
    main.dataset.devices = '0';
    renderSocketState();
    $('devices-card').hidden = true;
    $('device-panel').hidden = true;
    renderDevices(); // empties the list: nothing of the old session stays in the page
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

function deviceMeta(d, now) {
  const parts = [osName(d.os)];
  if (d.online) parts.push(d.paused ? 'online, paused' : 'online');
  else if (!d.last_seen) parts.push('never connected');
  else parts.push(`last seen ${timeAgo(d.last_seen, now)}`);
  return parts.join(' · ');
}

/** Draws the list of paired devices. */
export function renderDevices() {
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
  renderSend(d);
  renderStats();
}

/** The line under the selected device's name: OS, state, screen size. */
export function panelMeta(d) {
  const meta = [deviceMeta(d, Date.now() + state.serverOffset)];
  if (d.screen && d.screen.width) meta.push(`${d.screen.width}×${d.screen.height}`);
  return meta.join(' · ');
}

/** Shows text above the selected device's panel, or hides the notice when text is empty. */
export function showNotice(text) {
  const el = $('device-notice');
  el.textContent = text;
  el.hidden = !text;
}

/** Draws the selected device's CPU and memory figures and its chart. */
export function renderStats() {
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
  renderSensors();
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
export function renderCommandsEnabled() {
  const d = state.devices.get(state.selected);
  const usable = !!d && d.online && !d.paused && state.socket.state === 'live';
  renderSend(d);
  const why = d && d.unavailable && typeof d.unavailable === 'object' ? d.unavailable : {};
  for (const form of $('commands').querySelectorAll('form.command')) {
    const reason = Object.hasOwn(why, form.dataset.command) ? String(why[form.dataset.command] || 'not available') : '';
    setAvailability(form, reason, usable);
  }
}

/** Draws the connection state in the header: Live, Connecting…, Reconnecting in N s…, Offline or Not paired. */
export function renderSocketState() {
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

/** Every second: moves the chart. */
export function tickChart() {
  if (!$('device-panel').hidden) chart.tick();
}
