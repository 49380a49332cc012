// User-defined vendors from KEYBRAKE_CONFIG: the same adapter shape as the built-in ones, made from YAML.
import type { CatalogEndpoint, CatalogField, VendorCatalog } from './catalogs/types';
import type { CustomVendorConfig } from './custom-schema';
import { pattern } from './endpoints';
import { fieldPath } from './form';
import { free, refused } from './classify';
import { majorToMicroUsd, minorToMicroUsd } from './currency';
import type { CanonicalRequest, JsonValue, PriceResult, PricingContext, VendorAdapter, VendorRoute } from './types';

type Rule = CustomVendorConfig['endpoints'][number]['price'];

function field(req: CanonicalRequest, name: string): JsonValue | undefined {
  let node: JsonValue | undefined = req.method === 'GET' || req.method === 'DELETE' ? req.query : req.body;
  for (const part of fieldPath(name)) {
    if (node === null || typeof node !== 'object' || node === undefined) return undefined;
    node = Array.isArray(node) ? node[Number(part)] : node[part];
  }
  return node;
}

const NUMBER = /^\d+(\.\d+)?$/;

/** A number as the caller wrote it: the JSON number's shortest form, or the form field's text. */
const decimalText = (raw: JsonValue | undefined): string | undefined =>
  typeof raw === 'number' && Number.isFinite(raw) && raw >= 0 && !/e/i.test(String(raw)) ? String(raw) : typeof raw === 'string' && NUMBER.test(raw) ? raw : undefined;

export function priceByRule(rule: Rule, req: CanonicalRequest, ctx: PricingContext): PriceResult {
  if (rule.fixed_usd !== undefined) return rule.fixed_usd === 0 ? { kind: 'free' } : { kind: 'priced', micros: Math.ceil(rule.fixed_usd * 1e6 - 1e-6), basis: `$${rule.fixed_usd} per call` };
  if (rule.count_field !== undefined) {
    const v = field(req, rule.count_field);
    const n = Array.isArray(v) ? v.length : typeof v === 'number' ? v : typeof v === 'string' && NUMBER.test(v) ? Number(v) : undefined;
    if (n === undefined || !Number.isFinite(n) || n < 0) return { kind: 'unknown', reason: `${rule.count_field} must be a list or a count` };
    // A fractional count is a whole unit started: 2.5 items bill as 3.
    const units = Math.ceil(n);
    return { kind: 'priced', micros: Math.ceil(units * (rule.unit_usd ?? 0) * 1e6 - 1e-6), basis: `${units} × $${rule.unit_usd}` };
  }
  const name = rule.amount_field as string;
  const amount = decimalText(field(req, name));
  if (amount === undefined) return { kind: 'unknown', reason: `${name} must be a non-negative number` };
  const currencyValue = rule.currency_field !== undefined ? field(req, rule.currency_field) : rule.currency;
  if (typeof currencyValue !== 'string' || !/^[A-Za-z]{3}$/.test(currencyValue)) return { kind: 'unknown', reason: `${rule.currency_field ?? 'currency'} must be a three-letter currency code` };
  const currency = currencyValue.toLowerCase();
  if (rule.units === 'minor' && !/^\d+$/.test(amount)) return { kind: 'unknown', reason: `${name} must be a whole number of minor units` };
  // Rounded up to the micro-dollar: part of a cent never goes uncounted.
  const micros = rule.units === 'minor' ? minorToMicroUsd(Number(amount), currency, ctx.fx, true) : majorToMicroUsd(amount, currency, ctx.fx, true);
  if (micros === undefined) return { kind: 'unknown', reason: /^\d{10,}/.test(amount) ? `${name} is too large` : `no exchange rate for currency ${currency}` };
  return { kind: 'priced', micros, basis: `${amount} ${currency} (${rule.units} units)` };
}

const WRITES = ['POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * The endpoints that describe themselves as tools (`tool` in the config), as a catalog: what MCP offers agents for
 * this vendor. Path parameters are the pattern's {names}, query parameters the endpoint's `query`, the rest the body.
 */
export function customCatalog(v: CustomVendorConfig): VendorCatalog {
  const name = v.name ?? v.id;
  const endpoints = v.endpoints.flatMap((e): CatalogEndpoint[] => {
    if (!e.tool) return [];
    const [method = 'GET', path = '/'] = e.match.split(' ');
    const props = e.tool.input.properties;
    const required = new Set(e.tool.input.required ?? []);
    const field = (n: string, always = false): CatalogField => {
      const f = props[n];
      return { name: n, type: f?.type ?? 'string', description: f?.description ?? '', required: always || required.has(n), ...(f?.items ? { items: f.items } : {}), ...(f?.enum ? { enum: f.enum } : {}) };
    };
    const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    const inQuery = (e.query ?? []).filter((q) => q in props);
    const slug = `${v.id}_${method.toLowerCase()}_${path.replace(/[{}]/g, '').split('/').filter(Boolean).join('_')}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
    return [
      {
        method: method as CatalogEndpoint['method'],
        path,
        operationId: e.tool.name ?? slug,
        summary: e.tool.description.split(/(?<=\.)\s/)[0] ?? e.tool.description,
        description: e.tool.description,
        pathParams: inPath.map((n) => field(n, true)),
        query: inQuery.map((n) => field(n)),
        body: Object.keys(props).filter((n) => !inPath.includes(n) && !inQuery.includes(n)).map((n) => field(n)),
        spends: e.price.fixed_usd !== 0,
      },
    ];
  });
  return { vendor: v.id, name, description: `${name} through Keybrake: every call is checked against a spending cap before it reaches ${name}.`, endpoints };
}

/** Field names that carry credentials in most APIs' answers: scrubbed unless the config names its own. */
export const DEFAULT_CREDENTIAL_FIELDS = ['secret', 'client_secret', 'password', 'token', 'access_token', 'refresh_token', 'api_key', 'apikey', 'private_key'];

export function customAdapter(v: CustomVendorConfig): VendorAdapter {
  const routes: VendorRoute[] = v.endpoints.map((e) => {
    const p = pattern(e.match);
    const rule = e.price.fixed_usd !== undefined ? `$${e.price.fixed_usd} per call` : e.price.count_field !== undefined ? `${e.price.count_field} × $${e.price.unit_usd}` : `${e.price.amount_field} (${e.price.units} units)`;
    return {
      method: p.method,
      pattern: p,
      class: e.price.fixed_usd === 0 ? 'free' : 'priced',
      reason: e.price.fixed_usd === 0 ? 'priced at $0 in KEYBRAKE_CONFIG' : rule,
      price: (req, ctx) => priceByRule(e.price, req, ctx),
      ...(e.query ? { query: e.query } : {}),
    };
  });
  const rest = WRITES.map((m) => `${m} /**`);
  routes.push(...(v.unpriced_writes === 'free' ? free('unpriced_writes: free in KEYBRAKE_CONFIG', ...rest) : refused('a write that matches no endpoint in KEYBRAKE_CONFIG', ...rest)));
  const auth = v.auth;
  const basic = (c: Record<string, string>): string => Buffer.from(`${c.username ?? ''}:${c.secret ?? ''}`).toString('base64');
  return {
    id: v.id,
    name: v.name ?? v.id,
    catalog: customCatalog(v),
    baseUrl: v.base_url.replace(/\/+$/, ''),
    credentialFields: auth.style === 'basic' ? ['username', 'secret'] : ['secret'],
    secretsOf: (c) => (auth.style === 'basic' ? [c.secret ?? '', basic(c)] : [c.secret ?? '']),
    injectAuth(headers, c) {
      if (auth.style === 'bearer') headers.authorization = `Bearer ${c.secret ?? ''}`;
      if (auth.style === 'basic') headers.authorization = `Basic ${basic(c)}`;
      if (auth.style === 'header') headers[(auth.header as string).toLowerCase()] = c.secret ?? '';
    },
    ...(auth.style === 'query' ? { authQuery: (c: Record<string, string>) => ({ [auth.query_param as string]: c.secret ?? '' }), authQueryParam: auth.query_param as string } : {}),
    bodyEncoding: v.body,
    requestHeaders: ['accept', 'idempotency-key', 'user-agent'],
    responseHeaders: ['request-id', 'x-request-id', 'retry-after'],
    requestIdHeader: 'request-id',
    // A write's query string is refused unless its endpoint declares the parameters (`query:`): a priced field sent
    // there would otherwise escape its price.
    queryOnWrite: false,
    routes,
    scrubFields: v.credential_fields ?? DEFAULT_CREDENTIAL_FIELDS,
    releasesReservation: (status) => status >= 400 && status < 500,
    objectId(response) {
      const id = (response as { id?: unknown } | null)?.id;
      return typeof id === 'string' || typeof id === 'number' ? String(id).slice(0, 255) : undefined;
    },
  };
}
