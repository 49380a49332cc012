// Audit bodies: secrets masked, card numbers reduced to their last four digits, configured fields replaced by an
// HMAC-SHA256 under a server key (searchable through POST /audit/hash, as Vault's audit device does), then
// truncated. Vault keys, admin keys and vendor secrets never reach a body in the first place.
import { createHmac } from 'node:crypto';
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

export function truncate(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const cut = Buffer.from(text).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
  return `${cut}…[truncated]`;
}

export class Redactor {
  private readonly hashed: Set<string>;

  constructor(
    private readonly hmacKey: Buffer,
    hashedFields: readonly string[] = [],
  ) {
    this.hashed = new Set(hashedFields.map((f) => f.toLowerCase()));
  }

  /** The value an operator searches the audit for: `hmac:` + HMAC-SHA256(server key, value), hex. */
  hash(value: string): string {
    return `hmac:${createHmac('sha256', this.hmacKey).update(value, 'utf8').digest('hex')}`;
  }

  /** The value with secrets redacted; the very same value (not a copy) when nothing in it needed redacting. */
  private walk(value: unknown, key: string): unknown {
    const k = key.toLowerCase();
    if (typeof value === 'string' || typeof value === 'number') {
      if (this.hashed.has(k)) return this.hash(String(value));
      if (SECRET_FIELDS.has(k) && value !== '') return '[redacted]';
      return typeof value === 'string' ? maskCardNumbers(value) : value;
    }
    if (Array.isArray(value)) {
      let out: unknown[] | undefined;
      value.forEach((v, i) => {
        const w = this.walk(v, key);
        if (w !== v) (out ??= value.slice())[i] = w;
      });
      return out ?? value;
    }
    if (value !== null && typeof value === 'object') {
      let out: JsonObject | undefined;
      for (const [ck, cv] of Object.entries(value as Record<string, unknown>)) {
        const w = this.walk(cv, ck);
        if (w !== cv) (out ??= { ...(value as JsonObject) })[ck] = w as JsonValue;
      }
      return out ?? value;
    }
    return value;
  }

  /** A copy of `value` with secrets redacted, or `value` itself when it holds none. */
  tree<T extends JsonValue>(value: T): T {
    return this.walk(value, '') as T;
  }

  /**
   * A response body for the audit: JSON is redacted field by field; anything else is masked as text. `parsed` is
   * the body as the caller already parsed it, undefined when it is not JSON.
   */
  responseBody(body: Buffer, parsed: unknown, maxBytes: number): string | null {
    if (body.length === 0) return null;
    const out = parsed === undefined ? maskCardNumbers(body.toString('utf8')) : JSON.stringify(this.walk(parsed, ''));
    return truncate(out, maxBytes);
  }
}
