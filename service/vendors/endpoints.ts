// Endpoint patterns: "METHOD /path" where METHOD is an HTTP method or `*`, and each path segment is a literal,
// `{name}` (exactly one segment), `*` (exactly one segment) or, last only, `**` (one or more segments).
// The single pattern `*` allows every endpoint of the key's vendor.

export type Segment = { kind: 'literal'; value: string } | { kind: 'param' } | { kind: 'rest' };

export interface EndpointPattern {
  source: string;
  method: string; // upper case, or '*'
  segments: Segment[] | 'any';
}

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;

const LITERAL = /^[A-Za-z0-9._~:@!$'()+,=-]+$/;

/** Parses a pattern, or returns a message saying what is wrong with it. */
export function parseEndpointPattern(source: string): EndpointPattern | string {
  const text = source.trim();
  if (text === '*') return { source: text, method: '*', segments: 'any' };
  const match = /^([A-Za-z]+|\*)\s+(\/\S*)$/.exec(text);
  if (!match) return `"${source}" is not of the form "METHOD /path" (e.g. "POST /v1/payment_intents")`;
  const method = (match[1] ?? '').toUpperCase();
  if (method !== '*' && !(HTTP_METHODS as readonly string[]).includes(method)) {
    return `"${source}": unknown method ${match[1]} (expected one of ${HTTP_METHODS.join(', ')} or *)`;
  }
  const rawSegments = (match[2] ?? '').slice(1).split('/');
  const segments: Segment[] = [];
  for (const [i, seg] of rawSegments.entries()) {
    if (seg === '**') {
      if (i !== rawSegments.length - 1) return `"${source}": ** may only be the last segment`;
      segments.push({ kind: 'rest' });
    } else if (seg === '*' || /^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(seg)) {
      segments.push({ kind: 'param' });
    } else if (seg === '.' || seg === '..' || !LITERAL.test(seg)) {
      return `"${source}": segment "${seg}" is not a plain path segment`;
    } else {
      segments.push({ kind: 'literal', value: seg });
    }
  }
  return { source: text, method, segments };
}

export type MatchResult = 'exact' | 'case-mismatch' | 'none';

/**
 * Matches a request against a pattern. Literal segments that match only when case is ignored yield
 * 'case-mismatch', so that a caller can refuse `/V1/PAYMENT_INTENTS` instead of letting it skip pricing.
 */
export function matchEndpoint(pattern: EndpointPattern, method: string, segments: readonly string[]): MatchResult {
  if (pattern.method !== '*' && pattern.method !== method) return 'none';
  if (pattern.segments === 'any') return 'exact';
  let caseMismatch = false;
  const pat = pattern.segments;
  for (let i = 0; i < pat.length; i++) {
    const p = pat[i] as Segment;
    if (p.kind === 'rest') return i < segments.length ? (caseMismatch ? 'case-mismatch' : 'exact') : 'none';
    const s = segments[i];
    if (s === undefined) return 'none';
    if (p.kind === 'literal' && p.value !== s) {
      if (p.value.toLowerCase() !== s.toLowerCase()) return 'none';
      caseMismatch = true;
    }
  }
  if (segments.length !== pat.length) return 'none';
  return caseMismatch ? 'case-mismatch' : 'exact';
}

/** Parses a pattern that is known to be valid (vendor route tables); throws otherwise. */
export function pattern(source: string): EndpointPattern {
  const p = parseEndpointPattern(source);
  if (typeof p === 'string') throw new Error(p);
  return p;
}
