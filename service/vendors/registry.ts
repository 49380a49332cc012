// Vendors are data: adding one is adding an adapter file and a line here.
import { stripe } from './stripe';
import type { VendorAdapter } from './types';

const BUILTIN: readonly VendorAdapter[] = [stripe];

export const BUILTIN_VENDOR_IDS: readonly string[] = BUILTIN.map((v) => v.id);

export type VendorRegistry = ReadonlyMap<string, VendorAdapter>;

/** The registry, with base URLs overridden by KEYBRAKE_UPSTREAM_<VENDOR> (for fake vendors in tests). */
export function createRegistry(upstreams: Record<string, string>): VendorRegistry {
  return new Map(BUILTIN.map((v) => [v.id, upstreams[v.id] === undefined ? v : { ...v, baseUrl: upstreams[v.id] as string }]));
}
