import { resendCatalog } from '../resend/catalog';
import { stripeCatalog } from '../stripe/catalog';
import { twilioCatalog } from '../twilio/catalog';
import type { VendorAdapter } from '../types';
import type { CatalogField, VendorCatalog } from './types';

export const CATALOGS: ReadonlyMap<string, VendorCatalog> = new Map([stripeCatalog, twilioCatalog, resendCatalog].map((c) => [c.vendor, c]));
export type { CatalogEndpoint, CatalogField, FieldType, VendorCatalog } from './types';

/** A vendor's catalog: the built-in one, or the tools a KEYBRAKE_CONFIG vendor describes. */
export function catalogOf(vendor: VendorAdapter): VendorCatalog | undefined {
  return CATALOGS.get(vendor.id) ?? vendor.catalog;
}

/** A catalog field as JSON Schema (what a tool's input and an OpenAPI operation's parameters say). */
export function fieldSchema(f: CatalogField): Record<string, unknown> {
  const schema: Record<string, unknown> = { type: f.type, description: f.description };
  if (f.type === 'array') schema.items = f.items ? { type: f.items } : { type: 'object' };
  if (f.enum) schema.enum = f.enum;
  if (f.default !== undefined) schema.default = f.default;
  return schema;
}

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
  const catalog = catalogOf(vendor);
  if (catalog && catalog.endpoints.length > 0) {
    const fixed = catalog.fixedPathParams ?? {};
    return catalog.endpoints.map((e) => ({ endpoint: `${e.method} ${e.path.replace(/\{(\w+)\}/g, (m, name: string) => fixed[name] ?? m)}`, summary: e.summary, spends: e.spends }));
  }
  return vendor.routes.filter((r) => r.class === 'priced' || r.class === 'free').map((r) => ({ endpoint: r.pattern.source, summary: r.reason, spends: r.class === 'priced' }));
}
