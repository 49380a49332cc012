import type { FxTable } from './types';

// https://docs.stripe.com/currencies#zero-decimal
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
// https://docs.stripe.com/currencies#three-decimal
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** Digits after the decimal point in a currency's minor unit, as Stripe's API counts them. */
export function currencyExponent(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  if (THREE_DECIMAL.has(currency)) return 3;
  return 2; // ISK, HUF and TWD stay two-decimal in the API (https://docs.stripe.com/currencies#special-cases).
}

/**
 * Built-in rates, USD per major unit. Approximate mid-2025 market rates, good enough to keep a cap honest;
 * replace them with today's in KEYBRAKE_CONFIG (`fx:`) when precision matters. Unknown currencies are refused.
 */
export const BUILTIN_FX: FxTable = {
  taken: '2025-06-30',
  marginPct: 2,
  rates: {
    usd: 1, eur: 1.17, gbp: 1.37, chf: 1.25, jpy: 0.0069, cad: 0.73, aud: 0.65, nzd: 0.6, cny: 0.139, hkd: 0.127,
    sgd: 0.78, inr: 0.0117, krw: 0.00073, twd: 0.034, thb: 0.031, idr: 0.0000615, myr: 0.236, php: 0.0177,
    vnd: 0.0000383, brl: 0.18, mxn: 0.053, clp: 0.00107, cop: 0.00025, pen: 0.28, sek: 0.105, nok: 0.099,
    dkk: 0.157, pln: 0.275, czk: 0.047, huf: 0.0029, ron: 0.23, bgn: 0.6, isk: 0.0082, try: 0.025, ils: 0.3,
    aed: 0.2723, sar: 0.2667, qar: 0.2747, kwd: 3.27, bhd: 2.65, omr: 2.6, jod: 1.41, tnd: 0.34, zar: 0.056,
    egp: 0.02, ngn: 0.00065, kes: 0.0077, mad: 0.11, ugx: 0.00028, xof: 0.0018, xaf: 0.0018, pyg: 0.000125,
  },
};

/**
 * Converts an amount in a currency's minor unit to micro-USD, rounding up (design §5: a cap must never be
 * under-estimated; a positive amount never counts as zero). Returns undefined for a currency without a rate.
 */
export function minorToMicroUsd(amountMinor: number, currency: string, fx: FxTable, withMargin: boolean): number | undefined {
  const code = currency.toLowerCase();
  const rate = fx.rates[code];
  if (rate === undefined) return undefined;
  const exponent = currencyExponent(code);
  if (code === 'usd') return amountMinor * 10 ** (6 - exponent); // exact: cents to micros
  const margin = withMargin ? 1 + fx.marginPct / 100 : 1;
  return upFrom((amountMinor * rate * margin * 1e6) / 10 ** exponent, amountMinor > 0);
}

/** Rounds up to a whole micro-dollar (a hair of float noise forgiven), and never to zero for a positive amount. */
function upFrom(micros: number, positive: boolean): number {
  const up = Math.ceil(micros - 1e-6);
  return positive ? Math.max(1, up) : up;
}

const DECIMAL = /^(\d{1,9})(?:\.(\d{1,18}))?$/;

/**
 * Converts a decimal amount in a currency's major unit ("19.99", as sent) to micro-USD, exactly for USD and
 * rounded up otherwise: digits past the micro-dollar round up instead of being dropped. Returns undefined for a
 * currency without a rate, or a string that is not a plain decimal.
 */
export function majorToMicroUsd(amount: string, currency: string, fx: FxTable, withMargin: boolean): number | undefined {
  const m = DECIMAL.exec(amount);
  const code = currency.toLowerCase();
  const rate = fx.rates[code];
  if (!m || rate === undefined) return undefined;
  const frac = m[2] ?? '';
  // Micro-units of the currency, rounded up at the sixth decimal.
  const units = Number(m[1]) * 1e6 + Number(frac.slice(0, 6).padEnd(6, '0')) + (/[1-9]/.test(frac.slice(6)) ? 1 : 0);
  if (code === 'usd') return units;
  const margin = withMargin ? 1 + fx.marginPct / 100 : 1;
  return upFrom(units * rate * margin, units > 0);
}

export function microsToUsd(micros: number): number {
  return Math.round(micros) / 1e6;
}

/** Dollars as people read them: `$2,400.00`, and down to the micro-dollar when there is less (`$0.0009`). */
export function formatUsd(usd: number): string {
  return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 })}`;
}

export function usdToMicros(usd: number): number {
  return Math.round(usd * 1e6);
}
