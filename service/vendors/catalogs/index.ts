import { resendCatalog } from '../resend/catalog';
import { stripeCatalog } from '../stripe/catalog';
import { twilioCatalog } from '../twilio/catalog';
import type { VendorCatalog } from './types';

export const CATALOGS: ReadonlyMap<string, VendorCatalog> = new Map([stripeCatalog, twilioCatalog, resendCatalog].map((c) => [c.vendor, c]));
export type { CatalogEndpoint, CatalogField, FieldType, VendorCatalog } from './types';
