// Turns an inbound request into its one canonical form (design §4: what is forwarded is exactly what was priced
// and checked). Anything a vendor could read differently from us is refused rather than normalised silently:
// encoded slashes and dots, dot segments, empty segments, `;` parameters, method overrides, ambiguous bodies.
import type { CanonicalRequest, FormObject, JsonObject, VendorAdapter } from '../vendors/types';
import { BodyError, parseForm } from '../vendors/form';
import { parseStrictJson, toFormTree } from './strict-json';

const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'];
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ALLOWED_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

export function canonicalPath(rawPath: string): { segments: string[]; path: string } {
  if (rawPath === '' || rawPath === '/') throw new BodyError('path is empty: name the vendor endpoint, e.g. /stripe/v1/payment_intents');
  if (!rawPath.startsWith('/')) throw new BodyError('path must start with /');
  const rawSegments = rawPath.slice(1).split('/');
  const segments: string[] = [];
  for (const raw of rawSegments) {
    if (raw === '') throw new BodyError('path is not canonical: empty segment (// or a trailing /)');
    if (/%(2f|5c|25|00)/i.test(raw)) throw new BodyError('path is not canonical: encoded "/", "\\", "%" or NUL');
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new BodyError('path is not canonical: invalid percent-encoding');
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f\\;]/.test(seg)) throw new BodyError('path is not canonical: control character, "\\" or ";" in a segment');
    if (seg === '.' || seg === '..') throw new BodyError('path is not canonical: "." or ".." segment');
    segments.push(seg);
  }
  return { segments, path: '/' + segments.map((s) => encodeURIComponent(s)).join('/') };
}

function parseBody(contentType: string | undefined, body: Buffer, vendor: VendorAdapter): JsonObject {
  if (body.length === 0) return Object.create(null) as JsonObject;
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const charset = /charset=([^;]+)/i.exec(contentType ?? '')?.[1]?.trim().toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new BodyError(`unsupported charset ${charset}: send UTF-8`);
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new BodyError('body is not valid UTF-8');
  }
  if (type === 'application/x-www-form-urlencoded') {
    if (vendor.bodyEncoding === 'json') throw new BodyError(`${vendor.name} takes JSON bodies: send Content-Type: application/json`);
    return parseForm(text, vendor.repeatableFields);
  }
  if (type === 'application/json') {
    let value = parseStrictJson(text);
    if (Array.isArray(value)) {
      // A JSON array body (Resend's batch) is held as the adapter's array field, which is also how a Dify tool
      // sends it ({"emails": [...]}): both arrive at one canonical form.
      if (!vendor.arrayBodyField) throw new BodyError('JSON body must be an object');
      value = { [vendor.arrayBodyField]: value };
    }
    if (value === null || typeof value !== 'object') throw new BodyError('JSON body must be an object');
    return vendor.bodyEncoding === 'form' ? (toFormTree(value) as FormObject) : value;
  }
  throw new BodyError(
    type === '' ? 'a body needs a Content-Type: application/json or application/x-www-form-urlencoded' : `unsupported Content-Type ${type}: send application/json or application/x-www-form-urlencoded`,
  );
}

export interface InboundRequest {
  method: string;
  /** The URL after the vendor prefix, as it arrived (path and query, still encoded). */
  rawUrl: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function canonicalize(inbound: InboundRequest, adapter: VendorAdapter): CanonicalRequest {
  const method = inbound.method.toUpperCase();
  if (!ALLOWED_METHODS.has(method)) throw new BodyError(`method ${method} is not proxied`);
  for (const h of METHOD_OVERRIDE_HEADERS) {
    if (inbound.headers[h] !== undefined) throw new BodyError(`${h} is not accepted: send the real method`);
  }
  const q = inbound.rawUrl.indexOf('?');
  const rawPath = q === -1 ? inbound.rawUrl : inbound.rawUrl.slice(0, q);
  const rawQuery = q === -1 ? '' : inbound.rawUrl.slice(q + 1);
  const { segments, path } = canonicalPath(rawPath);
  const query = parseForm(rawQuery);
  if ((method === 'GET' || method === 'DELETE') && inbound.body.length > 0) {
    throw new BodyError(`a ${method} request must not have a body: send parameters in the query string`);
  }
  const contentType = inbound.headers['content-type'];
  const body = parseBody(Array.isArray(contentType) ? contentType[0] : contentType, inbound.body, adapter);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(inbound.headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) {
      if (v.length > 1) throw new BodyError(`header ${k} is given more than once`);
      headers[k] = v[0] ?? '';
    } else headers[k] = v;
  }
  return { method, segments, path, query, body, headers };
}
