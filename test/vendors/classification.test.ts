// Deny by default, from the vendors' own descriptions: every write operation in each vendor's OpenAPI document
// (and the older spellings the vendor also serves) is classified priced, free, refused or credential; and every
// operation whose request or response carries a credential-like field is refused, or that field is scrubbed from
// every answer, or it is an input the caller already holds (with the reason).
import { decide } from '../../service/policy/decide';
import { findRoute, isWrite } from '../../service/vendors/classify';
import { BUILTIN_FX } from '../../service/vendors/currency';
import { BUILTIN_PRICES } from '../../service/vendors/prices';
import { resend } from '../../service/vendors/resend';
import { stripe } from '../../service/vendors/stripe';
import { twilio } from '../../service/vendors/twilio';
import type { CanonicalRequest, VendorAdapter } from '../../service/vendors/types';
import { pattern } from '../../service/vendors/endpoints';
import { credentialFieldsOf, operations, samplePath } from '../helpers/spec-walk';
import { loadSpec, type SpecVendor } from '../helpers/specs';

const ADAPTERS: Record<SpecVendor, VendorAdapter> = { stripe, twilio, resend };

const request = (method: string, path: string): CanonicalRequest => ({ method, path, segments: path.slice(1).split('/'), query: {}, body: {}, headers: {} });

function classOf(vendor: VendorAdapter, method: string, path: string): string {
  const found = findRoute(vendor, request(method, path));
  if ('caseMismatch' in found) return `case mismatch: ${found.caseMismatch}`;
  return found.route?.class ?? (isWrite(method) ? 'unclassified' : 'free (read)');
}

describe.each(Object.keys(ADAPTERS) as SpecVendor[])('%s: the vendor\'s own description', (name) => {
  const vendor = ADAPTERS[name];
  const doc = loadSpec(name);
  const ops = operations(doc);

  test('holds a real number of operations (the document was read)', () => {
    expect(ops.filter((o) => isWrite(o.method)).length).toBeGreaterThan(name === 'stripe' ? 200 : 40);
  });

  test('every write operation is classified', () => {
    const unclassified = ops.filter((o) => isWrite(o.method) && classOf(vendor, o.method, samplePath(o.path)) === 'unclassified').map((o) => `${o.method} ${o.path}`);
    expect(unclassified).toEqual([]);
  });

  test('every operation carrying a credential-like field is refused, or the field is scrubbed, or it is an input held already', () => {
    const open: string[] = [];
    for (const o of ops) {
      const cls = classOf(vendor, o.method, samplePath(o.path));
      if (cls === 'credential' || cls === 'refused') continue;
      const fields = credentialFieldsOf(doc, o, name !== 'stripe');
      for (const f of fields.response) {
        const field = f.split('.').pop() ?? '';
        if (!vendor.scrubFields.includes(field)) open.push(`${o.method} ${o.path} answers ${f} (${cls})`);
      }
      for (const f of fields.request) {
        const field = f.split('.').pop() ?? '';
        if (!(field in (vendor.credentialInputs ?? {}))) open.push(`${o.method} ${o.path} takes ${f} (${cls})`);
      }
    }
    expect(open).toEqual([]);
  });

  test('every route and reason is meaningful: patterns parse, reasons are sentences', () => {
    for (const route of vendor.routes) {
      expect(pattern(route.pattern.source).source).toBe(route.pattern.source);
      expect(route.reason.length).toBeGreaterThan(10);
      if (route.class === 'priced') expect(route.price).toBeDefined();
    }
  });
});

describe('aliases the vendors also serve', () => {
  test('Twilio answers every resource with or without a format suffix: each spelling has the .json one\'s class', () => {
    const ops = operations(loadSpec('twilio')).filter((o) => o.path.endsWith('.json'));
    const differ: string[] = [];
    for (const o of ops) {
      const json = samplePath(o.path);
      const bare = json.replace(/\.json$/, '');
      for (const alias of [bare, `${bare}.xml`, `${bare}.csv`]) {
        const a = classOf(twilio, o.method, alias);
        const b = classOf(twilio, o.method, json);
        if (a !== b) differ.push(`${o.method} ${alias}: ${a}, but ${b} for .json`);
      }
    }
    expect(differ).toEqual([]);
    expect(classOf(twilio, 'POST', samplePath('/2010-04-01/Accounts/{AccountSid}/Messages'))).toBe('priced');
    expect(classOf(twilio, 'GET', '/2010-04-01/Accounts/AC0123.json')).toBe('credential');
    expect(classOf(twilio, 'GET', '/2010-04-01/Accounts/AC0123')).toBe('credential');
  });

  test.each([
    // Older and undocumented Stripe paths that still answer, or once did: none may slip through as free.
    ['POST', '/v1/recipients'],
    ['POST', '/v1/recipients/rp_1'],
    ['POST', '/v1/bitcoin/receivers'],
    ['POST', '/v1/orders'],
    ['POST', '/v1/orders/or_1/pay'],
    ['POST', '/v1/skus'],
    ['POST', '/v1/customers/cus_1/subscription'],
    ['POST', '/v1/customers/cus_1/subscriptions/sub_1'],
    ['DELETE', '/v1/customers/cus_1/subscriptions/sub_1'],
    ['POST', '/v1/transfers/tr_1/cancel'],
    ['POST', '/v1/invoices/upcoming'],
    ['POST', '/v1/invoices/in_1/lines/il_1'],
    ['POST', '/v1/invoices/in_1/add_lines'],
    ['POST', '/v1/billing/meter_events'],
    ['POST', '/v1/billing/credit_grants'],
    ['POST', '/v1/climate/orders'],
    ['POST', '/v1/forwarding/requests'],
    ['POST', '/v1/customer_sessions'],
    ['POST', '/v2/money_management/outbound_payments'],
    ['POST', '/v2/core/accounts'],
  ])('Stripe %s %s is refused unless classified', (method, path) => {
    const found = findRoute(stripe, request(method, path));
    if ('route' in found && found.route) expect(['priced', 'refused', 'credential']).toContain(found.route.class);
    const key = { id: 'vk_1', workspaceId: 'default', vendor: 'stripe', label: 'l', dailyCapMicros: 1e9, allowedEndpoints: [pattern('*')], policy: {}, paramRules: [], approvalEndpoints: [], budget: null, expiresAt: null, revokedAt: null, createdAt: 0 };
    const d = decide({ key, vendor: stripe, request: request(method, path), now: 1, pricing: { fx: BUILTIN_FX, prices: BUILTIN_PRICES } });
    expect(d.kind === 'deny' ? d.code : d.kind).toMatch(/^(cost_unknown|endpoint_not_allowed|lookup)$/);
  });
});
