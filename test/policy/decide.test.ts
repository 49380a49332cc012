// The pure decision, table-driven: each check in its documented order.
import { decide } from '../../service/policy/decide';
import type { KeyRecord } from '../../service/policy/keys';
import { matchEndpoint, parseEndpointPattern, type EndpointPattern } from '../../service/vendors/endpoints';
import { parseDuration, dailyWindow } from '../../service/policy/window';
import { BUILTIN_FX } from '../../service/vendors/currency';
import { BUILTIN_PRICES } from '../../service/vendors/prices';
import { stripe } from '../../service/vendors/stripe';
import type { CanonicalRequest } from '../../service/vendors/types';

const p = (s: string): EndpointPattern => {
  const r = parseEndpointPattern(s);
  if (typeof r === 'string') throw new Error(r);
  return r;
};
const NOW = Date.UTC(2026, 10, 27, 12);
const key = (over: Partial<KeyRecord> = {}): KeyRecord => ({
  id: 'vk_1', workspaceId: 'default', vendor: 'stripe', label: 'x', dailyCapMicros: 200_000_000,
  allowedEndpoints: [p('POST /v1/payment_intents'), p('GET /v1/payment_intents/{id}'), p('POST /v1/refunds')],
  policy: {}, paramRules: [], approvalEndpoints: [], budget: null, expiresAt: NOW + 1000, revokedAt: null, createdAt: NOW - 1000, ...over,
});
const req = (method: string, path: string, body: Record<string, string> = {}, headers: Record<string, string> = {}): CanonicalRequest => ({
  method, segments: path.slice(1).split('/'), path, query: {}, body, headers,
});
const run = (k: KeyRecord | null | undefined, r: CanonicalRequest | { error: string }) => decide({ key: k, vendor: stripe, request: r, now: NOW, pricing: { fx: BUILTIN_FX, prices: BUILTIN_PRICES } });
const code = (d: ReturnType<typeof run>): string => (d.kind === 'deny' ? d.code : d.kind === 'lookup' ? `lookup:${d.need.paths.join(',')}` : `allow:${d.micros}`);

describe('decide', () => {
  const pi = req('POST', '/v1/payment_intents', { amount: '2000', currency: 'usd' });
  test.each([
    ['no key', undefined, pi, 'vault_key_missing'],
    ['unknown key', null, pi, 'vault_key_invalid'],
    ['revoked beats expired', key({ revokedAt: NOW - 5, expiresAt: NOW - 5 }), pi, 'vault_key_revoked'],
    ['expired', key({ expiresAt: NOW }), pi, 'vault_key_expired'],
    ['expired beats vendor', key({ expiresAt: NOW - 1, vendor: 'twilio' }), pi, 'vault_key_expired'],
    ['other vendor', key({ vendor: 'twilio' }), pi, 'vendor_not_allowed'],
    ['vendor beats a bad body', key({ vendor: 'twilio' }), { error: 'x' }, 'vendor_not_allowed'],
    ['bad body', key(), { error: 'duplicate parameter amount' }, 'bad_request'],
    ['not allowlisted', key(), req('POST', '/v1/charges', { amount: '1', currency: 'usd' }), 'endpoint_not_allowed'],
    ['allowlist is case-exact', key(), req('POST', '/V1/payment_intents', { amount: '1', currency: 'usd' }), 'endpoint_not_allowed'],
    ['case trick under *', key({ allowedEndpoints: [p('*')] }), req('POST', '/v1/PAYMENT_INTENTS', { amount: '1', currency: 'usd' }), 'bad_request'],
    ['priced', key(), pi, 'allow:20000000'],
    ['read is free', key(), req('GET', '/v1/payment_intents/pi_1'), 'allow:0'],
    ['unknown currency', key(), req('POST', '/v1/payment_intents', { amount: '1', currency: 'zzz' }), 'cost_unknown'],
    ['a refund needs the charge looked up first', key(), req('POST', '/v1/refunds', { charge: 'ch_1' }), 'lookup:/v1/charges/ch_1'],
    ['unpriced money mover', key({ allowedEndpoints: [p('*')] }), req('POST', '/v1/subscriptions', { customer: 'cus_1' }), 'cost_unknown'],
    ['Stripe-Account not allowed', key(), req('POST', '/v1/payment_intents', { amount: '1', currency: 'usd' }, { 'stripe-account': 'acct_1' }), 'parameter_not_allowed'],
    ['Stripe-Account allowed', key({ policy: { stripe_accounts: ['acct_1'] } }), req('POST', '/v1/payment_intents', { amount: '1', currency: 'usd' }, { 'stripe-account': 'acct_1' }), 'allow:10000'],
    ['non-money POST is free', key({ allowedEndpoints: [p('POST /v1/customers')] }), req('POST', '/v1/customers', { email: 'a@b.c' }), 'allow:0'],
  ])('%s', (_name, k, r, expected) => {
    expect(code(run(k, r))).toBe(expected);
  });

  test('a denial message names the problem', () => {
    const d = run(key(), req('POST', '/v1/charges'));
    expect(d.kind === 'deny' && d.message).toContain('POST /v1/charges is not in this key\'s allowed endpoints');
  });
});

describe('endpoint patterns', () => {
  test.each([
    ['POST /v1/payment_intents', 'POST', '/v1/payment_intents', 'exact'],
    ['post /v1/payment_intents', 'POST', '/v1/payment_intents', 'exact'],
    ['POST /v1/payment_intents', 'GET', '/v1/payment_intents', 'none'],
    ['GET /v1/payment_intents/{id}', 'GET', '/v1/payment_intents/pi_1', 'exact'],
    ['GET /v1/payment_intents/{id}', 'GET', '/v1/payment_intents/pi_1/x', 'none'],
    ['GET /v1/*/{id}', 'GET', '/v1/charges/ch_1', 'exact'],
    ['* /v1/customers/**', 'DELETE', '/v1/customers/cus_1/sources/src_1', 'exact'],
    ['* /v1/customers/**', 'GET', '/v1/customers', 'none'],
    ['*', 'PATCH', '/anything/at/all', 'exact'],
    ['POST /v1/payment_intents', 'POST', '/V1/Payment_Intents', 'case-mismatch'],
  ])('%s vs %s %s', (pattern, method, path, expected) => {
    expect(matchEndpoint(p(pattern), method, path.slice(1).split('/'))).toBe(expected);
  });

  test.each(['POST', 'POST v1', 'FETCH /v1', 'POST /v1/**/x', 'POST /v1/a b'])('refuses %j', (s) => {
    expect(typeof parseEndpointPattern(s)).toBe('string');
  });
});

describe('windows and durations', () => {
  test('the daily window is the UTC day', () => {
    expect(dailyWindow(Date.UTC(2026, 10, 27, 23, 59, 59))).toEqual({ start: '2026-11-27', startsAt: Date.UTC(2026, 10, 27), resetsAt: Date.UTC(2026, 10, 28) });
    expect(dailyWindow(Date.UTC(2026, 11, 31, 12))).toEqual({ start: '2026-12-31', startsAt: Date.UTC(2026, 11, 31), resetsAt: Date.UTC(2027, 0, 1) });
    expect(dailyWindow(Date.UTC(2027, 0, 1))).toEqual({ start: '2027-01-01', startsAt: Date.UTC(2027, 0, 1), resetsAt: Date.UTC(2027, 0, 2) });
  });
  // Daylight-saving days last 23 or 25 hours; the window follows the zone's own calendar day.
  test.each([
    ['America/New_York', '2026-03-08T12:00:00Z', '2026-03-08', '2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z', 23],
    ['America/New_York', '2026-03-08T06:59:59Z', '2026-03-08', '2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z', 23],
    ['America/New_York', '2026-03-08T04:59:59Z', '2026-03-07', '2026-03-07T05:00:00.000Z', '2026-03-08T05:00:00.000Z', 24],
    ['America/New_York', '2026-11-01T05:30:00Z', '2026-11-01', '2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z', 25],
    ['America/New_York', '2026-11-02T04:59:59Z', '2026-11-01', '2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z', 25],
    ['Europe/Berlin', '2026-03-29T00:59:59Z', '2026-03-29', '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z', 23],
    ['Europe/Berlin', '2026-03-29T01:00:00Z', '2026-03-29', '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z', 23],
    ['Europe/Berlin', '2026-10-25T00:30:00Z', '2026-10-25', '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z', 25],
    ['Europe/Berlin', '2026-10-25T01:30:00Z', '2026-10-25', '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z', 25],
    ['Europe/Berlin', '2026-10-25T23:00:00Z', '2026-10-26', '2026-10-25T23:00:00.000Z', '2026-10-26T23:00:00.000Z', 24],
    ['Asia/Kolkata', '2026-11-27T18:29:59Z', '2026-11-27', '2026-11-26T18:30:00.000Z', '2026-11-27T18:30:00.000Z', 24],
  ])('%s at %s is the day %s', (tz, at, start, startsAt, resetsAt, hours) => {
    const w = dailyWindow(Date.parse(at), tz);
    expect([w.start, new Date(w.startsAt).toISOString(), new Date(w.resetsAt).toISOString()]).toEqual([start, startsAt, resetsAt]);
    expect((w.resetsAt - w.startsAt) / 3_600_000).toBe(hours);
  });

  test('a window reused within its day ends exactly at its reset, in either direction of time', () => {
    const tz = 'America/New_York';
    const day = dailyWindow(Date.parse('2026-03-08T12:00:00Z'), tz);
    expect(dailyWindow(day.resetsAt - 1, tz)).toBe(day);
    expect(dailyWindow(day.startsAt, tz)).toBe(day);
    expect(dailyWindow(day.resetsAt, tz).start).toBe('2026-03-09');
    expect(dailyWindow(day.startsAt - 1, tz).start).toBe('2026-03-07');
    expect(dailyWindow(day.startsAt + 1, tz).start).toBe('2026-03-08');
  });

  test.each([
    ['30m', 1_800_000], ['2h', 7_200_000], ['72h', 259_200_000], ['7d', 604_800_000],
    ['0h', undefined], ['3 days', undefined], ['1y', undefined], ['400d', undefined], ['-1h', undefined],
  ])('%s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
