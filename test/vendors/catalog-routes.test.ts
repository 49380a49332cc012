// Each vendor is described once, in its folder (service/vendors/<vendor>/): the adapter's routes say how every
// operation is classified and priced, the catalog what the generated Dify tools offer. The two must agree: every
// catalog endpoint is served by exactly one route (a read by none at all, which makes it free), and it says it
// spends money exactly when that route is priced.
import { CATALOGS } from '../../service/vendors/catalogs';
import { isWrite } from '../../service/vendors/classify';
import { matchEndpoint } from '../../service/vendors/endpoints';
import { canonicalPath } from '../../service/proxy/canonical';
import { BUILTIN_VENDORS } from '../../service/vendors/registry';
import type { VendorAdapter, VendorRoute } from '../../service/vendors/types';

const registry = new Map(BUILTIN_VENDORS.map((v) => [v.id, v]));
const catalogs = [...CATALOGS.values()];

/** The routes that match a method and path (placeholders filled with a sample value). */
function routesFor(vendor: VendorAdapter, method: string, path: string, fixed: Record<string, string>): VendorRoute[] {
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => fixed[name] ?? `sample_${name}`);
  const { segments } = canonicalPath(filled);
  const matched = vendor.routeSegments ? vendor.routeSegments(segments) : segments;
  return vendor.routes.filter((r) => matchEndpoint(r.pattern, method, matched) === 'exact');
}

describe.each(catalogs.map((c) => [c.vendor, c] as const))('%s: catalog and routes', (vendorId, catalog) => {
  const vendor = registry.get(vendorId) as VendorAdapter;

  test.each(catalog.endpoints.map((e) => [`${e.method} ${e.path}`, e] as const))('%s is served by exactly one route, priced exactly when it spends', (_, e) => {
    const routes = routesFor(vendor, e.method, e.path, catalog.fixedPathParams ?? {});
    // A read no route names is free (reads are; only writes need a route, design §5).
    expect(routes.map((r) => `${r.method} ${r.pattern.source}`)).toHaveLength(isWrite(e.method) ? 1 : routes.length === 0 ? 0 : 1);
    expect({ endpoint: `${e.method} ${e.path}`, spends: e.spends }).toEqual({ endpoint: `${e.method} ${e.path}`, spends: routes[0]?.class === 'priced' });
  });
});

test('the check can fail: a path two routes serve, and one no route serves, are told apart', () => {
  const stripe = registry.get('stripe') as VendorAdapter;
  expect(routesFor(stripe, 'POST', '/v1/payment_intents', {})).toHaveLength(1);
  expect(routesFor(stripe, 'POST', '/v1/no_such_thing', {})).toHaveLength(0);
  expect(catalogs.map((c) => c.vendor).sort()).toEqual(['resend', 'stripe', 'twilio']);
});
