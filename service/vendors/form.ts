// Form codec for vendors that take application/x-www-form-urlencoded with bracket notation (Stripe:
// `metadata[k]=v`, `expand[0]=x`, `expand[]=x`). Parsing is strict so that what is priced is what is forwarded:
// a key given twice, a key that is both a value and an object, or an array with holes is refused, never merged.
import type { FormObject, FormValue } from './types';

export class BodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BodyError';
  }
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function decodeComponent(text: string, what: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new BodyError(`${what} is not valid percent-encoding: "${text.slice(0, 60)}"`);
  }
}

/** Splits `a[b][]` into ['a', 'b', '']. */
function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open === -1) return [key];
  const parts = [key.slice(0, open)];
  const rest = key.slice(open);
  const re = /\[([^[\]]*)\]/gy;
  let consumed = 0;
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) {
    parts.push(m[1] ?? '');
    consumed = re.lastIndex;
  }
  if (consumed !== rest.length || parts[0] === '') throw new BodyError(`parameter name "${key}" has unbalanced brackets`);
  return parts;
}

type Node = { kind: 'obj'; map: Map<string, Node> } | { kind: 'arr'; items: Map<number, Node>; pushed: boolean } | { kind: 'leaf'; value: string };

function toValue(node: Node, name: string): FormValue {
  if (node.kind === 'leaf') return node.value;
  if (node.kind === 'obj') {
    const out: FormObject = Object.create(null) as FormObject;
    for (const [k, v] of node.map) out[k] = toValue(v, `${name}[${k}]`);
    return out;
  }
  const dense = [...node.items.keys()].every((i) => i < node.items.size);
  if (!dense) {
    // `metadata[123]=x` is an object with a numeric key, not an array with holes; keep it as one.
    const out: FormObject = Object.create(null) as FormObject;
    for (const [k, v] of node.items) out[String(k)] = toValue(v, `${name}[${k}]`);
    return out;
  }
  const out: FormValue[] = [];
  for (let i = 0; i < node.items.size; i++) out.push(toValue(node.items.get(i) as Node, `${name}[${i}]`));
  return out;
}

/**
 * Parses a form body (or query string) into a tree; refuses anything ambiguous. `repeatable` names plain fields
 * that the vendor reads as a list when repeated (Twilio's `MediaUrl=a&MediaUrl=b`); they always come back as arrays.
 */
export function parseForm(text: string, repeatable: readonly string[] = []): FormObject {
  const root: Node = { kind: 'obj', map: new Map() };
  for (const piece of text.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const rawKey = eq === -1 ? piece : piece.slice(0, eq);
    const key = decodeComponent(rawKey, 'parameter name');
    const value = decodeComponent(eq === -1 ? '' : piece.slice(eq + 1), `value of ${key}`);
    const parts = repeatable.includes(key) ? [key, ''] : splitKey(key);
    let node: Node = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const last = i === parts.length - 1;
      const nextIsIndex = !last && /^(\d{1,4}|)$/.test(parts[i + 1] as string);
      const fresh = (): Node => (last ? { kind: 'leaf', value } : nextIsIndex ? { kind: 'arr', items: new Map(), pushed: false } : { kind: 'obj', map: new Map() });
      if (FORBIDDEN_KEYS.has(part)) throw new BodyError(`parameter name "${key}" is not allowed`);
      if (node.kind === 'leaf') throw new BodyError(`parameter ${key} conflicts with a plain value of the same name`);
      let child: Node | undefined;
      if (node.kind === 'obj') {
        child = node.map.get(part);
        if (child === undefined) {
          child = fresh();
          node.map.set(part, child);
        } else if (last) {
          throw new BodyError(child.kind === 'leaf' ? `duplicate parameter ${key}` : `parameter ${key} conflicts with nested parameters of the same name`);
        }
      } else {
        if (!/^(\d{1,4}|)$/.test(part)) throw new BodyError(`parameter ${key} uses a name where an array index was expected`);
        let index: number;
        if (part === '') {
          index = node.items.size;
          node.pushed = true;
        } else {
          index = Number(part);
          if (node.pushed) throw new BodyError(`parameter ${key} mixes [] and [${part}] in one array`);
        }
        child = node.items.get(index);
        if (child === undefined) {
          child = fresh();
          node.items.set(index, child);
        } else if (last || part === '') {
          throw new BodyError(`duplicate parameter ${key}`);
        }
      }
      if (!last && child.kind === 'leaf') throw new BodyError(`parameter ${key} conflicts with a plain value of the same name`);
      if (last && child.kind !== 'leaf') throw new BodyError(`parameter ${key} conflicts with nested parameters of the same name`);
      if (!last && nextIsIndex !== (child.kind === 'arr')) throw new BodyError(`parameter ${key} mixes an array and an object`);
      node = child;
    }
  }
  return toValue(root, '') as FormObject;
}

function encodePart(text: string): string {
  return encodeURIComponent(text);
}

/**
 * Encodes a tree in Stripe's bracket notation, with indexed arrays as stripe-node sends them; arrays of
 * `repeatable` fields are written as repeated keys instead, as Twilio reads them.
 */
export function encodeForm(tree: FormObject, repeatable: readonly string[] = []): string {
  const pairs: string[] = [];
  const walk = (prefix: string, value: FormValue): void => {
    if (typeof value === 'string') {
      pairs.push(`${prefix}=${encodePart(value)}`);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => walk(`${prefix}[${i}]`, item));
    } else {
      for (const [k, v] of Object.entries(value)) walk(`${prefix}[${encodePart(k)}]`, v);
    }
  };
  for (const [k, v] of Object.entries(tree)) {
    if (repeatable.includes(k) && Array.isArray(v) && v.every((item) => typeof item === 'string')) {
      for (const item of v) pairs.push(`${encodePart(k)}=${encodePart(item as string)}`);
    } else walk(encodePart(k), v);
  }
  return pairs.join('&');
}

/** `metadata[order]` and `metadata.order` name the same field. */
export function fieldPath(name: string): string[] {
  return name.replace(/\[([^\]]*)\]/g, '.$1').split('.').filter((p) => p !== '');
}
