// The sensor tiles: disks, disk I/O, network, battery, load and uptime,
// temperature, idle time and the active window, each a small tile with its
// latest value and a short history drawn as a sparkline. A sensor the
// computer does not report has no tile (no battery, no temperatures, no
// display): missing is never an error.

import { $, state } from './page.js';
import { formatBytes } from './format.js';

/** Points of history kept per tile. */
const POINTS = 60;

/**
 * The tiles a telemetry sample can fill, in the order shown. value(d)
 * returns the number plotted (or null), text(d) the big figure, detail(d)
 * the line under it; present(d) says whether the sample has the sensor.
 */
const TILES = [
  {
    key: 'disk', title: 'Disk',
    present: (d) => Array.isArray(d.disks) && d.disks.length > 0,
    value: (d) => Math.max(...d.disks.map((x) => num(x.used_percent))),
    text: (d) => `${Math.max(...d.disks.map((x) => num(x.used_percent))).toFixed(0)}% used`,
    detail: (d) => d.disks.slice(0, 4).map((x) => `${x.mount} ${num(x.used_percent).toFixed(0)}% of ${formatBytes(x.total_bytes)}`).join(' · '),
  },
  {
    key: 'disk-io', title: 'Disk I/O',
    present: (d) => !!d.disk_io && typeof d.disk_io === 'object',
    value: (d) => num(d.disk_io.read_bytes_per_s) + num(d.disk_io.write_bytes_per_s),
    text: (d) => rate(num(d.disk_io.read_bytes_per_s) + num(d.disk_io.write_bytes_per_s)),
    detail: (d) => `read ${rate(num(d.disk_io.read_bytes_per_s))} · write ${rate(num(d.disk_io.write_bytes_per_s))}`,
  },
  {
    key: 'net', title: 'Network',
    present: (d) => !!d.net && typeof d.net === 'object',
    value: (d) => num(d.net.rx_bytes_per_s) + num(d.net.tx_bytes_per_s),
    text: (d) => `↓ ${rate(num(d.net.rx_bytes_per_s))} ↑ ${rate(num(d.net.tx_bytes_per_s))}`,
    detail: (d) => (Array.isArray(d.net.interfaces) ? d.net.interfaces : []).slice(0, 3)
      .map((i) => `${i.name} ↓ ${rate(num(i.rx_bytes_per_s))} ↑ ${rate(num(i.tx_bytes_per_s))}`).join(' · '),
  },
  {
    key: 'battery', title: 'Battery',
    present: (d) => !!d.battery && typeof d.battery === 'object',
    value: (d) => num(d.battery.percent),
    text: (d) => `${num(d.battery.percent).toFixed(0)}%`,
    detail: (d) => [d.battery.charging ? 'charging' : 'on battery',
      typeof d.battery.seconds_left === 'number' ? `${duration(d.battery.seconds_left)} ${d.battery.charging ? 'to full' : 'left'}` : '']
      .filter(Boolean).join(' · '),
  },
  {
    key: 'load', title: 'Load',
    present: (d) => (!!d.load && typeof d.load === 'object') || num(d.uptime_s) > 0,
    value: (d) => (d.load ? num(d.load.load1) : null),
    text: (d) => (d.load ? num(d.load.load1).toFixed(2) : '—'),
    detail: (d) => [d.load ? `${num(d.load.load5).toFixed(2)} · ${num(d.load.load15).toFixed(2)}` : '',
      num(d.uptime_s) > 0 ? `up ${duration(d.uptime_s)}` : ''].filter(Boolean).join(' · '),
  },
  {
    key: 'temp', title: 'Temperature',
    present: (d) => Array.isArray(d.temperatures) && d.temperatures.length > 0,
    value: (d) => Math.max(...d.temperatures.map((x) => num(x.celsius))),
    text: (d) => `${Math.max(...d.temperatures.map((x) => num(x.celsius))).toFixed(0)} °C`,
    detail: (d) => [...d.temperatures].sort((a, b) => num(b.celsius) - num(a.celsius)).slice(0, 3)
      .map((x) => `${x.sensor} ${num(x.celsius).toFixed(0)} °C`).join(' · '),
  },
  {
    key: 'idle', title: 'Idle',
    present: (d) => typeof d.idle_s === 'number',
    value: (d) => num(d.idle_s),
    text: (d) => (num(d.idle_s) < 5 ? 'in use' : duration(d.idle_s)),
    detail: (d) => (num(d.idle_s) < 5 ? 'someone is at the keyboard' : 'since the last key or pointer input'),
  },
  {
    key: 'window', title: 'Active window',
    present: (d) => typeof d.active_window === 'string' && d.active_window !== '',
    value: () => null,
    text: (d) => d.active_window,
    detail: () => '',
  },
];

/** @type {Map<string, Map<string, number[]>>} device → tile → recent values */
const histories = new Map();

/** Records the sensor values of device's telemetry sample data. */
export function addSensors(device, data) {
  if (!data || typeof data !== 'object') return;
  let h = histories.get(device);
  if (!h) { h = new Map(); histories.set(device, h); }
  for (const tile of TILES) {
    if (!tile.present(data)) continue;
    const v = tile.value(data);
    if (v === null || !isFinite(v)) continue;
    const vals = h.get(tile.key) || [];
    vals.push(v);
    if (vals.length > POINTS) vals.splice(0, vals.length - POINTS);
    h.set(tile.key, vals);
  }
}

/** Draws the selected device's tiles from its latest sample; none when it reports no sensor. */
export function renderSensors() {
  const d = state.devices.get(state.selected);
  const hist = d && state.history.get(d.device_id);
  const last = hist && hist.last;
  const series = (d && histories.get(d.device_id)) || new Map();
  const shown = last ? TILES.filter((t) => t.present(last)) : [];
  const box = $('sensors');
  const keys = shown.map((t) => t.key).join(',');
  if (box.dataset.keys !== keys) {
    box.dataset.keys = keys;
    box.replaceChildren(...shown.map(tileElement));
  }
  $('sensors-card').hidden = shown.length === 0;
  for (const t of shown) {
    const el = $(`tile-${t.key}`);
    el.querySelector('.tile-value').textContent = t.text(last);
    const detail = t.detail(last);
    el.querySelector('.tile-detail').textContent = detail;
    drawSpark(el.querySelector('svg'), series.get(t.key) || []);
  }
}

function tileElement(t) {
  const el = document.createElement('div');
  el.className = 'tile';
  el.id = `tile-${t.key}`;
  el.dataset.sensor = t.key;
  const h = document.createElement('h3');
  h.textContent = t.title;
  const v = document.createElement('p');
  v.className = 'tile-value';
  const det = document.createElement('p');
  det.className = 'tile-detail';
  el.append(h, v, det);
  if (t.key !== 'window') {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', `0 0 ${POINTS - 1} 20`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('aria-hidden', 'true');
    svg.classList.add('spark');
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    svg.append(line);
    el.append(svg);
  } else {
    v.classList.add('tile-text');
  }
  return el;
}

/** Draws vals (oldest first) as a line scaled to its own range, right-aligned. */
function drawSpark(svg, vals) {
  if (!svg) return;
  svg.dataset.points = String(vals.length);
  const lo = Math.min(0, ...vals);
  const hi = Math.max(...vals, lo + 1e-9);
  const off = POINTS - vals.length;
  const pts = vals.map((v, i) => `${off + i},${(20 - ((v - lo) / (hi - lo)) * 18 - 1).toFixed(2)}`);
  svg.firstChild.setAttribute('points', pts.join(' '));
}

function num(v) {
  return typeof v === 'number' && isFinite(v) ? v : 0;
}

/** Bytes per second: "1.2 MiB/s". */
function rate(n) {
  return `${formatBytes(n)}/s`;
}

/** A duration in seconds for people: "42 s", "3 min", "2 h 5 min", "4 d 3 h". */
export function duration(s) {
  s = Math.max(0, Math.round(num(s)));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const days = Math.floor(h / 24);
  return h % 24 ? `${days} d ${h % 24} h` : `${days} d`;
}
