import { resendCatalog } from './resend';
import { stripeCatalog } from './stripe';
import { twilioCatalog } from './twilio';
import type { VendorCatalog } from './types';

export const CATALOGS: ReadonlyMap<string, VendorCatalog> = new Map([stripeCatalog, twilioCatalog, resendCatalog].map((c) => [c.vendor, c]));
export type { CatalogEndpoint, CatalogField, FieldType, VendorCatalog } from './types';
