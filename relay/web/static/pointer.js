// The screen mirror of the selected device: its pointer's moves, clicks and
// scrolls as the agent shares them, and points picked on it for the pointer
// commands.

import { $, state, commandSpecs } from './page.js';
import { Mirror, PointerTrack } from './mirror.js';
import { POINT_COMMANDS, commandTitle } from './commands.js';

const mirror = new Mirror($('mirror'), pickPoint);

function trackOf(id) {
  let t = state.tracks.get(id);
  if (!t) { t = new PointerTrack(); state.tracks.set(id, t); }
  return t;
}

/**
 * Takes a pointer event (kind mouse_…) of m.device into its track and redraws
 * the mirror when that device is shown. Returns true when the event belongs in
 * the activity log as well: clicks are rare and tell a story; moves and
 * scrolls go only to the mirror.
 */
export function addPointerEvent(m) {
  const data = m.data || {};
  if (!state.devices.has(m.device)) return false;
  const t = trackOf(m.device);
  if (!t.add(data, performance.now())) return false;
  if (m.device === state.selected) {
    mirror.update();
    renderMirrorText(state.devices.get(m.device));
  }
  return data.kind === 'mouse_click';
}

/** The commands whose x and y a click on the mirror fills in. */
function pickTargets(d) {
  return commandSpecs(d).filter((s) => POINT_COMMANDS.includes(s.name) && (s.args || []).some((a) => a.name === 'x'));
}

/** Fills the x and y fields of the pointer commands with a point picked on the mirror. */
function pickPoint(x, y) {
  const d = state.devices.get(state.selected);
  if (!d) return;
  const targets = pickTargets(d);
  for (const s of targets) {
    for (const [name, v] of [['x', x], ['y', y]]) {
      const el = /** @type {HTMLInputElement|null} */ ($(`arg-${s.name}-${name}`));
      if (el) el.value = String(v);
    }
  }
  if (targets.length) {
    const names = targets.map(commandTitle).join(' and ');
    $('mirror-note').textContent = `${x}, ${y} filled in for ${names}.`;
    $('mirror-note').hidden = false;
  }
}

/** Shows the mirror of d when its screen size is known, hides it otherwise. */
export function renderScreen(d) {
  const s = d.screen;
  const has = !!s && s.width > 0 && s.height > 0;
  $('screen-card').hidden = !has;
  if (!has) return;
  mirror.show(trackOf(d.device_id), s);
  mirror.pickable = pickTargets(d).length > 0;
  renderMirrorText(d);
}

function renderMirrorText(d) {
  const t = trackOf(d.device_id);
  const meta = $('mirror-meta');
  const note = $('mirror-note');
  if (t.events === 0) {
    meta.textContent = '';
    note.textContent = 'No pointer activity yet. The computer’s owner can share it from the Tether menu or with “tether allow mouse”.';
    note.hidden = false;
    return;
  }
  meta.textContent = `${t.x}, ${t.y} · ${t.clicks} click${t.clicks === 1 ? '' : 's'}`;
  if (note.dataset.for !== d.device_id || note.textContent.startsWith('No pointer')) {
    note.textContent = pickTargets(d).length ? 'Click the mirror to fill in x and y of the pointer commands.' : '';
    note.hidden = !note.textContent;
  }
  note.dataset.for = d.device_id;
}
