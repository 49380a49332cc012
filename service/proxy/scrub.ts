// Defence in depth for the one thing an agent must never get: a vendor credential. Whatever a vendor answers (an
// error that echoes the request, a redirect, a header, an account resource), Keybrake removes from it, before the
// caller or the audit sees it, (1) every secret it holds for that vendor, in every encoding the secret could take
// on the way back (as is, URL- or form-encoded, JSON- or XML-escaped, base64, and the Basic auth header made of
// it), and (2) the value of every field the vendor's own description uses for credentials (`auth_token`, a new
// key's `secret`, …), wherever it appears in a JSON or XML answer.

export const SCRUBBED = '[scrubbed by Keybrake]';
const REPLACEMENT = Buffer.from(SCRUBBED);

/** The secret in each form it could be echoed in. Short values are skipped: they would match by accident. */
function encodings(secret: string): string[] {
  const xml = secret.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
  const base64 = Buffer.from(secret).toString('base64');
  return [
    secret,
    encodeURIComponent(secret),
    encodeURIComponent(secret).replace(/%20/g, '+'),
    JSON.stringify(secret).slice(1, -1),
    xml,
    base64,
    base64.replace(/=+$/, ''),
    Buffer.from(secret).toString('base64url'),
  ];
}

export class Scrubber {
  private readonly needles: Buffer[];
  private readonly fields: Set<string>;
  private readonly xmlFields: RegExp | undefined;

  constructor(secrets: readonly string[], fields: readonly string[]) {
    const all = new Set<string>();
    for (const s of secrets) if (s.length >= 6) for (const e of encodings(s)) all.add(e);
    // Longest first, so that an encoding containing another is removed whole.
    this.needles = [...all].sort((a, b) => b.length - a.length).map((n) => Buffer.from(n));
    this.fields = new Set(fields);
    const names = fields.filter((f) => /^[A-Za-z_][\w-]*$/.test(f));
    this.xmlFields = names.length > 0 ? new RegExp(`<(${names.join('|')})>([^<]+)</\\1>`, 'g') : undefined;
  }

  /** The text with every held secret replaced; the very same string when none was in it. */
  text(value: string): string {
    if (this.needles.length === 0) return value;
    const out = this.bytes(Buffer.from(value));
    return out.scrubbed ? out.body.toString('utf8') : value;
  }

  /** The bytes with every held secret replaced, byte for byte (binary answers stay intact around it). */
  bytes(body: Buffer): { body: Buffer; scrubbed: boolean } {
    let out = body;
    let scrubbed = false;
    for (const needle of this.needles) {
      let at = out.indexOf(needle);
      if (at === -1) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at !== -1) {
        parts.push(out.subarray(from, at), REPLACEMENT);
        from = at + needle.length;
        at = out.indexOf(needle, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
      scrubbed = true;
    }
    return { body: out, scrubbed };
  }

  /** A parsed JSON answer with every credential field's value replaced; the same value when it has none. */
  json(value: unknown): unknown {
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      value.forEach((v, i) => {
        const w = this.json(v);
        if (w !== v) (copy ??= value.slice())[i] = w;
      });
      return copy ?? value;
    }
    if (value === null || typeof value !== 'object') return value;
    let copy: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const w = this.fields.has(k) && v !== null && v !== '' && (typeof v === 'string' || typeof v === 'number') ? SCRUBBED : this.json(v);
      if (w !== v) (copy ??= { ...(value as Record<string, unknown>) })[k] = w;
    }
    return copy ?? value;
  }

  /**
   * A vendor's answer made safe to hand on: body and headers. `parsed` is the body as JSON (undefined when it is
   * not JSON). Returns what changed, for the `X-Keybrake-Scrubbed` header, or nothing.
   */
  answer(
    body: Buffer,
    parsed: unknown,
    headers: Record<string, string>,
  ): { body: Buffer; parsed: unknown; headers: Record<string, string>; scrubbed: string[] } {
    const scrubbed: string[] = [];
    let out = body;
    let outParsed = parsed;
    if (parsed !== undefined) {
      const safe = this.json(parsed);
      if (safe !== parsed) {
        outParsed = safe;
        out = Buffer.from(JSON.stringify(safe));
        scrubbed.push('credential-fields');
      }
    } else if (this.xmlFields && /xml/i.test(headers['content-type'] ?? '')) {
      const text = out.toString('utf8');
      const safe = text.replace(this.xmlFields, (_m, name: string) => `<${name}>${SCRUBBED}</${name}>`);
      if (safe !== text) {
        out = Buffer.from(safe);
        scrubbed.push('credential-fields');
      }
    }
    const bytes = this.bytes(out);
    if (bytes.scrubbed) {
      out = bytes.body;
      scrubbed.push('secrets');
      if (outParsed !== undefined) {
        try {
          outParsed = JSON.parse(out.toString('utf8'));
        } catch {
          outParsed = undefined;
        }
      }
    }
    let outHeaders = headers;
    for (const [name, value] of Object.entries(headers)) {
      const safe = this.text(value);
      if (safe === value) continue;
      if (outHeaders === headers) outHeaders = { ...headers };
      outHeaders[name] = safe;
      if (!scrubbed.includes('secrets')) scrubbed.push('secrets');
    }
    return { body: out, parsed: outParsed, headers: outHeaders, scrubbed };
  }
}
