// A JSON parser that refuses what JSON.parse silently accepts: duplicate keys (JSON.parse keeps the last one,
// a vendor's parser may keep the first), numbers that lose precision, and prototype keys. `toFormTree` turns the
// result into the form tree of a form-encoded vendor (numbers and booleans as their text), so that JSON and form
// bodies to Stripe price and forward alike.
import type { FormObject, FormValue, JsonObject, JsonValue } from '../vendors/types';
import { BodyError } from '../vendors/form';

const MAX_DEPTH = 32;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function parseStrictJson(text: string): JsonValue {
  let pos = 0;
  const fail = (what: string): never => {
    throw new BodyError(`invalid JSON at position ${pos}: ${what}`);
  };
  const ws = (): void => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos] as string)) pos++;
  };
  const str = (): string => {
    if (text[pos] !== '"') fail('expected a string');
    const start = pos;
    pos++;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (Number.isNaN(c)) fail('unterminated string');
      if (c === 0x22) break;
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) pos++;
      pos++;
    }
    pos++;
    try {
      return JSON.parse(text.slice(start, pos)) as string;
    } catch {
      return fail('bad escape in string');
    }
  };
  const num = (): number => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos, pos + 400));
    if (!m) return fail('expected a value');
    pos += m[0].length;
    const n = Number(m[0]);
    if (!Number.isFinite(n)) fail(`number ${m[0].slice(0, 30)} is out of range`);
    if (Number.isInteger(n) && !Number.isSafeInteger(n)) fail(`number ${m[0].slice(0, 30)} is too large to be exact`);
    return n;
  };
  const value = (depth: number, path: string): JsonValue => {
    if (depth > MAX_DEPTH) fail('nested too deeply');
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const obj: JsonObject = Object.create(null) as JsonObject;
      ws();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      for (;;) {
        ws();
        const key = str();
        if (FORBIDDEN_KEYS.has(key)) fail(`key "${key}" is not allowed`);
        if (Object.prototype.hasOwnProperty.call(obj, key)) {
          throw new BodyError(`duplicate key "${path}${key}" in JSON body`);
        }
        ws();
        if (text[pos] !== ':') fail('expected ":"');
        pos++;
        obj[key] = value(depth + 1, `${path}${key}.`);
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return obj;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      pos++;
      const arr: JsonValue[] = [];
      ws();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1, `${path}${arr.length}.`));
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return arr;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return str();
    if (text.startsWith('null', pos)) return (pos += 4), null;
    if (text.startsWith('true', pos)) return (pos += 4), true;
    if (text.startsWith('false', pos)) return (pos += 5), false;
    return num();
  };
  const result = value(0, '');
  ws();
  if (pos !== text.length) fail('unexpected text after the JSON value');
  return result;
}

/** The form tree a form-encoded vendor receives for a JSON value. */
export function toFormTree(value: JsonValue): FormValue {
  if (value === null) return ''; // Stripe reads an empty value as "unset", which is what null means in JSON.
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(toFormTree);
  const out: FormObject = Object.create(null) as FormObject;
  for (const [k, v] of Object.entries(value)) out[k] = toFormTree(v);
  return out;
}
