// What every part of the control page shares: the page's state, a few DOM
// helpers, and how a device is named and what it offers.

import { osName } from './format.js';

/** The element with id. */
export const $ = (id) => document.getElementById(id);

/** localStorage key of the selected device. */
export const SELECTED_KEY = 'tether.selected';

/** Everything the page knows. */
export const state = {
  /** @type {Map<string, any>} device id → device (fields of the devices API and of presence) */
  devices: new Map(),
  /** @type {Map<string, History>} */
  history: new Map(),
  selected: localStorage.getItem(SELECTED_KEY) || '',
  session: false,
  socket: /** @type {{state: string, at?: number}} */ ({ state: 'stopped' }),
  /** @type {Map<string, PointerTrack>} device id → what its pointer did */
  tracks: new Map(),
  /**
   * device id → its latest screenshot (or why the latest attempt failed)
   * @type {Map<string, {seq: number, shot?: any, img?: HTMLImageElement, at?: Date, error?: string}>}
   */
  shots: new Map(),
  /** @type {Map<string, number>} device id → screenshots asked for and not answered yet */
  shotsWaiting: new Map(),
  /** @type {Map<string, {el: HTMLElement, sent: number, name: string, device: string}>} command id → pending log entry */
  pending: new Map(),
  nextId: 1,
  commandsKey: '', // what the command panel was built from
  serverOffset: 0, // server clock − local clock, ms
};

/** A span of class cls holding text. */
export function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

/**
 * The name a person sees for d: its name, and when another paired device has
 * the same name, a short suffix that tells them apart: the operating system
 * when theirs differ, else the last characters of the device id.
 */
export function displayName(d) {
  const name = String(d.name || d.device_id);
  const key = name.trim().toLowerCase();
  const twins = [...state.devices.values()].filter((o) => o.device_id !== d.device_id && String(o.name || o.device_id).trim().toLowerCase() === key);
  if (!twins.length) return name;
  const os = osName(d.os);
  if (d.os && twins.every((o) => osName(o.os) !== os)) return `${name} (${os})`;
  return `${name} (…${idTail(d, twins)})`;
}

/** The shortest tail of d's id (4 characters at least) that none of others' ids ends with. */
function idTail(d, others) {
  const id = String(d.device_id);
  for (let n = 4; n < id.length; n++) {
    const tail = id.slice(-n);
    if (others.every((o) => !String(o.device_id).endsWith(tail))) return tail;
  }
  return id;
}

/** Commands with a card of their own rather than a form (receive_files: the Send photo or file card). */
const OWN_CARD = new Set(['receive_files']);

/** The CommandSpecs of d: from presence, or bare names from the devices API until it comes. */
export function commandSpecs(d) {
  if (Array.isArray(d.commands)) return d.commands.filter((c) => !OWN_CARD.has(c.name));
  // The devices API lists names only; offer bare buttons until presence brings the specs.
  return (d.capabilities || []).filter((name) => !OWN_CARD.has(name)).map((name) => ({ name, args: [] }));
}
