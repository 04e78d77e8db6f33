// Command forms generated from the CommandSpec list a device advertises
// (see protocol/spec.go), and reading their arguments back.

import { humanize } from './format.js';

/** The commands whose x and y are a point on the device's screen. */
export const POINT_COMMANDS = ['mouse_move', 'mouse_click'];

/** The name a person sees for a command: its title, or its name made readable. */
export function commandTitle(spec) {
  return (typeof spec.title === 'string' && spec.title.trim()) || humanize(spec.name);
}

/**
 * Returns spec with the x and y of a point command bounded by the device's
 * screen (the agent's spec allows up to 32767 and checks the real screen
 * itself; the form should say what will be accepted). Other specs come back
 * unchanged.
 * @param {{name: string, args?: object[]}} spec
 * @param {{width: number, height: number}|undefined} screen
 */
export function withScreenBounds(spec, screen) {
  if (!POINT_COMMANDS.includes(spec.name) || !screen || !(screen.width > 0) || !(screen.height > 0)) return spec;
  const limit = { x: screen.width - 1, y: screen.height - 1 };
  const args = (spec.args || []).map((a) => {
    if (!(a.name in limit) || (a.type !== 'integer' && a.type !== 'number')) return a;
    const max = typeof a.max === 'number' ? Math.min(a.max, limit[a.name]) : limit[a.name];
    return { ...a, max };
  });
  return { ...spec, args };
}

/**
 * Builds the form of one command: its title, one line saying what it does,
 * its fields and its button. Ids follow cmd-<name> for the submit button,
 * cmd-<name>-title, -desc and -why (why it cannot run now) for its texts,
 * and arg-<name>-<arg> for each field, so tests can find them.
 * @param {{name: string, title?: string, description?: string, args?: object[]}} spec
 * @param {(spec: object, args: object) => void} onSubmit called with valid arguments
 * @returns {HTMLFormElement}
 */
export function buildCommandForm(spec, onSubmit) {
  const form = document.createElement('form');
  form.className = 'command';
  form.dataset.command = spec.name;
  form.noValidate = false;
  const title = document.createElement('h3');
  title.className = 'command-title';
  title.id = `cmd-${spec.name}-title`;
  title.textContent = commandTitle(spec);
  form.append(title);
  form.setAttribute('aria-labelledby', title.id);
  if (typeof spec.description === 'string' && spec.description.trim()) {
    const desc = document.createElement('p');
    desc.className = 'command-desc';
    desc.id = `cmd-${spec.name}-desc`;
    desc.textContent = spec.description.trim();
    form.append(desc);
  }
  const why = document.createElement('p');
  why.className = 'unavailable';
  why.id = `cmd-${spec.name}-why`;
  why.hidden = true;
  form.append(why);
  for (const arg of spec.args || []) form.append(buildField(spec.name, arg));
  const button = document.createElement('button');
  button.type = 'submit';
  button.className = 'primary';
  button.id = `cmd-${spec.name}`;
  button.textContent = commandTitle(spec);
  form.append(button);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    onSubmit(spec, readArgs(spec, form));
  });
  return form;
}

/**
 * Shows why the command of form cannot run now (reason), or that it can
 * (reason empty), and enables its button when it can and usable is true.
 * @param {HTMLFormElement} form
 * @param {string} reason
 * @param {boolean} usable whether commands can be sent at all (online, connected, not paused)
 */
export function setAvailability(form, reason, usable) {
  const why = form.querySelector('.unavailable');
  const button = form.querySelector('button[type="submit"]');
  const text = reason ? `Unavailable on this computer: ${reason.replace(/[.\s]*$/, '')}.` : '';
  if (why.textContent !== text) why.textContent = text;
  why.hidden = !text;
  form.dataset.unavailable = String(!!reason);
  button.disabled = !usable || !!reason;
  if (reason) button.setAttribute('aria-describedby', why.id);
  else button.removeAttribute('aria-describedby');
}

function buildField(command, arg) {
  const wrap = document.createElement('div');
  wrap.className = 'field';
  const id = `arg-${command}-${arg.name}`;
  const label = document.createElement('label');
  label.htmlFor = id;
  const hasDefault = arg.default !== undefined && arg.default !== null;
  label.textContent = humanize(arg.name) + (arg.required || hasDefault ? '' : ' (optional)');
  let input;
  switch (arg.type) {
    case 'integer':
    case 'number':
      input = document.createElement('input');
      input.type = 'number';
      input.inputMode = arg.type === 'integer' ? 'numeric' : 'decimal';
      input.step = arg.type === 'integer' ? '1' : 'any';
      if (typeof arg.min === 'number') input.min = String(arg.min);
      if (typeof arg.max === 'number') input.max = String(arg.max);
      if (hasDefault) input.value = String(arg.default);
      break;
    case 'boolean':
      input = document.createElement('input');
      input.type = 'checkbox';
      input.checked = arg.default === true;
      // An optional switch with no default starts "not set" (indeterminate)
      // and is sent only once the person has clicked it: volume's mute
      // stays as it is when only the level is set.
      if (!arg.required && !hasDefault) {
        input.indeterminate = true;
        input.title = 'Not set: left as it is';
        input.addEventListener('change', () => input.removeAttribute('title'), { once: true });
      }
      wrap.classList.add('check');
      wrap.append(input, label);
      input.id = id;
      input.name = arg.name;
      return wrap;
    default:
      if (Array.isArray(arg.enum) && arg.enum.length) {
        input = document.createElement('select');
        if (!arg.required && !hasDefault) input.append(new Option('—', ''));
        for (const v of arg.enum) input.append(new Option(v, v));
        if (hasDefault) input.value = String(arg.default);
      } else {
        const long = arg.type !== 'url' && (arg.max_len > 200 || /^(body|text|message)$/.test(arg.name));
        input = document.createElement(long ? 'textarea' : 'input');
        if (!long) input.type = arg.type === 'url' ? 'url' : 'text';
        if (arg.type === 'url') {
          input.placeholder = 'https://…';
          input.autocapitalize = 'none';
          const schemes = (Array.isArray(arg.schemes) ? arg.schemes : []).filter((x) => /^[a-z][a-z0-9+.-]*$/i.test(x));
          if (schemes.length) {
            // The browser checks it before sending; the relay and the agent check again.
            input.pattern = `(${schemes.map((x) => x.replace(/[+.]/g, '\\$&')).join('|')}):.+`;
            input.title = `An address starting with ${schemes.map((x) => `${x}://`).join(' or ')}`;
          }
        }
        if (arg.max_len > 0) input.maxLength = arg.max_len;
        if (hasDefault) input.value = String(arg.default);
        input.spellcheck = arg.type !== 'url';
      }
  }
  input.id = id;
  input.name = arg.name;
  input.required = !!arg.required;
  wrap.append(label, input);
  const range = rangeText(arg);
  if (range) {
    const hint = document.createElement('span');
    hint.className = 'range';
    hint.id = `${id}-hint`;
    hint.textContent = range;
    input.setAttribute('aria-describedby', hint.id);
    wrap.append(hint);
  }
  return wrap;
}

function rangeText(arg) {
  const lo = typeof arg.min === 'number';
  const hi = typeof arg.max === 'number';
  if (lo && hi) return `${arg.min} to ${arg.max}`;
  if (lo) return `at least ${arg.min}`;
  if (hi) return `at most ${arg.max}`;
  return '';
}

/**
 * Reads the arguments of spec from form: numbers as numbers, booleans as
 * booleans; empty optional fields, and optional switches never clicked
 * (still indeterminate), are left out so the agent's defaults apply.
 */
export function readArgs(spec, form) {
  const args = {};
  for (const arg of spec.args || []) {
    const el = form.elements.namedItem(arg.name);
    if (!el) continue;
    if (arg.type === 'boolean') {
      if (!el.indeterminate) args[arg.name] = el.checked;
      continue;
    }
    const raw = el.value;
    if (raw === '') continue;
    if (arg.type === 'integer') args[arg.name] = parseInt(raw, 10);
    else if (arg.type === 'number') args[arg.name] = Number(raw);
    else args[arg.name] = raw;
  }
  return args;
}
