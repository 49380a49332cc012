// The endpoints a key is issued for, checked against its vendor before the key exists: a key whose endpoints can
// never match a call (the /stripe prefix written in, a path the vendor does not have) is refused with a message
// that shows the right form, and an endpoint Keybrake will refuse whatever the key says comes back as a warning.
import { ApiError } from '../errors';
import { parseEndpointPattern, type EndpointPattern } from '../vendors/endpoints';
import { findRoute, isWrite } from '../vendors/classify';
import type { VendorAdapter } from '../vendors/types';

/**
 * Parses and checks each entry of `param` (allowed_endpoints, or a key's approval_endpoints, which must be able to
 * match a call as much); returns the patterns' sources and the warnings to show with the key.
 */
export function checkEndpoints(vendor: VendorAdapter, list: string[], param = 'allowed_endpoints'): { sources: string[]; warnings: string[] } {
  const bad = (i: number, message: string): ApiError => new ApiError('invalid_request', `${param}.${i}: ${message}`, { param: `${param}.${i}` });
  const warnings: string[] = [];
  const sources = list.map((s, i) => {
    const p = parseEndpointPattern(s);
    if (typeof p === 'string') throw bad(i, p);
    if (p.segments === 'any') return p.source;
    const [first] = p.segments;
    if (first?.kind === 'literal' && (first.value === vendor.id || first.value === 'dify')) {
      const rest = p.source.replace(new RegExp(`\\s/(dify/)?${vendor.id}(?=/|$)`), ' ');
      throw bad(i, `"${s}" starts with Keybrake's /${first.value} prefix; write the ${vendor.name} path itself, e.g. "${rest.replace(/\s$/, ' /')}" (the key is for ${vendor.name} already)`);
    }
    const path = `/${p.segments.map((g) => (g.kind === 'literal' ? g.value : 'x')).join('/')}`;
    const prefixes = vendor.pathPrefixes ?? [];
    if (first?.kind === 'literal' && prefixes.length > 0 && !prefixes.some((pre) => `${path}/`.startsWith(pre))) {
      throw bad(i, `"${s}" is not a ${vendor.name} path: they start with ${prefixes.join(' or ')} (e.g. "${p.method === '*' ? 'POST' : p.method} ${prefixes[0]}${path.slice(1)}")`);
    }
    warnings.push(...warningsFor(vendor, p));
    return p.source;
  });
  return { sources, warnings };
}

/** What Keybrake will do with calls to an exact endpoint, when that is a refusal. */
function warningsFor(vendor: VendorAdapter, p: EndpointPattern): string[] {
  if (p.segments === 'any' || p.segments.some((g) => g.kind === 'rest')) return [];
  const segments = p.segments.map((g) => (g.kind === 'literal' ? g.value : 'x_1'));
  const methods = p.method === '*' ? ['POST'] : [p.method];
  const out: string[] = [];
  for (const method of methods) {
    const found = findRoute(vendor, { method, segments, path: `/${segments.join('/')}` });
    const route = 'route' in found ? found.route : undefined;
    if (route?.class === 'credential') out.push(`${p.source}: no vault key may call this: it ${route.reason}.`);
    else if (route?.class === 'refused') out.push(`${p.source}: calls are refused (cost_unknown): it ${route.reason}.`);
    else if (!route && isWrite(method)) out.push(`${p.source}: Keybrake does not know this ${vendor.name} operation, so calls to it are refused (cost_unknown).`);
  }
  return out;
}
