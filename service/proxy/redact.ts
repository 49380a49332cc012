// Audit bodies: secrets masked, card numbers reduced to their last four digits, then truncated.
import type { JsonObject, JsonValue } from '../vendors/types';

// Field names whose values are secrets wherever they appear (Stripe: card[number], card[cvc], client_secret).
const SECRET_FIELDS = new Set(['number', 'cvc', 'cvv', 'password', 'secret', 'client_secret', 'api_key', 'token', 'authorization', 'auth_token', 'account_number', 'routing_number']);

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Masks card-number-like digit runs (13–19 digits, spaces or dashes allowed, Luhn-valid) inside free text. */
export function maskCardNumbers(text: string): string {
  return text.replace(/\b\d(?:[ -]?\d){12,18}\b/g, (m) => {
    const digits = m.replace(/[ -]/g, '');
    return luhn(digits) ? `[card ••••${digits.slice(-4)}]` : m;
  });
}

export function redactTree<T extends JsonValue>(value: T, key = ''): T {
  return redactJson(value, key) as T;
}

function redactJson(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return SECRET_FIELDS.has(key.toLowerCase()) && value !== '' ? '[redacted]' : maskCardNumbers(value);
  if (typeof value === 'number' && SECRET_FIELDS.has(key.toLowerCase())) return '[redacted]';
  if (Array.isArray(value)) return value.map((v) => redactJson(v, key));
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactJson(v, k) as JsonValue;
    return out;
  }
  return value;
}

export function truncate(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const cut = Buffer.from(text).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
  return `${cut}…[truncated]`;
}

/** A response body for the audit: JSON is parsed and redacted field by field; anything else is masked as text. */
export function redactResponseBody(body: Buffer, maxBytes: number): string | null {
  if (body.length === 0) return null;
  const text = body.toString('utf8');
  let out: string;
  try {
    out = JSON.stringify(redactJson(JSON.parse(text)));
  } catch {
    out = maskCardNumbers(text);
  }
  return truncate(out, maxBytes);
}
