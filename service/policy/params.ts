// Parameter rules on a request's own fields (design §5): eq, in, min, max, forbidden. They are checked on the
// canonical parsed body (or query, for reads): the same tree that is priced and forwarded.
import type { FormObject, FormValue } from '../vendors/types';

export type Scalar = string | number | boolean;

export interface FieldRule {
  eq?: Scalar;
  in?: Scalar[];
  min?: number;
  max?: number;
  forbidden?: true;
}

/** Rules by endpoint pattern ("POST /v1/payment_intents"), then by field path ("amount", "transfer_data.destination"). */
export type ParamRules = Record<string, Record<string, FieldRule>>;

export const RULE_NAMES = ['eq', 'in', 'min', 'max', 'forbidden'] as const;

/** `metadata[order]` and `metadata.order` name the same field. */
export function fieldPath(name: string): string[] {
  return name.replace(/\[([^\]]*)\]/g, '.$1').split('.').filter((p) => p !== '');
}

function lookup(tree: FormObject, path: string[]): FormValue | undefined {
  let node: FormValue | undefined = tree;
  for (const part of path) {
    if (node === undefined || typeof node === 'string') return undefined;
    node = Array.isArray(node) ? node[Number(part)] : node[part];
  }
  return node;
}

const NUMBER = /^-?\d+(\.\d+)?$/;

/** Checks one field against its rule; returns why it fails, or undefined. */
export function checkField(name: string, rule: FieldRule, tree: FormObject): string | undefined {
  const value = lookup(tree, fieldPath(name));
  if (rule.forbidden) return value === undefined ? undefined : `${name} is forbidden for this key`;
  if (value !== undefined && typeof value !== 'string') {
    return rule.eq !== undefined || rule.in !== undefined || rule.min !== undefined || rule.max !== undefined ? `${name} must be a single value` : undefined;
  }
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
