// The Screenshot card: the latest picture of each device (or why the latest
// attempt failed), its download, and what the activity log says of a
// screenshot command (the image itself never goes into the log).

import { $, state, displayName } from './page.js';
import { readScreenshot, describeScreenshot, decodeScreenshot, screenshotFileName, base64Bytes } from './screenshot.js';
import { clockTime } from './format.js';

let shotSeq = 0;

function waitingShots(id) {
  return state.shotsWaiting.get(id) || 0;
}

function setWaitingShots(id, n) {
  if (n > 0) state.shotsWaiting.set(id, n);
  else state.shotsWaiting.delete(id);
}

/**
 * Shows the result of a screenshot command. Decoding a large image happens
 * off the main thread (img.decode); the old picture stays until the new one
 * is ready, and a slower earlier answer never replaces a later one.
 */
async function screenshotDone(deviceId, m, shot) {
  const seq = ++shotSeq;
  const d = state.devices.get(deviceId);
  let entry;
  if (!m.ok) {
    const e = m.error || {};
    entry = { ...(state.shots.get(deviceId) || {}), seq, error: e.message || e.code || 'failed' };
  } else {
    if (!shot) {
      entry = { ...(state.shots.get(deviceId) || {}), seq, error: 'the computer sent no image this page can show' };
    } else {
      try {
        const img = await decodeScreenshot(shot, `Screenshot of ${d ? displayName(d) : 'the computer'}`);
        entry = { seq, shot, img, at: new Date() };
      } catch {
        entry = { ...(state.shots.get(deviceId) || {}), seq, error: 'this browser could not decode the image' };
      }
    }
  }
  setWaitingShots(deviceId, waitingShots(deviceId) - 1);
  if (!state.devices.has(deviceId)) return;
  const old = state.shots.get(deviceId);
  if (!old || old.seq < entry.seq) {
    if (old && old.download && old.download !== entry.download) URL.revokeObjectURL(old.download);
    state.shots.set(deviceId, entry);
  }
  if (deviceId === state.selected) renderScreenshot(state.devices.get(deviceId));
}

/** Shows the Screenshot card of d, or hides it when there is nothing to show. */
export function renderScreenshot(d) {
  const entry = state.shots.get(d.device_id);
  const waiting = waitingShots(d.device_id);
  const card = $('screenshot');
  card.hidden = !entry && !waiting;
  if (card.hidden) return;
  const status = $('screenshot-status');
  const frame = $('screenshot-frame');
  const link = /** @type {HTMLAnchorElement} */ ($('screenshot-download'));
  const error = $('screenshot-error');
  const failed = !!entry && !!entry.error;
  error.textContent = failed ? `The last screenshot failed: ${entry.error.replace(/[.\s]*$/, '.')}` : '';
  error.hidden = !failed;
  const parts = [];
  if (waiting) parts.push('Taking a screenshot…');
  if (entry && entry.shot) parts.push(`${failed ? 'Earlier: ' : ''}${describeScreenshot(entry.shot)} · taken at ${clockTime(entry.at)}`);
  status.textContent = parts.join(' ');
  card.dataset.state = waiting ? 'waiting' : entry && entry.error ? 'failed' : 'ok';
  if (entry && entry.img) {
    if (frame.firstChild !== entry.img) frame.replaceChildren(entry.img);
    link.hidden = false;
    link.download = screenshotFileName(d.name, entry.shot, entry.at);
    // The image shows from a data: URL (the CSP allows it for img); the
    // download is a blob: URL made on first use, since browsers refuse to
    // download data: URLs of more than a few MB.
    link.href = entry.download || '#';
    link.dataset.device = d.device_id;
  } else {
    frame.replaceChildren();
    link.hidden = true;
    link.removeAttribute('href');
  }
}

$('screenshot-download').addEventListener('click', (ev) => {
  const link = /** @type {HTMLAnchorElement} */ (ev.currentTarget);
  const entry = state.shots.get(link.dataset.device || '');
  if (!entry || !entry.shot) { ev.preventDefault(); return; }
  if (!entry.download) {
    const comma = entry.shot.url.indexOf(',');
    const blob = new Blob([base64Bytes(entry.shot.url.slice(comma + 1))], { type: entry.shot.mime });
    entry.download = URL.createObjectURL(blob);
    link.href = entry.download;
  }
});

/**
 * What the command log does for a screenshot: see sending.js ResultHandler.
 * @type {import('./sending.js').ResultHandler}
 */
export const screenshotResults = {
  sent(deviceId) {
    setWaitingShots(deviceId, waitingShots(deviceId) + 1);
    const d = state.devices.get(deviceId);
    if (d && deviceId === state.selected) renderScreenshot(d);
  },
  settled(deviceId, m) {
    const shot = m.ok ? readScreenshot(m.data) : null;
    screenshotDone(deviceId, m, shot);
    return shot ? `${describeScreenshot(shot)}, shown under Screenshot` : undefined;
  },
  failed(deviceId, code) {
    screenshotDone(deviceId, { ok: false, error: { code, message: 'the connection closed before the picture arrived' } }, null);
  },
};
