// Endpoint catalogs: what an LLM tool needs to know about a vendor endpoint, as data. The generator (openapi/)
// turns them into Dify custom-tool schemas, HTTP Request nodes and plugin tools.

export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'array';

export interface CatalogField {
  name: string;
  type: FieldType;
  /** For arrays: the item type (scalars only: Dify tools carry flat fields). */
  items?: 'string' | 'integer' | 'number';
  description: string;
  required?: boolean;
  enum?: string[];
  default?: string | number | boolean;
}

export interface CatalogEndpoint {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The vendor path as the proxy receives it after /{vendor}, with {param} placeholders. */
  path: string;
  operationId: string;
  summary: string;
  /** What the call does, for an LLM: units, what it returns, what not to do. */
  description: string;
  pathParams: CatalogField[];
  query: CatalogField[];
  body: CatalogField[];
  /** Whether the call costs money (the 429 note says a cap was reached). */
  spends: boolean;
}

export interface VendorCatalog {
  vendor: string;
  name: string;
  description: string;
  endpoints: CatalogEndpoint[];
  /**
   * Path parameters the proxy fills in itself, written into generated paths as a literal (Twilio's AccountSid:
   * callers need not know it).
   */
  fixedPathParams?: Record<string, string>;
}

export const key = (e: Pick<CatalogEndpoint, 'method' | 'path'>): string => `${e.method} ${e.path}`;
