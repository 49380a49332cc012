// Stripe pricing from amount + currency, from Stripe's documented currency rules
// (https://docs.stripe.com/currencies): zero-decimal, three-decimal, two-decimal, and FX to USD.
import { BUILTIN_FX, currencyExponent, minorToMicroUsd } from '../../service/vendors/currency';
import { priceAmount } from '../../service/vendors/stripe';
import type { FxTable } from '../../service/vendors/types';
import { BUILTIN_PRICES } from '../../service/vendors/prices';

const fx: FxTable = { taken: '2026-11-27', marginPct: 2, rates: { usd: 1, eur: 1.1, jpy: 0.007, kwd: 3.25, bhd: 2.65, isk: 0.008, huf: 0.0028 } };

describe('currency exponents', () => {
  test.each([
    ['usd', 2], ['eur', 2], ['jpy', 0], ['krw', 0], ['vnd', 0], ['xof', 0], ['kwd', 3], ['bhd', 3], ['jod', 3], ['omr', 3], ['tnd', 3],
    ['isk', 2], ['huf', 2], ['twd', 2],
  ])('%s has %d decimals', (currency, exponent) => {
    expect(currencyExponent(currency)).toBe(exponent);
  });
});

describe('priceAmount (estimate, with the FX margin on non-USD)', () => {
  test.each([
    // [amount, currency, micro-USD]
    ['2000', 'usd', 20_000_000], // $20.00 exactly, no margin on USD
    ['1', 'usd', 10_000],
    ['2000', 'USD', 20_000_000],
    ['1000', 'jpy', 7_140_000], // ¥1000 × 0.007 × 1.02
    ['5120', 'kwd', 16_972_800], // 5.120 KWD × 3.25 × 1.02
    ['100', 'eur', 1_122_000], // €1.00 × 1.1 × 1.02
    ['10000', 'isk', 816_000], // ISK stays two-decimal in the API: 100.00 kr
    ['0', 'usd', 0],
  ])('%s %s → %d µUSD', (amount, currency, micros) => {
    expect(priceAmount(amount, currency, { fx, prices: BUILTIN_PRICES })).toEqual({ kind: 'priced', micros, basis: `${amount} ${currency.toLowerCase()} (minor units)` });
  });

  test.each([
    ['100', 'xyz', /no exchange rate for currency xyz/],
    ['12.5', 'usd', /whole number/],
    ['-5', 'usd', /whole number/],
    ['0100', 'usd', /whole number/],
    ['1000000000000', 'usd', /whole number/],
    [undefined, 'usd', /whole number/],
    [['1'], 'usd', /whole number/],
    ['100', undefined, /three-letter ISO code/],
    ['100', 'us', /three-letter ISO code/],
  ])('%j %j cannot be priced', (amount, currency, reason) => {
    const r = priceAmount(amount, currency, { fx, prices: BUILTIN_PRICES });
    expect(r.kind).toBe('unknown');
    expect(r.kind === 'unknown' && r.reason).toMatch(reason);
  });
});

test('settlement converts without the margin and rounds up to the micro-dollar', () => {
  expect(minorToMicroUsd(1000, 'jpy', fx, false)).toBe(7_000_000);
  expect(minorToMicroUsd(1, 'huf', fx, false)).toBe(28); // 0.01 HUF × 0.0028 = 28 µUSD
  expect(minorToMicroUsd(1, 'jpy', { ...fx, rates: { jpy: 0.0000001 } }, false)).toBe(1); // never rounds a cost to zero
});

test('the built-in FX table is dated and covers the common currencies', () => {
  expect(BUILTIN_FX.taken).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  for (const c of ['usd', 'eur', 'gbp', 'jpy', 'cad', 'aud', 'chf', 'cny', 'inr', 'brl', 'mxn', 'kwd', 'bhd', 'krw']) {
    expect(BUILTIN_FX.rates[c]).toBeGreaterThan(0);
  }
});
