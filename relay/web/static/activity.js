// The activity log: commands sent and their results, events the computers
// report, and refusals from the relay, newest first. Each line is kept as a
// record (LogRecord) so it can be saved and shown again after a reload.

import { $, state, span, displayName } from './page.js';
import { save, keepLog } from './saved.js';
import { clockTime, summarizeArgs, humanize } from './format.js';

/** Most lines kept. */
const LOG_MAX = 200;

/** Most characters of a program's stdout or stderr kept with a log line (what a reload brings back). */
const OUTPUT_KEEP = 16 * 1024;

/**
 * Settles log line el: its status code, the text shown for it, a detail
 * line, and the output of a program the command ran (a custom command's
 * {exit_code, stdout, stderr}), if any.
 */
export function finish(el, status, text, detail, output) {
  const rec = el._rec;
  Object.assign(rec, { status, statusText: text, detail });
  if (output) rec.output = keptOutput(output);
  fillLogItem(el, rec);
  save();
}

/**
 * The output of a program as the log keeps it: strings only, each cut to
 * OUTPUT_KEEP characters (the page shows no more; the cut is marked).
 * @returns {{exitCode: number, stdout: string, stderr: string, stdoutCut: boolean, stderrCut: boolean}}
 */
function keptOutput(o) {
  const cut = (v, flag) => {
    const t = typeof v === 'string' ? v : '';
    return { text: t.slice(0, OUTPUT_KEEP), cut: !!flag || t.length > OUTPUT_KEEP };
  };
  const out = cut(o.stdout, o.stdout_truncated ?? o.stdoutCut);
  const err = cut(o.stderr, o.stderr_truncated ?? o.stderrCut);
  const code = Number(o.exit_code ?? o.exitCode);
  return { exitCode: Number.isInteger(code) ? code : -1, stdout: out.text, stderr: err.text, stdoutCut: out.cut, stderrCut: err.cut };
}

/**
 * One line of the activity log, as data, so it survives a reload:
 * kind "command" (id set), "event" or "refusal"; time in ms since the epoch;
 * what (bold), target (device name or ""), summary (arguments), status and
 * statusText, detail, and output (a custom command's exit code, stdout and
 * stderr, as keptOutput makes it).
 * @typedef {{kind: string, id?: string, event?: string, time: number, what: string, target: string,
 *   summary: string, status: string, statusText: string, detail: string, output?: object}} LogRecord
 */

/** Logs a command just sent (pending) and returns its line. */
export function logEntry({ id, title, device, args }) {
  const target = state.devices.size > 1 ? ` → ${displayName(device)}` : '';
  return addLog({ kind: 'command', id, time: Date.now(), what: title, target, summary: summarizeArgs(args),
    status: 'pending', statusText: 'pending', detail: '' });
}

/** Logs an event a computer reported. */
export function logEvent(m) {
  const data = m.data || {};
  const dev = state.devices.get(m.device);
  const t = Date.parse(m.ts);
  const rest = { ...data };
  delete rest.kind;
  addLog({ kind: 'event', event: data.kind || 'event', time: isNaN(t) ? Date.now() : t, what: humanize(data.kind || 'event'),
    target: dev && state.devices.size > 1 ? ` on ${displayName(dev)}` : '', summary: summarizeArgs(rest),
    status: 'event', statusText: 'event', detail: '' });
}

/** Logs an error frame from the relay that answers no command of ours. */
export function logRefusal(e) {
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
  const output = document.createElement('div');
  output.className = 'output';
  li.append(span('time', clockTime(new Date(rec.time))), what, span('status', ''), detail, output);
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
  fillOutput(li.querySelector('.output'), rec.output);
}

/** Shows a program's exit code, stdout and stderr, as text (never markup). */
function fillOutput(el, o) {
  el.replaceChildren();
  el.hidden = !o;
  if (!o) return;
  const code = span('exit-code', `exit code ${o.exitCode}`);
  code.dataset.code = String(o.exitCode);
  el.append(code);
  for (const [name, text, cut] of [['stdout', o.stdout, o.stdoutCut], ['stderr', o.stderr, o.stderrCut]]) {
    if (!text && !cut) continue;
    const label = span('stream', cut ? `${name} (cut)` : name);
    const pre = document.createElement('pre');
    pre.className = name;
    pre.textContent = text;
    el.append(label, pre);
  }
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

/** The records of the lines shown, newest first. */
export function logRecords() {
  return [...$('log').children].map((li) => li._rec).filter(Boolean);
}
keepLog(logRecords);

/**
 * Shows saved records (newest first) below whatever is there. A command that
 * was still waiting for its answer is shown as such: nobody will answer it now.
 */
export function restoreLog(saved) {
  const recs = (Array.isArray(saved) ? saved : []).filter((r) => r && typeof r.what === 'string' && typeof r.status === 'string');
  const items = recs.slice(0, LOG_MAX).map((r) => {
    const rec = { kind: String(r.kind || 'command'), time: Number(r.time) || Date.now(), what: r.what, target: String(r.target || ''),
      summary: String(r.summary || ''), status: r.status, statusText: String(r.statusText || r.status), detail: String(r.detail || '') };
    if (typeof r.id === 'string') rec.id = r.id;
    if (typeof r.event === 'string') rec.event = r.event;
    if (r.output && typeof r.output === 'object') rec.output = keptOutput(r.output);
    if (rec.status === 'pending') {
      Object.assign(rec, { status: 'unknown', statusText: 'no answer',
        detail: 'The page was reloaded before the answer arrived; the command may or may not have run.' });
    }
    return logItem(rec);
  });
  $('log').append(...items);
  $('log-empty').hidden = $('log').children.length > 0;
}
