// Table-driven pricing from the vendors' documented rules: Twilio segments (checked against Twilio's own
// segment calculator), destinations, MMS and call time limits; Resend per email and per batch; custom rules.
import { SegmentedMessage } from 'sms-segments-calculator';
import { parseForm } from '../../service/vendors/form';
import { BUILTIN_FX } from '../../service/vendors/currency';
import { priceByRule } from '../../service/vendors/custom';
import { BUILTIN_PRICES } from '../../service/vendors/prices';
import { resend } from '../../service/vendors/resend';
import { countSegments } from '../../service/vendors/sms-segments';
import { prepareCall, priceCall, priceMessage } from '../../service/vendors/twilio';
import type { CanonicalRequest, JsonObject, PricingContext } from '../../service/vendors/types';

const ctx: PricingContext = { fx: BUILTIN_FX, prices: BUILTIN_PRICES };
const SAY = '<Response><Say>Your order has shipped.</Say></Response>';
const req = (body: JsonObject, path = '/x'): CanonicalRequest => ({ method: 'POST', path, segments: path.slice(1).split('/'), query: {}, body, headers: {} });
const micros = (r: ReturnType<typeof priceMessage>): number | string => (r.kind === 'priced' ? r.micros : r.kind === 'unknown' ? r.reason : 0);

describe('SMS segments', () => {
  test.each([
    ['a'.repeat(160), 'GSM-7', 1],
    ['a'.repeat(161), 'GSM-7', 2],
    ['a'.repeat(306), 'GSM-7', 2],
    ['a'.repeat(307), 'GSM-7', 3],
    ['{'.repeat(80), 'GSM-7', 1],
    ['{'.repeat(81), 'GSM-7', 2],
    ['a'.repeat(159) + '€', 'GSM-7', 2],
    ['a'.repeat(152) + '€' + 'a'.repeat(152), 'GSM-7', 3], // an escape pair is never split across segments
    ['Hello ✓', 'UCS-2', 1],
    ['x'.repeat(70), 'GSM-7', 1],
    ['é'.repeat(160), 'GSM-7', 1],
    ['ż'.repeat(70), 'UCS-2', 1],
    ['ż'.repeat(71), 'UCS-2', 2],
    ['x'.repeat(69) + '😀', 'UCS-2', 2],
    ['x'.repeat(68) + '😀', 'UCS-2', 1],
    ['a'.repeat(159) + '😀', 'UCS-2', 3],
    ['“smart quotes”', 'UCS-2', 1],
  ])('%#: %s is %s in %d segment(s), as Twilio counts it', (body, encoding, segments) => {
    expect(countSegments(body)).toEqual({ encoding, segments });
    const twilio = new SegmentedMessage(body);
    expect([twilio.getEncodingName(), twilio.segmentsCount]).toEqual([encoding, segments]);
  });
});

describe('Twilio prices', () => {
  test.each([
    [{ To: '+15558675310', Body: 'a'.repeat(160) }, 14_500],
    [{ To: '+15558675310', Body: 'a'.repeat(161) }, 29_000],
    [{ To: '+15558675310', Body: 'Hi 👋' }, 14_500],
    [{ To: '+447700900123', Body: 'a'.repeat(200) }, 104_800],
    [{ To: '+35312345678', Body: 'hi' }, 78_800], // 353 (Ireland) wins over 3…
    [{ To: '+9981234567', Body: 'hi' }, 200_000], // no entry: the table's default
    [{ To: '+15558675310', Body: 'see', MediaUrl: ['https://a/1.png', 'https://a/2.png'] }, 30_000],
    [{ To: '+15558675310', MediaUrl: 'https://a/1.png' }, 30_000],
    [{ To: '+15558675310' }, 'a message needs a Body (or MediaUrl)'],
    [{ To: '5558675310', Body: 'x' }, 'To must be an E.164 phone number such as +15558675310, not 5558675310'],
    [{ To: 'whatsapp:+15558675310', Body: 'x' }, 'whatsapp messages are priced differently and are not supported yet'],
    [{ To: ['+1555', '+1556'], Body: 'x' }, 'To must be one phone number'],
    [{ To: '+15558675310', ContentSid: 'HX1' }, 'ContentSid template messages are not priced yet'],
  ])('%#: %j', (body, expected) => {
    expect(micros(priceMessage(req(body), ctx))).toEqual(expected);
  });

  test.each([
    [{ To: '+15558675310', Twiml: SAY }, 600, '600', 140_000], // injected: 10 minutes × $0.014
    [{ To: '+15558675310', Twiml: SAY, TimeLimit: '90' }, 600, '90', 28_000], // 2 started minutes
    [{ To: '+15558675310', Twiml: SAY, TimeLimit: '14400' }, 600, '600', 140_000], // capped
    [{ To: '+15558675310', Twiml: SAY, TimeLimit: '14400' }, 1200, '1200', 280_000], // the key's policy allows longer
    [{ To: '+447700900123', Twiml: SAY, TimeLimit: '60' }, 600, '60', 35_000],
  ])('%#: call %j, at most %d s → TimeLimit %s, %d µUSD', (body, max, limit, expected) => {
    const prepared = prepareCall(req(body), max);
    expect(typeof prepared).toBe('object');
    const r = prepared as CanonicalRequest;
    expect(r.body.TimeLimit).toBe(limit);
    expect(micros(priceCall(r, ctx, {}))).toBe(expected);
  });

  test('a TimeLimit that is not a whole number is refused', () => {
    expect(prepareCall(req({ To: '+15558675310', TimeLimit: '1e9' }), 600)).toBe('TimeLimit must be a whole number of seconds');
  });
});

describe('Resend prices', () => {
  const route = (path: string) => resend.routes.find((r) => r.pattern.source === `POST ${path}`)!;
  test.each([
    ['/emails', { from: 'a@b.c', to: ['x@y.z', 'w@y.z'], subject: 's' }, 1_800], // Resend counts each recipient as an email
    ['/emails/batch', { emails: Array.from({ length: 100 }, () => ({ to: 'x@y.z' })) }, 90_000],
    ['/emails/batch', { emails: Array.from({ length: 101 }, () => ({})) }, 'a batch holds at most 100 emails, not 101'],
    ['/emails/batch', { emails: [] }, 'a batch is a JSON array of 1 to 100 emails'],
  ])('%s %#', (path, body, expected) => {
    expect(micros(route(path).price!(req(body, path), ctx, {}))).toEqual(expected);
  });
});

describe('user-defined price rules', () => {
  test.each([
    [{ fixed_usd: 0.25 }, {}, 250_000],
    [{ count_field: 'recipients', unit_usd: 0.01 }, { recipients: ['a', 'b', 'c'] }, 30_000],
    [{ count_field: 'qty', unit_usd: 0.5 }, { qty: '4' }, 2_000_000],
    [{ amount_field: 'total', currency_field: 'currency', units: 'minor' as const }, { total: 1234, currency: 'usd' }, 12_340_000],
    [{ amount_field: 'order.total', currency: 'usd', units: 'major' as const }, { order: { total: '12.34' } }, 12_340_000],
    [{ amount_field: 'total', currency_field: 'currency', units: 'minor' as const }, { total: 1000, currency: 'jpy' }, 7_038_000], // ¥1000 × 0.0069 × 1.02
    [{ amount_field: 'total', currency_field: 'currency', units: 'minor' as const }, { total: 10, currency: 'zzz' }, 'no exchange rate for currency zzz'],
    [{ count_field: 'recipients', unit_usd: 0.01 }, {}, 'recipients must be a list or a count'],
  ])('%j on %j', (rule, body, expected) => {
    expect(micros(priceByRule(rule, req(body as JsonObject), ctx))).toEqual(expected);
  });

  test('form bodies price from their text', () => {
    expect(micros(priceByRule({ count_field: 'n', unit_usd: 1 }, req(parseForm('n=3')), ctx))).toBe(3_000_000);
  });
});
