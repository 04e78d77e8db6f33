// Screenshots: turning a screenshot command's result into an image the page
// can show and offer for download, without copying or re-encoding the
// (possibly several MB) base64 text more than once.

import { formatBytes } from './format.js';

const FORMATS = { png: 'image/png', jpeg: 'image/jpeg' };

/**
 * Reads the data of a screenshot result. Returns null when it is not one.
 * @param {any} data {"format":"png","width":W,"height":H,"data":"<base64>"}
 * @returns {{format: string, mime: string, width: number, height: number, bytes: number, url: string}|null}
 */
export function readScreenshot(data) {
  if (!data || typeof data.data !== 'string' || !data.data) return null;
  const format = String(data.format || 'png').toLowerCase();
  const mime = FORMATS[format];
  if (!mime) return null;
  // A quick look at the head and the tail for the base64 alphabet: checking
  // every character of several MB would block the page for tens of ms, and
  // bad data in the middle only makes the image fail to decode (the data:
  // URL is set as a property, never parsed as markup).
  const b = data.data;
  const alphabet = /^[A-Za-z0-9+/]*={0,2}$/;
  if (!alphabet.test(b.slice(0, 4096)) || !alphabet.test(b.slice(-4096))) return null;
  const n = data.data.length;
  const pad = data.data.endsWith('==') ? 2 : data.data.endsWith('=') ? 1 : 0;
  return {
    format,
    mime,
    width: Number.isFinite(data.width) ? data.width : 0,
    height: Number.isFinite(data.height) ? data.height : 0,
    bytes: Math.floor((n * 3) / 4) - pad,
    url: `data:${mime};base64,${data.data}`,
  };
}

/** A one-line description: "PNG · 1920×1080 · 2.3 MiB". */
export function describeScreenshot(shot) {
  const parts = [shot.format.toUpperCase()];
  if (shot.width && shot.height) parts.push(`${shot.width}×${shot.height}`);
  parts.push(formatBytes(shot.bytes));
  return parts.join(' · ');
}

/**
 * Decodes shot into a new <img> off the main thread (HTMLImageElement.decode)
 * and resolves with it once it can be shown without a pause; rejects when the
 * browser cannot decode it.
 * @returns {Promise<HTMLImageElement>}
 */
export async function decodeScreenshot(shot, alt) {
  const img = new Image();
  img.alt = alt;
  img.decoding = 'async';
  img.src = shot.url;
  await img.decode();
  return img;
}

/** A file name for a download: tether-office-pc-2026-11-22-100001.png. */
export function screenshotFileName(deviceName, shot, when) {
  const slug = String(deviceName || 'screen').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'screen';
  const p = (v) => String(v).padStart(2, '0');
  const stamp = `${when.getFullYear()}-${p(when.getMonth() + 1)}-${p(when.getDate())}-${p(when.getHours())}${p(when.getMinutes())}${p(when.getSeconds())}`;
  return `tether-${slug}-${stamp}.${shot.format === 'jpeg' ? 'jpg' : shot.format}`;
}

/**
 * Decodes base64 text into bytes. It blocks for a few ms per MB; the page
 * calls it only when someone downloads a screenshot.
 * @param {string} b64
 * @returns {Uint8Array}
 */
export function base64Bytes(b64) {
  if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(b64);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
