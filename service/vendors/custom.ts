// User-defined vendors from KEYBRAKE_CONFIG: the same adapter shape as the built-in ones, made from YAML.
import type { CustomVendorConfig } from '../config-file';
import { pattern } from '../policy/endpoints';
import { fieldPath } from '../policy/params';
import { currencyExponent, minorToMicroUsd } from './currency';
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

export function priceByRule(rule: Rule, req: CanonicalRequest, ctx: PricingContext): PriceResult {
  if (rule.fixed_usd !== undefined) return rule.fixed_usd === 0 ? { kind: 'free' } : { kind: 'priced', micros: Math.ceil(rule.fixed_usd * 1e6), basis: `$${rule.fixed_usd} per call` };
  if (rule.count_field !== undefined) {
    const v = field(req, rule.count_field);
    const n = Array.isArray(v) ? v.length : typeof v === 'number' ? v : typeof v === 'string' && NUMBER.test(v) ? Number(v) : undefined;
    if (n === undefined || !Number.isFinite(n) || n < 0) return { kind: 'unknown', reason: `${rule.count_field} must be a list or a count` };
    return { kind: 'priced', micros: Math.ceil(n * (rule.unit_usd ?? 0) * 1e6), basis: `${n} × $${rule.unit_usd}` };
  }
  const name = rule.amount_field as string;
  const raw = field(req, name);
  const amount = typeof raw === 'number' ? raw : typeof raw === 'string' && NUMBER.test(raw) ? Number(raw) : undefined;
  if (amount === undefined || amount < 0) return { kind: 'unknown', reason: `${name} must be a non-negative number` };
  const currencyValue = rule.currency_field !== undefined ? field(req, rule.currency_field) : rule.currency;
  if (typeof currencyValue !== 'string' || !/^[A-Za-z]{3}$/.test(currencyValue)) return { kind: 'unknown', reason: `${rule.currency_field ?? 'currency'} must be a three-letter currency code` };
  const currency = currencyValue.toLowerCase();
  if (rule.units === 'minor' && !Number.isInteger(amount)) return { kind: 'unknown', reason: `${name} must be a whole number of minor units` };
  // Major units become minor ones with the currency's exponent, so one FX path serves both.
  const minor = rule.units === 'minor' ? amount : Math.round(amount * 10 ** currencyExponent(currency));
  const micros = minorToMicroUsd(minor, currency, ctx.fx, true);
  if (micros === undefined) return { kind: 'unknown', reason: `no exchange rate for currency ${currency}` };
  return { kind: 'priced', micros, basis: `${amount} ${currency} (${rule.units} units)` };
}

export function customAdapter(v: CustomVendorConfig): VendorAdapter {
  const routes: VendorRoute[] = v.endpoints.map((e) => {
    const p = pattern(e.match);
    const free = e.price.fixed_usd === 0;
    return { method: p.method, pattern: p, moneyMoving: !free, price: (req, ctx) => priceByRule(e.price, req, ctx) };
  });
  if (v.unpriced_writes === 'refuse') {
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) routes.push({ method: m, pattern: pattern(`${m} /**`), moneyMoving: true });
  }
  const auth = v.auth;
  return {
    id: v.id,
    name: v.name ?? v.id,
    baseUrl: v.base_url.replace(/\/+$/, ''),
    credentialFields: auth.style === 'basic' ? ['username', 'secret'] : ['secret'],
    injectAuth(headers, c) {
      if (auth.style === 'bearer') headers.authorization = `Bearer ${c.secret ?? ''}`;
      if (auth.style === 'basic') headers.authorization = `Basic ${Buffer.from(`${c.username ?? ''}:${c.secret ?? ''}`).toString('base64')}`;
      if (auth.style === 'header') headers[(auth.header as string).toLowerCase()] = c.secret ?? '';
    },
    ...(auth.style === 'query' ? { authQuery: (c: Record<string, string>) => ({ [auth.query_param as string]: c.secret ?? '' }) } : {}),
    bodyEncoding: v.body,
    requestHeaders: ['accept', 'idempotency-key', 'user-agent'],
    responseHeaders: ['request-id', 'x-request-id', 'retry-after'],
    queryOnWrite: true,
    routes,
    releasesReservation: (status) => status >= 400 && status < 500,
    objectId(response) {
      const id = (response as { id?: unknown } | null)?.id;
      return typeof id === 'string' || typeof id === 'number' ? String(id).slice(0, 255) : undefined;
    },
  };
}
