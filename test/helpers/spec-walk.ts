// Walks a vendor's OpenAPI document: every operation, and the credential-like fields its request and response
// schemas carry (names such as token, secret, auth_token, password, api_key, key material).
import type { OpenApiDoc } from './specs';

export interface Operation {
  method: string;
  path: string;
  operationId: string | undefined;
  op: Record<string, unknown>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head'];

export function operations(doc: OpenApiDoc): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const o = op as Record<string, unknown>;
      out.push({ method: method.toUpperCase(), path, operationId: typeof o.operationId === 'string' ? o.operationId : undefined, op: o });
    }
  }
  return out;
}

export const CREDENTIAL_LIKE = /(^|_)(token|secret|password|passwd|auth_?token|api_?key|private_?key|credentials?|signing_secret|key_secret)s?$/i;

type Schema = Record<string, unknown>;

function deref(doc: OpenApiDoc, schema: unknown): Schema | undefined {
  let s = schema as Schema | undefined;
  for (let i = 0; s && typeof s.$ref === 'string' && i < 10; i++) {
    s = (s.$ref as string)
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], doc) as Schema | undefined;
  }
  return s;
}

/**
 * Credential-like field names in a schema, as dotted paths. `followRefs` false stops at properties that are
 * references to other resources (Stripe's expandable fields): their fields appear only when a caller expands them,
 * and the scrubber works on names wherever they appear.
 */
function walk(doc: OpenApiDoc, schema: unknown, path: string, out: Set<string>, depth: number, followRefs: boolean): void {
  const s = deref(doc, schema);
  if (!s || depth > 4) return;
  for (const k of ['anyOf', 'oneOf', 'allOf']) {
    for (const x of (s[k] as unknown[] | undefined) ?? []) {
      if (!followRefs && depth > 0 && (x as Schema).$ref) continue;
      walk(doc, x, path, out, depth, followRefs);
    }
  }
  if (s.items) walk(doc, s.items, `${path}[]`, out, depth, followRefs);
  for (const [name, prop] of Object.entries((s.properties as Record<string, unknown> | undefined) ?? {})) {
    if (CREDENTIAL_LIKE.test(name)) out.add(`${path}.${name}`);
    if (!followRefs && (prop as Schema).$ref) continue;
    walk(doc, prop, `${path}.${name}`, out, depth + 1, followRefs);
  }
}

export function credentialFieldsOf(doc: OpenApiDoc, o: Operation, followRefs: boolean): { request: string[]; response: string[] } {
  const request = new Set<string>();
  const response = new Set<string>();
  const body = (o.op.requestBody as Schema | undefined)?.content as Record<string, Schema> | undefined;
  for (const c of Object.values(body ?? {})) walk(doc, c.schema, 'request', request, 0, followRefs);
  for (const [status, r] of Object.entries((o.op.responses as Record<string, unknown> | undefined) ?? {})) {
    if (!status.startsWith('2')) continue;
    const content = (deref(doc, r)?.content as Record<string, Schema> | undefined) ?? {};
    for (const c of Object.values(content)) walk(doc, c.schema, 'response', response, 0, followRefs);
  }
  return { request: [...request], response: [...response] };
}

/** A concrete path for a templated one: each `{param}` becomes a sample id. */
export function samplePath(path: string): string {
  return path.replace(/\{AccountSid\}/g, 'AC' + '0'.repeat(32)).replace(/\{[^}]+\}/g, 'x_1');
}
