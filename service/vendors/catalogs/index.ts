import { resendCatalog } from '../resend/catalog';
import { stripeCatalog } from '../stripe/catalog';
import { twilioCatalog } from '../twilio/catalog';
import type { VendorAdapter } from '../types';
import type { VendorCatalog } from './types';

export const CATALOGS: ReadonlyMap<string, VendorCatalog> = new Map([stripeCatalog, twilioCatalog, resendCatalog].map((c) => [c.vendor, c]));
export type { CatalogEndpoint, CatalogField, FieldType, VendorCatalog } from './types';

export interface EndpointChoice {
  /** An endpoint as allowed_endpoints takes it: `METHOD /path`. */
  endpoint: string;
  summary: string;
  /** Whether calls to it are priced (and count against the caps). */
  spends: boolean;
}

/**
 * The endpoints a key for the vendor is usually issued for: the catalog's (what the generated Dify tools call), or
 * for a vendor defined in KEYBRAKE_CONFIG, its priced and free routes.
 */
export function endpointChoices(vendor: VendorAdapter): EndpointChoice[] {
  const catalog = CATALOGS.get(vendor.id);
  if (catalog) {
    const fixed = catalog.fixedPathParams ?? {};
    return catalog.endpoints.map((e) => ({ endpoint: `${e.method} ${e.path.replace(/\{(\w+)\}/g, (m, name: string) => fixed[name] ?? m)}`, summary: e.summary, spends: e.spends }));
  }
  return vendor.routes.filter((r) => r.class === 'priced' || r.class === 'free').map((r) => ({ endpoint: r.pattern.source, summary: r.reason, spends: r.class === 'priced' }));
}
