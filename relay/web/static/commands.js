// Command forms generated from the CommandSpec list a device advertises
// (see protocol/spec.go), and reading their arguments back.

import { humanize } from './format.js';

/**
 * Builds the form of one command. Ids follow cmd-<name> for the submit button
 * and arg-<name>-<arg> for each field, so tests can find them.
 * @param {{name: string, title?: string, args?: object[]}} spec
 * @param {(spec: object, args: object) => void} onSubmit called with valid arguments
 * @returns {HTMLFormElement}
 */
export function buildCommandForm(spec, onSubmit) {
  const form = document.createElement('form');
  form.className = 'command';
  form.dataset.command = spec.name;
  form.noValidate = false;
  for (const arg of spec.args || []) form.append(buildField(spec.name, arg));
  const button = document.createElement('button');
  button.type = 'submit';
  button.className = 'primary';
  button.id = `cmd-${spec.name}`;
  button.textContent = spec.title || humanize(spec.name);
  form.append(button);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    onSubmit(spec, readArgs(spec, form));
  });
  return form;
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
 * booleans; empty optional fields are left out so the agent's defaults apply.
 */
export function readArgs(spec, form) {
  const args = {};
  for (const arg of spec.args || []) {
    const el = form.elements.namedItem(arg.name);
    if (!el) continue;
    if (arg.type === 'boolean') {
      args[arg.name] = el.checked;
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
