// Parameter rules on a request's own fields (design §5): eq, in, min, max, forbidden. They are checked on the
// canonical parsed body (or query, for reads): the same tree that is priced and forwarded.
import { fieldPath } from '../vendors/form';
import type { JsonObject, JsonValue } from '../vendors/types';

export type Scalar = string | number | boolean;

export interface FieldRule {
  eq?: Scalar;
  in?: Scalar[];
  min?: number;
  max?: number;
  forbidden?: true;
}

export const RULE_NAMES = ['eq', 'in', 'min', 'max', 'forbidden'] as const;


function lookup(tree: JsonObject, path: string[]): JsonValue | undefined {
  let node: JsonValue | undefined = tree;
  for (const part of path) {
    if (node === undefined || node === null || typeof node !== 'object') return undefined;
    node = Array.isArray(node) ? node[Number(part)] : node[part];
  }
  // A JSON null means "not given", as an empty form value does for Stripe.
  return node === null ? undefined : node;
}

const NUMBER = /^-?\d+(\.\d+)?$/;

/** Checks one field against its rule; returns why it fails, or undefined. */
export function checkField(name: string, rule: FieldRule, tree: JsonObject): string | undefined {
  const raw = lookup(tree, fieldPath(name));
  if (rule.forbidden) return raw === undefined ? undefined : `${name} is forbidden for this key`;
  if (raw !== undefined && typeof raw === 'object') return `${name} must be a single value`;
  // Form bodies carry text, JSON bodies typed values: compare both as their text.
  const value = raw === undefined ? undefined : String(raw);
  if (rule.eq !== undefined && value !== String(rule.eq)) {
    return value === undefined ? `${name} is required and must equal ${String(rule.eq)}` : `${name} must equal ${String(rule.eq)}, not ${value}`;
  }
  if (rule.in !== undefined && (value === undefined || !rule.in.map(String).includes(value))) {
    const allowed = rule.in.map(String).join(', ');
    return value === undefined ? `${name} is required and must be one of [${allowed}]` : `${name} must be one of [${allowed}], not ${value}`;
  }
  if (rule.min !== undefined || rule.max !== undefined) {
    if (value === undefined) return undefined;
    if (!NUMBER.test(value)) return `${name} must be a number, not ${value.slice(0, 40)}`;
    const n = Number(value);
    if (rule.min !== undefined && n < rule.min) return `${name} must be at least ${rule.min}, not ${value}`;
    if (rule.max !== undefined && n > rule.max) return `${name} must be at most ${rule.max}, not ${value}`;
  }
  return undefined;
}
