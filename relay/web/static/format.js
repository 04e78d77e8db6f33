// Small pure helpers for text shown on the page. No DOM access here.

/**
 * Normalizes what a person typed as a pairing code: upper case, only letters
 * and digits, and a dash after the fourth character ("abcd 2345" → "ABCD-2345").
 * @param {string} raw
 * @returns {string}
 */
export function normalizeCode(raw) {
  const s = String(raw).toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 12);
  return s.length > 4 ? `${s.slice(0, 4)}-${s.slice(4)}` : s;
}

/**
 * A short label for this browser, like "Firefox on Linux", sent when pairing
 * so the computer's owner can tell browsers apart.
 * @param {string} ua navigator.userAgent
 * @param {string} [platform] navigator.userAgentData?.platform, when known
 */
export function browserLabel(ua, platform) {
  let browser = 'Browser';
  if (/Edg\//.test(ua)) browser = 'Edge';
  else if (/OPR\//.test(ua)) browser = 'Opera';
  else if (/Firefox\//.test(ua)) browser = 'Firefox';
  else if (/Chrom(e|ium)\//.test(ua)) browser = 'Chrome';
  else if (/Safari\//.test(ua)) browser = 'Safari';
  let os = platform || '';
  if (!os) {
    if (/Android/.test(ua)) os = 'Android';
    else if (/iPhone|iPad|iPod/.test(ua)) os = 'iOS';
    else if (/Mac OS X|Macintosh/.test(ua)) os = 'macOS';
    else if (/Windows/.test(ua)) os = 'Windows';
    else if (/CrOS/.test(ua)) os = 'ChromeOS';
    else if (/Linux/.test(ua)) os = 'Linux';
  }
  return os ? `${browser} on ${os}` : browser;
}

const osNames = { linux: 'Linux', darwin: 'macOS', windows: 'Windows', freebsd: 'FreeBSD' };

/** The display name of a GOOS value ("darwin" → "macOS"). */
export function osName(goos) {
  return osNames[goos] || goos || 'Unknown OS';
}

/** Formats a byte count with binary units: 6.2 GiB. */
export function formatBytes(n) {
  if (typeof n !== 'number' || !isFinite(n) || n < 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? Math.round(n) : n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
}

/** Formats a percentage with one decimal: "12.5%". */
export function formatPercent(p) {
  if (typeof p !== 'number' || !isFinite(p)) return '—';
  return `${p.toFixed(1)}%`;
}

/**
 * Says how long ago a time was, for "last seen": "just now", "5 min ago",
 * "3 h ago", or a date.
 * @param {string} iso RFC 3339 time
 * @param {number} now milliseconds since the epoch
 */
export function timeAgo(iso, now) {
  const t = Date.parse(iso);
  if (!iso || isNaN(t)) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** The wall-clock time of a Date as HH:MM:SS. */
export function clockTime(d) {
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

const unitWords = { hz: 'Hz', ms: 'ms', px: 'px', s: 's', kb: 'KB', mb: 'MB' };
const acronyms = { url: 'URL', id: 'ID', ip: 'IP' };

/**
 * A human label for an argument name: "frequency_hz" → "Frequency (Hz)",
 * "max_width" → "Max width".
 */
export function humanize(name) {
  const parts = String(name).split('_').filter(Boolean).map((p) => acronyms[p] || p);
  let unit = '';
  if (parts.length > 1 && unitWords[parts[parts.length - 1]]) unit = unitWords[parts.pop()];
  const text = parts.join(' ');
  const label = text.charAt(0).toUpperCase() + text.slice(1);
  return unit ? `${label} (${unit})` : label;
}

/**
 * A one-line summary of command arguments: "frequency_hz 880, duration_ms 200".
 * Long strings are cut.
 */
export function summarizeArgs(args) {
  if (!args) return '';
  return Object.entries(args).map(([k, v]) => {
    let s = typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 39)}…` : v) : String(v);
    return `${k} ${s}`;
  }).join(', ');
}

/** A short text for a JSON value, at most max characters. */
export function shortJSON(v, max = 160) {
  let s;
  try { s = JSON.stringify(v); } catch { s = String(v); }
  if (s === undefined) return '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * A copy of a JSON value in which every string longer than max characters is
 * replaced by a short note, so a large result (a screenshot's base64 data) is
 * never stringified whole just to be cut for the log.
 */
export function elideLongStrings(v, max = 200, depth = 0) {
  if (typeof v === 'string') return v.length > max ? `…(${v.length} characters)` : v;
  if (v === null || typeof v !== 'object' || depth > 8) return v;
  if (Array.isArray(v)) return v.slice(0, 50).map((x) => elideLongStrings(x, max, depth + 1));
  const out = {};
  for (const [k, x] of Object.entries(v)) out[k] = elideLongStrings(x, max, depth + 1);
  return out;
}
