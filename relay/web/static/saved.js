// What survives a reload of the page: the chart's history of each paired
// device and the activity log, in sessionStorage (this tab only, gone when it
// closes), bounded in size.

import { state } from './page.js';
import { History } from './chart.js';

/** sessionStorage key of the saved state. */
const SAVED_KEY = 'tether.page';
/** Largest saved state, in characters: beyond it the per-core columns and most of the log are left out. */
const SAVED_MAX = 1_500_000;

let saveTimer = 0;
/** @type {() => any[]} the log's records, newest first */
let logRecords = () => [];

/** Tells saveNow where the log's records come from (activity.js). */
export function keepLog(records) {
  logRecords = records;
}

/** Saves soon (at most once a second); cheap to call on every change. */
export function save() {
  if (!saveTimer) saveTimer = setTimeout(saveNow, 1000);
}

/**
 * Writes the history of each paired device (at most WINDOW_S of it, as
 * History keeps) and the log (at most LOG_MAX lines) now, in at most
 * SAVED_MAX characters. Does nothing without a session.
 */
export function saveNow() {
  clearTimeout(saveTimer);
  saveTimer = 0;
  if (!state.session) return;
  const history = {};
  for (const [id, h] of state.history) {
    if (state.devices.has(id) && h.t.length) history[id] = { t: h.t, cpu: h.cpu, cores: h.cores, last: h.last };
  }
  const log = logRecords();
  let text = JSON.stringify({ v: 1, nextId: state.nextId, history, log });
  if (text.length > SAVED_MAX) {
    for (const h of Object.values(history)) h.cores = [];
    text = JSON.stringify({ v: 1, nextId: state.nextId, history, log: log.slice(0, 50) });
  }
  if (text.length > SAVED_MAX) { // programs' outputs: keep their first lines only
    const short = log.slice(0, 50).map((r) => (r.output ? { ...r, output: shortOutput(r.output) } : r));
    text = JSON.stringify({ v: 1, nextId: state.nextId, history, log: short });
  }
  try { sessionStorage.setItem(SAVED_KEY, text); } catch { /* full or disabled: nothing is kept */ }
}

/** A program's output cut to its first KiB of each stream, marked as cut. */
function shortOutput(o) {
  const cut = (t) => (t.length > 1024 ? t.slice(0, 1024) : t);
  return { ...o, stdout: cut(o.stdout), stderr: cut(o.stderr),
    stdoutCut: o.stdoutCut || o.stdout.length > 1024, stderrCut: o.stderrCut || o.stderr.length > 1024 };
}

/** Forgets what was saved (the session ended). */
export function clearSaved() {
  clearTimeout(saveTimer);
  saveTimer = 0;
  try { sessionStorage.removeItem(SAVED_KEY); } catch { /* disabled */ }
}

/**
 * Restores the saved histories and the next command number into state and
 * returns the saved log records (for activity.js restoreLog), or [].
 */
export function restore() {
  let saved;
  try { saved = JSON.parse(sessionStorage.getItem(SAVED_KEY) || 'null'); } catch { saved = null; }
  if (!saved || saved.v !== 1) return [];
  if (Number.isInteger(saved.nextId) && saved.nextId > 0) state.nextId = saved.nextId;
  for (const [id, v] of Object.entries(saved.history || {})) {
    if (!v || !Array.isArray(v.t) || !Array.isArray(v.cpu) || v.t.length !== v.cpu.length) continue;
    const cores = Array.isArray(v.cores) && v.cores.every((c) => Array.isArray(c) && c.length === v.t.length) ? v.cores : [];
    const h = new History();
    Object.assign(h, { t: v.t, cpu: v.cpu, cores, last: v.last && typeof v.last === 'object' ? v.last : null });
    h.trim(Date.now() / 1000);
    state.history.set(id, h);
  }
  return Array.isArray(saved.log) ? saved.log : [];
}

window.addEventListener('pagehide', saveNow);
