// Vendors are data: adding one is adding an adapter file and a line here.
import { resend } from './resend';
import { stripe } from './stripe';
import { twilio } from './twilio';
import type { VendorAdapter } from './types';

export const BUILTIN_VENDORS: readonly VendorAdapter[] = [stripe, twilio, resend];

export const BUILTIN_VENDOR_IDS: readonly string[] = BUILTIN_VENDORS.map((v) => v.id);

export type VendorRegistry = ReadonlyMap<string, VendorAdapter>;

/**
 * The built-in vendors and the user-defined ones, with base URLs overridden by KEYBRAKE_UPSTREAM_<VENDOR>
 * (for fake vendors in tests).
 */
export function createRegistry(upstreams: Record<string, string>, custom: readonly VendorAdapter[] = []): VendorRegistry {
  return new Map([...BUILTIN_VENDORS, ...custom].map((v) => [v.id, upstreams[v.id] === undefined ? v : { ...v, baseUrl: upstreams[v.id] as string }]));
}
