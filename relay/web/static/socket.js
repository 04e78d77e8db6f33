// The page's one WebSocket to the relay (/ws/client), kept open with capped,
// jittered backoff.

/** Close code the relay sends when it restarts. */
export const CLOSE_SERVICE_RESTART = 1012;

const MIN_DELAY = 1000;
const MAX_DELAY = 30000;
/** A link that stayed up this long resets the backoff. */
const STABLE_AFTER = 10000;

/**
 * How long to wait before reconnecting, in milliseconds.
 * After a relay restart (1012): soon, 0.5–2 s. Otherwise capped exponential
 * backoff with jitter: attempt 0 waits 1 s, then about 2, 4, 8, 16, 30 s, each
 * drawn uniformly from the upper half of its step.
 * @param {number} attempt consecutive failures before this one, from 0
 * @param {number} closeCode
 * @param {() => number} [rand] uniform in [0, 1)
 */
export function reconnectDelay(attempt, closeCode, rand = Math.random) {
  if (closeCode === CLOSE_SERVICE_RESTART) return 500 + Math.floor(rand() * 1500);
  const step = Math.min(MAX_DELAY, MIN_DELAY * 2 ** Math.min(attempt, 16));
  return Math.max(MIN_DELAY, Math.floor(step / 2 + rand() * step / 2));
}

/** The ws: or wss: URL of path on this page's origin. */
export function socketURL(loc, path) {
  const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${loc.host}${path}`;
}

/**
 * A self-healing WebSocket. State changes are reported through onState with
 * one of: {state: "connecting"}, {state: "live"}, {state: "retry", at} (a
 * reconnect is scheduled at time `at`, ms since the epoch), {state: "stopped"}.
 */
export class Socket {
  /**
   * @param {object} o
   * @param {string} o.url
   * @param {(msg: any) => void} o.onMessage every decoded frame
   * @param {(s: {state: string, at?: number}) => void} o.onState
   * @param {(ev: CloseEvent) => void} [o.onClose] after each close, before a retry is scheduled
   * @param {() => Promise<boolean>} [o.shouldRetry] asked after each close (but 1012); false stops
   */
  constructor(o) {
    this.o = o;
    this.ws = null;
    this.attempt = 0;
    this.timer = 0; // a scheduled reconnect, or 0
    this.soon = false; // retryNow came while shouldRetry was being asked
    this.running = false;
    this.openedAt = 0;
    this.gen = 0; // bumps on every stop/restart so stale callbacks do nothing
  }

  /** Starts connecting, if not already running. */
  start() {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** Closes the socket and stops reconnecting. */
  stop() {
    this.running = false;
    this.gen++;
    clearTimeout(this.timer);
    this.timer = 0;
    this.soon = false;
    if (this.ws) { try { this.ws.close(1000); } catch { /* already closed */ } }
    this.ws = null;
    this.o.onState({ state: 'stopped' });
  }

  /** Reconnects now, for example after pairing added a device or the network came back. */
  restart() {
    this.stop();
    this.attempt = 0;
    this.start();
  }

  /**
   * Retries at once when a reconnect is scheduled (the network came back).
   * While shouldRetry is being asked, the reconnect it leads to comes without
   * delay instead: connecting now as well would open a second socket.
   */
  retryNow() {
    if (!this.running || this.ws) return;
    if (this.timer) this.connect();
    else this.soon = true;
  }

  /** True when frames can be sent. */
  get live() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends one message; returns false when the socket is not open. */
  send(msg) {
    if (!this.live) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = 0;
    if (this.ws) {
      // Never two sockets: one still open here is dropped, unheard.
      const old = this.ws;
      old.onopen = old.onmessage = old.onclose = null;
      try { old.close(1000); } catch { /* already closed */ }
    }
    const gen = this.gen;
    this.o.onState({ state: 'connecting' });
    let ws;
    try {
      ws = new WebSocket(this.o.url);
    } catch (err) {
      this.schedule(gen, 1006);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (gen !== this.gen) return;
      this.openedAt = Date.now();
      this.o.onState({ state: 'live' });
    };
    ws.onmessage = (ev) => {
      if (gen !== this.gen) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg && typeof msg === 'object') this.o.onMessage(msg);
    };
    ws.onclose = async (ev) => {
      if (gen !== this.gen) return;
      this.ws = null;
      const wasOpen = this.openedAt > 0;
      if (wasOpen && Date.now() - this.openedAt >= STABLE_AFTER) this.attempt = 0;
      this.openedAt = 0;
      if (this.o.onClose) this.o.onClose(ev);
      if (ev.code !== CLOSE_SERVICE_RESTART && this.o.shouldRetry) {
        this.o.onState({ state: 'connecting' });
        const go = await this.o.shouldRetry();
        if (gen !== this.gen) return;
        if (!go) { this.stop(); return; }
      }
      this.schedule(gen, ev.code);
    };
  }

  schedule(gen, code) {
    if (gen !== this.gen || !this.running) return;
    const delay = this.soon ? 0 : reconnectDelay(this.attempt, code);
    this.soon = false;
    if (code !== CLOSE_SERVICE_RESTART) this.attempt++;
    this.o.onState({ state: 'retry', at: Date.now() + delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = 0; if (gen === this.gen) this.connect(); }, delay);
  }
}
