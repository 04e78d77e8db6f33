// The "Send photo or file" card: files chosen, photographed, dropped or
// pasted go to the selected computer over the page's socket
// (receive_files, PROTOCOL.md "Sending files"): file_begin, then binary
// chunks of 48 KiB, never more than the computer's window ahead of what it
// has written, then file_end with the SHA-256 computed on the way. Each
// file shows a thumbnail (images), a progress bar with speed and time left,
// a Cancel button, and how it ended.

import { $, state } from './page.js';
import { Sha256 } from './sha256.js';
import { formatBytes } from './format.js';

/** Payload bytes in one chunk (protocol.MaxChunk). */
export const CHUNK = 48 * 1024;
/** Files on their way at once from this page (protocol.MaxTransfers); more wait their turn. */
const MAX_ACTIVE = 4;
/** Longest file name sent, in bytes (protocol.MaxFileNameLen). */
const MAX_NAME = 255;
/**
 * Chunks read from the file at once (about 1.9 MiB): each read of a File is
 * a round trip to the browser's blob store, which at one chunk a read held
 * the page to about 12 MB/s. The next block is read while this one is sent.
 */
const BLOCK_CHUNKS = 40;

/** What each outcome means for the person sending. */
const OUTCOMES = {
  device_offline: 'The computer went offline; the file was not saved. Send it again when it is back.',
  disconnected: 'The connection to the relay closed; the file was not saved. Send it again.',
  too_large: 'Too large for this computer',
  not_allowed: 'This computer does not accept files (its owner switched “Receive files” off).',
  disk_full: 'The computer’s disk is full',
  hash_mismatch: 'The file arrived damaged and was not saved. Send it again.',
  cancelled: 'Cancelled; nothing was saved.',
  paused: 'The owner paused remote control on this computer.',
  timeout: 'The transfer stalled and was stopped; nothing was saved.',
  rate_limited: 'Too many files at once; send it again in a moment.',
};

/** @type {{send: (m: any) => boolean, sendBinary: (b: Uint8Array) => boolean}} */
let io = { send: () => false, sendBinary: () => false };

/** Sends the JSON frames through send and the chunks through sendBinary (each returns false when the socket is closed). */
export function transferThrough(send, sendBinary) {
  io = { send, sendBinary };
}

/** @type {Map<string, any>} transfer id → transfer */
const transfers = new Map();
/** @type {any[]} transfers waiting for a free slot */
const queue = [];
let seq = 0;

/** The receive_files spec of device d, or null when it does not take files. */
function receiveSpec(d) {
  return d && Array.isArray(d.commands) ? d.commands.find((c) => c && c.name === 'receive_files') || null : null;
}

/** The largest file d accepts, in bytes, or 0 when unknown. */
function sizeLimit(d) {
  const spec = receiveSpec(d);
  const size = spec && (spec.args || []).find((a) => a.name === 'size');
  return size && typeof size.max === 'number' ? size.max : 0;
}

/** Why files cannot be sent to d now, or '' when they can. */
function blocked(d) {
  if (!d) return 'No computer selected.';
  if (!d.online) return 'The computer is offline.';
  if (!receiveSpec(d)) return 'This computer does not accept files: its owner can switch “Receive files” on in the Tether menu or with “tether allow receive_files”.';
  if (d.paused) return 'The owner paused remote control on this computer.';
  const why = d.unavailable && d.unavailable.receive_files;
  if (why) return `Unavailable on this computer: ${String(why).replace(/[.\s]*$/, '')}.`;
  if (state.socket.state !== 'live') return 'Not connected to the relay.';
  return '';
}

/** Shows the card for the selected device, enabled when files can be sent. */
export function renderSend(d) {
  const card = $('send-card');
  card.hidden = !d; // shown disabled, saying why, when files cannot be sent now
  if (card.hidden) return;
  const why = blocked(d);
  const limit = sizeLimit(d);
  $('send-limit').textContent = limit ? `Up to ${formatBytes(limit)} a file · saved in Downloads/Tether` : 'Saved in Downloads/Tether';
  $('send-why').textContent = why;
  $('send-why').hidden = !why;
  for (const el of card.querySelectorAll('input[type="file"]')) el.disabled = !!why;
  card.dataset.enabled = String(!why);
}

/** Sends files (a FileList or array of File) to the selected device. */
export function sendFiles(files) {
  const d = state.devices.get(state.selected);
  const why = blocked(d);
  for (const file of Array.from(files || [])) {
    const t = newTransfer(d ? d.device_id : '', file);
    if (why) { finish(t, 'failed', why); continue; }
    const limit = sizeLimit(d);
    if (limit && file.size > limit) {
      finish(t, 'failed', `${OUTCOMES.too_large}: ${formatBytes(file.size)}; this computer accepts up to ${formatBytes(limit)}.`);
      continue;
    }
    queue.push(t);
  }
  startQueued();
}

function newTransfer(device, file) {
  const t = {
    id: `f${Date.now().toString(36)}-${++seq}`, device, file,
    chunks: Math.ceil(file.size / CHUNK), sent: 0, acked: 0, window: 0,
    status: 'waiting', hash: new Sha256(), pumping: false,
    block: null, blockIndex: -1, ahead: null, aheadIndex: -1,
    started: 0, samples: [], el: null, drawTimer: 0,
  };
  t.el = buildRow(t);
  $('send-list').prepend(t.el);
  return t;
}

/** Starts waiting transfers while fewer than MAX_ACTIVE are on their way. */
function startQueued() {
  while (queue.length && transfers.size < MAX_ACTIVE) {
    const t = queue.shift();
    if (t.status !== 'waiting') continue;
    transfers.set(t.id, t);
    t.status = 'opening';
    t.started = performance.now();
    const name = cutName(t.file.name || 'file');
    const ok = io.send({ type: 'file_begin', id: t.id, device: t.device, data: { name, size: t.file.size, mime: String(t.file.type || '').slice(0, 127) } });
    if (!ok) finish(t, 'failed', OUTCOMES.disconnected);
    else draw(t);
  }
}

/** name cut to MAX_NAME bytes of UTF-8, keeping its extension. */
function cutName(name) {
  const enc = new TextEncoder();
  if (enc.encode(name).length <= MAX_NAME) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  let stem = name.slice(0, name.length - ext.length);
  while (stem && enc.encode(stem + ext).length > MAX_NAME) stem = stem.slice(0, -1);
  return stem + ext;
}

/** Handles a file_ack; returns false when it is no transfer of this page. */
export function fileAck(m) {
  const t = transfers.get(m.id);
  if (!t) return false;
  const next = Number(m.data && m.data.next);
  const win = Number(m.data && m.data.window);
  if (!Number.isInteger(next) || next < t.acked || next > t.chunks) return true;
  t.acked = next;
  t.window = Number.isInteger(win) && win > 0 ? win : 1;
  if (t.status === 'opening') t.status = 'sending';
  t.samples.push([performance.now(), ackedBytes(t)]);
  while (t.samples.length > 2 && t.samples[0][0] < performance.now() - 3000) t.samples.shift();
  pump(t);
  scheduleDraw(t);
  return true;
}

/** Handles a result or error frame; returns false when it is no transfer of this page. */
export function fileResult(m) {
  const t = transfers.get(m.id);
  if (!t) return false;
  if (m.type === 'result' && m.ok) {
    const r = m.data || {};
    const where = r.folder ? ` in ${r.folder}` : '';
    finish(t, 'done', `Saved as “${r.saved_as || t.file.name}”${where}`, r.saved_as);
    return true;
  }
  const e = m.error || {};
  finish(t, 'failed', outcomeText(e.code, e.message));
  return true;
}

function outcomeText(code, message) {
  const known = OUTCOMES[code];
  if (code === 'too_large' || code === 'disk_full') return `${known}: ${message || ''}`.replace(/:\s*$/, '.');
  return known || `Not saved: ${message || code || 'unknown error'}`;
}

/** Ends every transfer still on its way: the socket closed. */
export function failTransfers(code) {
  for (const t of [...transfers.values()]) finish(t, 'failed', OUTCOMES[code] || OUTCOMES.disconnected);
}

/** Cancels t: the computer stops and deletes what it wrote; the result settles it. */
function cancel(t) {
  if (t.status === 'waiting') { finish(t, 'failed', OUTCOMES.cancelled); return; }
  if (!transfers.has(t.id)) return;
  t.status = 'cancelling';
  if (!io.send({ type: 'file_cancel', id: t.id, device: t.device })) finish(t, 'failed', OUTCOMES.cancelled);
  draw(t);
}

/** Sends chunks while the window allows, then file_end. One pump runs per transfer. */
async function pump(t) {
  if (t.pumping) return;
  t.pumping = true;
  try {
    while (t.status === 'sending' && t.sent < t.chunks && t.sent < t.acked + t.window) {
      const bytes = await chunkAt(t, t.sent);
      if (t.status !== 'sending') return;
      t.hash.update(bytes);
      if (!io.sendBinary(chunkFrame(t.id, t.sent, bytes))) { finish(t, 'failed', OUTCOMES.disconnected); return; }
      t.sent++;
    }
    if (t.status === 'sending' && t.sent === t.chunks) {
      t.status = 'ending';
      if (!io.send({ type: 'file_end', id: t.id, device: t.device, data: { chunks: t.chunks, sha256: t.hash.hex() } })) {
        finish(t, 'failed', OUTCOMES.disconnected);
      }
      draw(t);
    }
  } catch (err) {
    io.send({ type: 'file_cancel', id: t.id, device: t.device });
    finish(t, 'failed', `The file could not be read: ${err && err.message ? err.message : err}`);
  } finally {
    t.pumping = false;
  }
}

/** The bytes of chunk seq of t's file, read a block at a time, the next block ahead. */
async function chunkAt(t, seq) {
  const b = Math.floor(seq / BLOCK_CHUNKS);
  if (t.blockIndex !== b) {
    const read = t.ahead && t.aheadIndex === b ? t.ahead : readBlock(t.file, b);
    t.block = null;
    t.block = await read;
    t.blockIndex = b;
    t.aheadIndex = b + 1;
    t.ahead = (b + 1) * BLOCK_CHUNKS < t.chunks ? readBlock(t.file, b + 1) : null;
    if (t.ahead) t.ahead.catch(() => { /* reported when awaited */ });
  }
  const off = (seq - b * BLOCK_CHUNKS) * CHUNK;
  return t.block.subarray(off, Math.min(t.block.length, off + CHUNK));
}

/** Block b of file (BLOCK_CHUNKS chunks) as bytes. */
async function readBlock(file, b) {
  const start = b * BLOCK_CHUNKS * CHUNK;
  return new Uint8Array(await file.slice(start, Math.min(file.size, start + BLOCK_CHUNKS * CHUNK)).arrayBuffer());
}

/**
 * The binary frame of chunk seq of transfer id: "F", the id's length, the
 * id, seq as a big-endian uint32, the bytes.
 */
export function chunkFrame(id, seq, bytes) {
  const idBytes = new TextEncoder().encode(id);
  const frame = new Uint8Array(6 + idBytes.length + bytes.length);
  frame[0] = 0x46;
  frame[1] = idBytes.length;
  frame.set(idBytes, 2);
  new DataView(frame.buffer).setUint32(2 + idBytes.length, seq);
  frame.set(bytes, 6 + idBytes.length);
  return frame;
}

function ackedBytes(t) {
  return Math.min(t.file.size, t.acked * CHUNK);
}

/** Ends t with status (done or failed) and the text shown; frees its slot. */
function finish(t, status, text, savedAs) {
  if (t.status === 'done' || t.status === 'failed') return;
  t.status = status;
  t.outcome = text;
  if (savedAs) t.el.dataset.savedAs = savedAs;
  if (t.started) t.el.dataset.ms = String(Math.round(performance.now() - t.started));
  transfers.delete(t.id);
  t.block = t.ahead = null;
  clearTimeout(t.drawTimer);
  draw(t);
  startQueued();
}

// ---- Drawing ---------------------------------------------------------------

function buildRow(t) {
  const li = document.createElement('li');
  li.className = 'send-item';
  li.dataset.id = t.id;
  li.dataset.name = t.file.name;
  const thumb = document.createElement('div');
  thumb.className = 'send-thumb';
  thumb.setAttribute('aria-hidden', 'true');
  if (String(t.file.type).startsWith('image/')) makeThumb(t.file, thumb);
  const body = document.createElement('div');
  body.className = 'send-body';
  const name = document.createElement('p');
  name.className = 'send-name';
  name.textContent = t.file.name || 'file';
  const bar = document.createElement('progress');
  bar.max = Math.max(1, t.file.size);
  bar.value = 0;
  bar.setAttribute('aria-label', `Progress of ${t.file.name}`);
  const status = document.createElement('p');
  status.className = 'send-status';
  status.setAttribute('role', 'status');
  body.append(name, bar, status);
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'send-cancel';
  button.textContent = 'Cancel';
  button.addEventListener('click', () => cancel(t));
  li.append(thumb, body, button);
  return li;
}

/** Draws a small picture of an image file into el (as a data: URL, which the page's CSP allows). */
async function makeThumb(file, el) {
  try {
    const bmp = await createImageBitmap(file);
    const scale = Math.min(1, 96 / Math.max(bmp.width, bmp.height));
    const c = document.createElement('canvas');
    c.width = Math.max(1, Math.round(bmp.width * scale));
    c.height = Math.max(1, Math.round(bmp.height * scale));
    c.getContext('2d').drawImage(bmp, 0, 0, c.width, c.height);
    bmp.close();
    const img = document.createElement('img');
    img.alt = '';
    img.src = c.toDataURL('image/jpeg', 0.8);
    el.replaceChildren(img);
    el.dataset.image = 'true';
  } catch {
    /* not an image the browser can decode: the plain icon stays */
  }
}

function scheduleDraw(t) {
  if (t.drawTimer) return;
  t.drawTimer = setTimeout(() => { t.drawTimer = 0; draw(t); }, 150);
}

/** Bytes a second over the last few seconds of acks, or 0 before two. */
function speed(t) {
  const s = t.samples;
  if (s.length < 2) return 0;
  const [t0, b0] = s[0];
  const [t1, b1] = s[s.length - 1];
  return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
}

function draw(t) {
  const li = t.el;
  li.dataset.state = t.status;
  const bar = li.querySelector('progress');
  const status = li.querySelector('.send-status');
  const button = li.querySelector('.send-cancel');
  const size = t.file.size;
  const done = ackedBytes(t);
  bar.value = t.status === 'done' ? bar.max : done;
  let text;
  switch (t.status) {
    case 'waiting': text = `Waiting · ${formatBytes(size)}`; break;
    case 'opening': text = `Asking the computer… · ${formatBytes(size)}`; break;
    case 'sending': {
      const v = speed(t);
      const left = v > 0 ? Math.ceil((size - done) / v) : 0;
      text = `${formatBytes(done)} of ${formatBytes(size)}` + (v > 0 ? ` · ${formatBytes(v)}/s · ${timeLeft(left)} left` : '');
      break;
    }
    case 'ending': text = `Checking ${formatBytes(size)} on the computer…`; break;
    case 'cancelling': text = 'Cancelling…'; break;
    default: text = t.outcome || '';
  }
  if (status.textContent !== text) status.textContent = text;
  button.hidden = t.status === 'done' || t.status === 'failed' || t.status === 'cancelling';
}

function timeLeft(s) {
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

// ---- Choosing files --------------------------------------------------------

/** Wires the card's pickers, drag and drop on the card, and paste on the page. */
export function initSendCard() {
  for (const id of ['send-files', 'send-camera']) {
    const input = /** @type {HTMLInputElement} */ ($(id));
    input.addEventListener('change', () => { sendFiles(input.files); input.value = ''; });
  }
  const card = $('send-card');
  const enabled = () => !card.hidden && card.dataset.enabled === 'true';
  card.addEventListener('dragover', (ev) => {
    if (!enabled() || !ev.dataTransfer || ![...ev.dataTransfer.types].includes('Files')) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = 'copy';
    card.dataset.dragging = 'true';
  });
  card.addEventListener('dragleave', (ev) => { if (!card.contains(/** @type {Node} */ (ev.relatedTarget))) delete card.dataset.dragging; });
  card.addEventListener('drop', (ev) => {
    delete card.dataset.dragging;
    if (!enabled() || !ev.dataTransfer || !ev.dataTransfer.files.length) return;
    ev.preventDefault();
    sendFiles(ev.dataTransfer.files);
  });
  document.addEventListener('paste', (ev) => {
    const files = ev.clipboardData ? ev.clipboardData.files : null;
    if (!enabled() || !files || !files.length) return;
    ev.preventDefault();
    sendFiles(files);
  });
  // The camera is offered where there is one to hold: touch screens.
  const coarse = window.matchMedia && window.matchMedia('(pointer: coarse)').matches;
  $('send-camera-label').hidden = !coarse;
  $('send-drop-hint').hidden = coarse;
}
