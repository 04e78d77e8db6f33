// Telemetry history and the CPU chart (uPlot, loaded as /static/vendor/uplot).

/** Seconds of history kept and shown. */
export const WINDOW_S = 300;
/** A pause between samples longer than this breaks the line. */
const GAP_S = 5;

/**
 * The recent telemetry of one device, in columns as uPlot wants them:
 * t (seconds since the epoch), cpu (total percent), cores (one column a core).
 * A null in a column breaks the line there.
 */
export class History {
  constructor() {
    this.t = [];
    this.cpu = [];
    this.cores = [];
    this.last = null; // the latest telemetry data object
  }

  /**
   * Adds one sample taken at time t (seconds) and drops samples older than
   * the window. Samples older than the newest one are ignored.
   */
  add(t, data) {
    const n = this.t.length;
    const prev = n ? this.t[n - 1] : -Infinity;
    if (!(t > prev)) return;
    const per = Array.isArray(data.cpu_per_core) ? data.cpu_per_core : [];
    if (per.length !== this.cores.length) {
      this.cores = per.map(() => new Array(n).fill(null));
    }
    if (n && t - prev > GAP_S) this.push(prev + 1, null, per.map(() => null));
    this.push(t, num(data.cpu_percent), per.map(num));
    this.last = data;
    this.trim(t);
  }

  push(t, cpu, cores) {
    this.t.push(t);
    this.cpu.push(cpu);
    this.cores.forEach((c, i) => c.push(cores[i] ?? null));
  }

  /** Drops samples before now − WINDOW_S (with a little slack for the left edge). */
  trim(now) {
    let k = 0;
    while (k < this.t.length && this.t[k] < now - WINDOW_S - 2) k++;
    if (k > 0) {
      this.t.splice(0, k);
      this.cpu.splice(0, k);
      this.cores.forEach((c) => c.splice(0, k));
    }
  }
}

function num(v) {
  return typeof v === 'number' && isFinite(v) ? v : null;
}

const two = (n) => String(n).padStart(2, '0');

/** An x-axis label: "14:05" on whole minutes, ":30" between them. */
function timeTick(v) {
  if (v == null) return '';
  const d = new Date(v * 1000);
  return d.getSeconds() === 0 ? `${two(d.getHours())}:${two(d.getMinutes())}` : `:${two(d.getSeconds())}`;
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * The CPU chart of the selected device. The x-axis always shows the last five
 * minutes up to now and moves every time tick() is called.
 */
export class CpuChart {
  /** @param {HTMLElement} el the container */
  constructor(el) {
    this.el = el;
    this.plot = null;
    this.key = '';
    this.history = null;
    this.perCore = false;
    this.now = () => Date.now() / 1000;
    if (typeof ResizeObserver === 'function') {
      this.resizer = new ResizeObserver(() => this.resize());
      this.resizer.observe(el);
    }
    const dark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)');
    if (dark && dark.addEventListener) dark.addEventListener('change', () => this.rebuild());
  }

  /** Shows history h (or nothing when h is null). */
  show(h, perCore) {
    this.history = h;
    this.perCore = perCore;
    this.tick();
  }

  /** Recreates the plot, for example after the colour scheme changed. */
  rebuild() {
    this.key = '';
    this.tick();
  }

  /** Redraws with the x-axis ending now. Cheap; call it every second. */
  tick() {
    const h = this.history;
    if (!h || typeof window.uPlot !== 'function') {
      this.destroy();
      return;
    }
    const cores = this.perCore ? h.cores.length : 0;
    const key = `${cores}`;
    if (key !== this.key || !this.plot) this.create(cores);
    this.plot.setData(this.data(cores));
    // How many samples are drawn, for people reading the DOM and for tests.
    const points = String(h.cpu.reduce((n, v) => n + (v == null ? 0 : 1), 0));
    if (this.el.dataset.points !== points) this.el.dataset.points = points;
  }

  data(cores) {
    const h = this.history;
    return [h.t, h.cpu, ...h.cores.slice(0, cores)];
  }

  create(cores) {
    this.destroy();
    this.key = `${cores}`;
    const line = cssVar('--chart-line') || '#2f6fdb';
    const fill = cssVar('--chart-fill') || 'rgba(47,111,219,0.12)';
    const grid = cssVar('--chart-grid') || 'rgba(0,0,0,0.07)';
    const axis = cssVar('--chart-axis') || '#5d6673';
    const pct = (u, v) => (v == null ? '—' : `${v.toFixed(1)}%`);
    const series = [
      { value: (u, v) => (v == null ? '—' : new Date(v * 1000).toLocaleTimeString()) },
      { label: 'Total', stroke: line, fill, width: 2, value: pct, points: { show: false } },
    ];
    for (let i = 0; i < cores; i++) {
      const hue = Math.round((i * 360) / Math.max(cores, 1) + 20) % 360;
      series.push({
        label: `Core ${i}`, stroke: `hsla(${hue}, 60%, 55%, 0.75)`, width: 1, value: pct,
        points: { show: false },
      });
    }
    const axisStyle = { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts = {
      width: this.width(),
      height: this.height(),
      pxAlign: 0,
      scales: {
        x: { time: true, range: () => { const now = this.now(); return [now - WINDOW_S, now]; } },
        y: { range: () => [0, 100] },
      },
      axes: [
        { ...axisStyle, space: 50, values: (u, vals) => vals.map(timeTick) },
        { ...axisStyle, size: 48, values: (u, vals) => vals.map((v) => `${v}%`) },
      ],
      series,
      legend: { show: cores > 0 },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
    };
    this.plot = new window.uPlot(opts, this.data(cores), this.el);
  }

  width() {
    return Math.max(200, Math.floor(this.el.clientWidth || 600));
  }

  height() {
    return window.innerWidth < 500 ? 180 : 220;
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: this.height() });
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    delete this.el.dataset.points;
    this.key = '';
  }
}
