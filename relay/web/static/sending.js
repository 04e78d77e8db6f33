// Sending commands and settling their results in the activity log. What a
// particular command does with its result beyond the log (the screenshot
// shows its picture) is a ResultHandler registered for its name.

import { state } from './page.js';
import { finish, logEntry } from './activity.js';
import { commandTitle } from './commands.js';
import { shortJSON, elideLongStrings } from './format.js';

/**
 * What a command does beyond the log. sent(device) after it went out;
 * settled(device, result) returns the log's detail for a success, or
 * undefined for the usual one; failed(device, code) when no answer will come.
 * @typedef {{sent: (device: string) => void, settled: (device: string, m: any) => (string|undefined),
 *   failed: (device: string, code: string) => void}} ResultHandler
 */

/** @type {Map<string, ResultHandler>} */
const handlers = new Map();

/** @type {(msg: any) => boolean} */
let transport = () => false;

/** Sends commands through send (returns false when nothing could be sent). */
export function sendThrough(send) {
  transport = send;
}

/** Registers what command name does beyond the log. */
export function onResult(name, handler) {
  handlers.set(name, handler);
}

/** Sends spec's command with args to the selected device and logs it. */
export function sendCommand(spec, args) {
  const d = state.devices.get(state.selected);
  if (!d) return;
  const id = `c${state.nextId++}`;
  const msg = { type: 'command', id, device: d.device_id, name: spec.name, args };
  const el = logEntry({ id, title: commandTitle(spec), device: d, args });
  if (!transport(msg)) {
    finish(el, 'not_sent', 'not sent', 'The connection to the relay is down; nothing was sent.');
    return;
  }
  state.pending.set(id, { el, sent: performance.now(), name: spec.name, device: d.device_id });
  const h = handlers.get(spec.name);
  if (h) h.sent(d.device_id);
}

/** Settles the log entry of result (or error) m, if it answers a command of ours. */
export function settle(m) {
  const p = state.pending.get(m.id);
  if (!p) return;
  state.pending.delete(m.id);
  const ms = Math.round(performance.now() - p.sent);
  const h = handlers.get(p.name);
  const detail = h ? h.settled(p.device, m) : undefined;
  if (m.ok && isProgramOutput(m.data)) {
    finish(p.el, 'ok', `ok · ${ms} ms`, detail ?? '', m.data);
  } else if (m.ok) {
    finish(p.el, 'ok', `ok · ${ms} ms`, detail ?? resultDetail(m.data));
  } else {
    const e = m.error || {};
    const code = e.code || 'error';
    finish(p.el, code, `${code} · ${ms} ms`, e.message || '');
  }
}

/** Whether data is what a custom command returns: {exit_code, stdout, stderr}. */
function isProgramOutput(data) {
  return !!data && typeof data === 'object' && Number.isInteger(data.exit_code) &&
    typeof data.stdout === 'string' && typeof data.stderr === 'string';
}

/** What the log says of a successful result's data: never a large payload. */
function resultDetail(data) {
  if (data === undefined || data === null) return '';
  return shortJSON(elideLongStrings(data));
}

/** Fails every command still waiting, with code and message (the socket closed). */
export function failPending(code, message) {
  for (const [id, p] of state.pending) {
    finish(p.el, code, code, message);
    state.pending.delete(id);
    const h = handlers.get(p.name);
    if (h) h.failed(p.device, code);
  }
}
