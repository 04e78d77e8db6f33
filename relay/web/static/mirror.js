// The live mirror of a desktop's pointer: the screen's outline drawn to scale,
// the pointer, its recent trail, a ripple on each click and a hint of each
// scroll. PointerTrack holds what is known of one device's pointer (no DOM);
// Mirror draws a track on a canvas and reports clicks on it in desktop
// coordinates.

/** How long the trail stays visible, ms. */
export const TRAIL_MS = 2000;
/** How long a click's ripple lasts, ms. */
export const RIPPLE_MS = 700;
/** How long a scroll's chevrons last, ms. */
export const SCROLL_MS = 600;
/** How long the mark of a point picked on the mirror lasts, ms. */
export const PICK_MS = 1500;

const BUTTONS = ['left', 'right', 'middle'];
const TRAIL_MAX = 200; // points kept, whatever their age (20/s × 2 s is 40)

/** What the page knows of one device's pointer. */
export class PointerTrack {
  constructor() {
    /** @type {number|null} */ this.x = null;
    /** @type {number|null} */ this.y = null;
    this.clicks = 0;
    this.scrolls = 0;
    this.events = 0;
    /** @type {{x: number, y: number, t: number}[]} */ this.trail = [];
    /** @type {{x: number, y: number, t: number, button: string}[]} */ this.ripples = [];
    /** @type {{x: number, y: number, t: number, dx: number, dy: number}[]} */ this.scrollMarks = [];
  }

  /**
   * Adds the data of an event received at local time now (ms). Returns false
   * and changes nothing when it is not a well-formed pointer event.
   * @param {any} data
   * @param {number} now
   */
  add(data, now) {
    if (!data || !isCoord(data.x) || !isCoord(data.y)) return false;
    const { x, y } = data;
    switch (data.kind) {
      case 'mouse_move':
        break;
      case 'mouse_click':
        this.clicks++;
        this.ripples.push({ x, y, t: now, button: BUTTONS.includes(data.button) ? data.button : 'left' });
        break;
      case 'mouse_scroll':
        this.scrolls++;
        this.scrollMarks.push({ x, y, t: now, dx: Math.sign(Number(data.dx) || 0), dy: Math.sign(Number(data.dy) || 0) });
        break;
      default:
        return false;
    }
    this.events++;
    if (this.x !== x || this.y !== y || this.trail.length === 0) this.trail.push({ x, y, t: now });
    this.x = x;
    this.y = y;
    this.prune(now);
    return true;
  }

  /** Drops what has faded out by now (ms). */
  prune(now) {
    const keep = (age) => (p) => now - p.t < age;
    this.trail = this.trail.filter(keep(TRAIL_MS)).slice(-TRAIL_MAX);
    this.ripples = this.ripples.filter(keep(RIPPLE_MS));
    this.scrollMarks = this.scrollMarks.filter(keep(SCROLL_MS));
  }

  /** Whether anything is still fading at now (ms), so the mirror must keep drawing. */
  busy(now) {
    const alive = (age) => (p) => now - p.t < age;
    return this.trail.some(alive(TRAIL_MS)) || this.ripples.some(alive(RIPPLE_MS)) || this.scrollMarks.some(alive(SCROLL_MS));
  }
}

function isCoord(v) {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1e6;
}

/**
 * Converts a point in the mirror's box (CSS pixels from its top left) to
 * desktop coordinates, rounded and kept inside the screen.
 * @param {number} px
 * @param {number} py
 * @param {{width: number, height: number}} box the mirror's size in CSS pixels
 * @param {{width: number, height: number}} screen the desktop's size in pixels
 */
export function toDesktop(px, py, box, screen) {
  const clamp = (v, hi) => Math.max(0, Math.min(hi - 1, Math.round(v)));
  return {
    x: clamp((px / box.width) * screen.width, screen.width),
    y: clamp((py / box.height) * screen.height, screen.height),
  };
}

/**
 * Draws one PointerTrack in a container (the element #mirror). The container
 * gets a canvas, keeps the screen's aspect ratio, and carries the last pointer
 * position as data-x and data-y (desktop coordinates) and the count of clicks
 * as data-clicks.
 */
export class Mirror {
  /**
   * @param {HTMLElement} container
   * @param {(x: number, y: number) => void} [onPick] called with desktop coordinates when the mirror is clicked
   */
  constructor(container, onPick) {
    this.el = container;
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('role', 'img');
    this.el.append(this.canvas);
    this.ctx = this.canvas.getContext('2d');
    /** @type {PointerTrack|null} */ this.track = null;
    /** @type {{width: number, height: number}|null} */ this.screen = null;
    /** @type {{x: number, y: number, t: number}|null} */ this.pick = null;
    this.frame = 0;
    this.colors = readColors(this.el);
    this.onPick = onPick;
    new ResizeObserver(() => this.resize()).observe(this.el);
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
      this.colors = readColors(this.el);
      this.draw();
    });
    this.canvas.addEventListener('click', (ev) => {
      if (!this.screen || !this.onPick || !this.el.classList.contains('pickable')) return;
      const r = this.canvas.getBoundingClientRect();
      const p = toDesktop(ev.clientX - r.left, ev.clientY - r.top, r, this.screen);
      this.pick = { ...p, t: performance.now() };
      this.onPick(p.x, p.y);
      this.schedule();
    });
  }

  /**
   * Shows track on a screen of the given size (null hides nothing but draws
   * an empty outline).
   * @param {PointerTrack|null} track
   * @param {{width: number, height: number}} screen
   */
  show(track, screen) {
    const resized = !this.screen || this.screen.width !== screen.width || this.screen.height !== screen.height;
    if (track !== this.track) this.pick = null;
    this.track = track;
    this.screen = { width: screen.width, height: screen.height };
    if (resized) {
      // Keep the screen's shape; a tall screen is no taller than 60% of the window.
      this.el.style.aspectRatio = `${screen.width} / ${screen.height}`;
      this.el.style.maxWidth = `calc(60vh * ${screen.width / screen.height})`;
    }
    this.update();
  }

  /** Whether clicking the mirror picks a point (shown by the cursor); off at first. */
  set pickable(on) {
    this.el.classList.toggle('pickable', on);
  }

  /** Refreshes the data attributes and draws: call after the track changed. */
  update() {
    const t = this.track;
    const el = this.el;
    if (t && t.x !== null) {
      el.dataset.x = String(t.x);
      el.dataset.y = String(t.y);
    } else {
      delete el.dataset.x;
      delete el.dataset.y;
    }
    el.dataset.clicks = String(t ? t.clicks : 0);
    el.dataset.scrolls = String(t ? t.scrolls : 0);
    const s = this.screen;
    let label = s ? `Screen of ${s.width} by ${s.height} pixels` : 'Screen';
    if (t && t.x !== null) label += `; pointer at ${t.x}, ${t.y}; ${t.clicks} click${t.clicks === 1 ? '' : 's'} seen`;
    this.canvas.setAttribute('aria-label', label);
    this.schedule();
  }

  resize() {
    const r = this.el.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * dpr));
    const h = Math.max(1, Math.round(r.height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.draw();
  }

  /** Draws on the next animation frame (at most once per frame). */
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
      const now = performance.now();
      if ((this.track && this.track.busy(now)) || (this.pick && now - this.pick.t < PICK_MS)) this.schedule();
    });
  }

  draw() {
    const { ctx, canvas, screen: s, colors: c } = this;
    const now = performance.now();
    const dpr = window.devicePixelRatio || 1;
    const W = canvas.width / dpr;
    const H = canvas.height / dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    // The screen: its outline, and its size in a corner.
    ctx.fillStyle = c.screen;
    ctx.strokeStyle = c.outline;
    ctx.lineWidth = 1.5;
    roundRect(ctx, 0.75, 0.75, W - 1.5, H - 1.5, 6);
    ctx.fill();
    ctx.stroke();
    if (!s) return;
    ctx.fillStyle = c.muted;
    ctx.font = '11px system-ui, sans-serif';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'bottom';
    ctx.fillText(`${s.width} × ${s.height}`, W - 8, H - 6);
    const sx = W / s.width;
    const sy = H / s.height;
    const X = (x) => Math.max(0, Math.min(W, x * sx));
    const Y = (y) => Math.max(0, Math.min(H, y * sy));

    const t = this.track;
    if (t) {
      t.prune(now);
      // The trail: segments fading with age.
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      ctx.strokeStyle = c.trail;
      ctx.lineWidth = 2;
      for (let i = 1; i < t.trail.length; i++) {
        const a = t.trail[i - 1];
        const b = t.trail[i];
        ctx.globalAlpha = Math.max(0, 1 - (now - b.t) / TRAIL_MS) * 0.8;
        ctx.beginPath();
        ctx.moveTo(X(a.x), Y(a.y));
        ctx.lineTo(X(b.x), Y(b.y));
        ctx.stroke();
      }
      // Scrolls: small chevrons beside the pointer, pointing the way of the wheel.
      ctx.strokeStyle = c.muted;
      ctx.lineWidth = 1.5;
      for (const m of t.scrollMarks) {
        const k = (now - m.t) / SCROLL_MS;
        ctx.globalAlpha = Math.max(0, 1 - k) * 0.9;
        const shift = 3 * k;
        if (m.dy) chevron(ctx, X(m.x) + 14, Y(m.y) + m.dy * (6 + shift), 0, m.dy);
        if (m.dx) chevron(ctx, X(m.x) + m.dx * (10 + shift), Y(m.y) + 18, m.dx, 0);
      }
      // Clicks: an expanding ring, coloured by button.
      for (const r of t.ripples) {
        const k = Math.min(1, (now - r.t) / RIPPLE_MS);
        ctx.globalAlpha = 1 - k;
        ctx.strokeStyle = c[r.button] || c.left;
        ctx.lineWidth = 2.5;
        ctx.beginPath();
        ctx.arc(X(r.x), Y(r.y), 4 + 22 * easeOut(k), 0, 2 * Math.PI);
        ctx.stroke();
        ctx.fillStyle = c[r.button] || c.left;
        ctx.globalAlpha = (1 - k) * 0.25;
        ctx.fill();
      }
      ctx.globalAlpha = 1;
      if (t.x !== null) pointer(ctx, X(t.x), Y(t.y), c);
    }
    // A point picked on the mirror: a fading crosshair.
    if (this.pick) {
      const k = (now - this.pick.t) / PICK_MS;
      if (k < 1) {
        ctx.globalAlpha = 1 - k;
        ctx.strokeStyle = c.pick;
        ctx.lineWidth = 1;
        const px = X(this.pick.x);
        const py = Y(this.pick.y);
        ctx.beginPath();
        ctx.moveTo(px - 9, py); ctx.lineTo(px + 9, py);
        ctx.moveTo(px, py - 9); ctx.lineTo(px, py + 9);
        ctx.stroke();
        ctx.globalAlpha = 1;
      }
    }
  }
}

function readColors(el) {
  const cs = getComputedStyle(el);
  const v = (name, fallback) => cs.getPropertyValue(name).trim() || fallback;
  return {
    screen: v('--mirror-screen', '#fff'),
    outline: v('--mirror-outline', '#888'),
    muted: v('--muted', '#666'),
    trail: v('--accent', '#2f6fdb'),
    pointer: v('--text', '#000'),
    halo: v('--card', '#fff'),
    left: v('--click-left', '#2f6fdb'),
    right: v('--click-right', '#a86400'),
    middle: v('--click-middle', '#1f8a4c'),
    pick: v('--err', '#c4322b'),
  };
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

function easeOut(k) {
  return 1 - (1 - k) * (1 - k);
}

/** A chevron of 4 px centred on (x, y), pointing along (dx, dy). */
function chevron(ctx, x, y, dx, dy) {
  ctx.beginPath();
  if (dy) {
    ctx.moveTo(x - 4, y - 2 * dy);
    ctx.lineTo(x, y + 2 * dy);
    ctx.lineTo(x + 4, y - 2 * dy);
  } else {
    ctx.moveTo(x - 2 * dx, y - 4);
    ctx.lineTo(x + 2 * dx, y);
    ctx.lineTo(x - 2 * dx, y + 4);
  }
  ctx.stroke();
}

/** The classic arrow cursor with its tip at (x, y). */
function pointer(ctx, x, y, c) {
  const pts = [[0, 0], [0, 16], [4, 12.5], [7, 19], [9.5, 18], [6.6, 11.6], [12, 11.6]];
  ctx.beginPath();
  pts.forEach(([px, py], i) => (i ? ctx.lineTo(x + px, y + py) : ctx.moveTo(x + px, y + py)));
  ctx.closePath();
  ctx.lineJoin = 'round';
  ctx.lineWidth = 2.5;
  ctx.strokeStyle = c.halo;
  ctx.stroke();
  ctx.fillStyle = c.pointer;
  ctx.fill();
}
