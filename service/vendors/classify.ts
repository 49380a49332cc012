// The classification of a vendor's operations (see OperationClass): built from short lists, one reason each, and
// looked up once per call. A write that matches no route is refused (deny by default); a read that matches none
// is free. Routes are tried in order, so a specific entry goes before a broad one.
import { matchEndpoint, pattern } from './endpoints';
import type { CanonicalRequest, OperationClass, VendorAdapter, VendorRoute } from './types';

function routes(cls: Exclude<OperationClass, 'priced'>, reason: string, sources: readonly string[]): VendorRoute[] {
  return sources.map((source) => {
    const p = pattern(source);
    return { method: p.method, pattern: p, class: cls, reason };
  });
}

/** Operations that move no money; the reason says why. */
export const free = (reason: string, ...sources: string[]): VendorRoute[] => routes('free', reason, sources);

/** Operations that move money Keybrake cannot bound before forwarding: refused with cost_unknown. */
export const refused = (reason: string, ...sources: string[]): VendorRoute[] => routes('refused', reason, sources);

/** Operations that reveal, mint or widen a vendor credential: no vault key may make them. */
export const credential = (reason: string, ...sources: string[]): VendorRoute[] => routes('credential', reason, sources);

/** Whether a method changes anything at the vendor (everything but GET and HEAD). */
export const isWrite = (method: string): boolean => method !== 'GET' && method !== 'HEAD';

export type RouteMatch = { route: VendorRoute } | { caseMismatch: string } | { route: undefined };

/**
 * The route a request hits. A literal that matches only when case is ignored is reported, so that the caller can
 * refuse `/V1/PAYMENT_INTENTS` instead of letting a differently spelled path skip its classification.
 */
export function findRoute(vendor: VendorAdapter, req: Pick<CanonicalRequest, 'method' | 'segments' | 'path'>): RouteMatch {
  const segments = vendor.routeSegments ? vendor.routeSegments(req.segments) : req.segments;
  for (const route of vendor.routes) {
    const m = matchEndpoint(route.pattern, req.method, segments);
    if (m === 'exact') return { route };
    if (m === 'case-mismatch') return { caseMismatch: `path ${req.path} differs in case from ${vendor.name}'s ${route.pattern.source}` };
  }
  return { route: undefined };
}
