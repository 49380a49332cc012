import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../service/config';
import { newId, parseKey32, safeEqual, SecretBox } from '../service/crypto';
import { BUILTIN_FX } from '../service/vendors/currency';

const HEX_KEY = 'ab'.repeat(32);

describe('configuration', () => {
  test('defaults: 127.0.0.1:8787 on SQLite at ./data/keybrake.db', () => {
    const c = loadConfig({});
    expect([c.host, c.port, c.store]).toEqual(['127.0.0.1', 8787, { kind: 'sqlite', path: './data/keybrake.db' }]);
  });

  test('the PostgreSQL pool: a few connections per core by default, or KEYBRAKE_DB_POOL_SIZE', () => {
    expect(loadConfig({}).dbPoolSize).toBeGreaterThanOrEqual(4);
    expect(loadConfig({}).dbPoolSize).toBeLessThanOrEqual(10);
    expect(loadConfig({ KEYBRAKE_DB_POOL_SIZE: '3' }).dbPoolSize).toBe(3);
  });

  test('DATABASE_URL selects PostgreSQL, and vendor settings are read', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u@h/db', KEYBRAKE_MASTER_KEY: HEX_KEY, STRIPE_SECRET_KEY: 'sk_test_1', KEYBRAKE_UPSTREAM_STRIPE: 'http://127.0.0.1:12111/' });
    expect(c.store).toEqual({ kind: 'postgres', url: 'postgres://u@h/db' });
    expect(c.envSecrets.stripe).toEqual({ secret_key: 'sk_test_1' });
    expect(c.upstreams.stripe).toBe('http://127.0.0.1:12111');
  });

  test.each([
    [{ PORT: 'eighty' }, /^PORT: expected a port number/],
    [{ PORT: '70000' }, /^PORT: expected a port number from 0 to 65535/],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL: expected a postgres:\/\//],
    [{ DATABASE_URL: 'postgres://x/y' }, /^KEYBRAKE_MASTER_KEY: .*required with DATABASE_URL/],
    [{ KEYBRAKE_MASTER_KEY: 'short' }, /^KEYBRAKE_MASTER_KEY: expected 32 bytes as base64 or hex/],
    [{ KEYBRAKE_ADMIN_KEY: 'abc' }, /^KEYBRAKE_ADMIN_KEY: expected at least 24 characters/],
    [{ KEYBRAKE_UPSTREAM_STRIPE: 'ftp://x' }, /^KEYBRAKE_UPSTREAM_STRIPE: expected an http/],
    [{ TWILIO_ACCOUNT_SID: 'AC1' }, /^TWILIO_AUTH_TOKEN: expected/],
    [{ KEYBRAKE_LOG_LEVEL: 'loud' }, /^KEYBRAKE_LOG_LEVEL: must be one of "fatal", .*, not "loud"$/],
    [{ KEYBRAKE_DB_POOL_SIZE: '0' }, /^KEYBRAKE_DB_POOL_SIZE: expected a number of connections from 1 to 100/],
    [{ KEYBRAKE_DB_POOL_SIZE: 'many' }, /^KEYBRAKE_DB_POOL_SIZE: expected a number of connections/],
  ])('bad configuration fails with one line naming the variable: %j', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  test('KEYBRAKE_CONFIG overrides FX rates and prices, and refuses unknown settings by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kb-config-'));
    const write = (name: string, text: string): string => {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    const good = write('good.yaml', 'fx:\n  taken: "2026-11-27"\n  margin_pct: 1\n  rates:\n    eur: 1.2\n    sek: 0.1\nprices:\n  resend: { taken: "2026-11-27", per_email: 0.001 }\n  twilio: { taken: "2026-11-27", sms_per_segment: { "44": 0.06 } }\n');
    const c = loadConfig({ KEYBRAKE_CONFIG: good });
    expect(c.fx).toMatchObject({ taken: '2026-11-27', marginPct: 1 });
    expect([c.fx.rates.eur, c.fx.rates.sek, c.fx.rates.jpy]).toEqual([1.2, 0.1, BUILTIN_FX.rates.jpy]);
    expect(c.prices.resend).toEqual({ taken: '2026-11-27', per_email: 0.001 });
    expect([c.prices.twilio.sms_per_segment['44'], c.prices.twilio.sms_per_segment['1']]).toEqual([0.06, 0.0145]);
    const fail = (text: string): string => {
      try {
        loadConfig({ KEYBRAKE_CONFIG: write('bad.yaml', text) });
      } catch (e) {
        expect((e as Error).message).not.toContain('\n');
        return (e as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(fail('fx:\n  taken: "2026-11-27"\n  rates:\n    EUR: -1\n')).toMatch(/^KEYBRAKE_CONFIG: .*fx\.rates\.EUR/);
    expect(fail('alerts: {}\n')).toMatch(/alerts: is not a known setting/);
    expect(fail('vendors:\n  acme:\n    base_url: ftp://x\n    auth: { style: bearer }\n')).toMatch(/vendors\.acme\.base_url: expected an http\(s\) URL/);
    expect(fail('vendors:\n  acme:\n    base_url: https://api.acme.test\n    auth: { style: header }\n')).toMatch(/vendors\.acme\.auth\.header: expected style header needs header/);
    expect(fail('vendors:\n  acme:\n    base_url: https://api.acme.test\n    auth: { style: bearer }\n    endpoints:\n      - match: POST /v1/x\n        price: { fixed_usd: 1, count_field: n }\n')).toMatch(/vendors\.acme\.endpoints\.0\.price: expected give exactly one of/);
    expect(fail('vendors:\n  acme:\n    base_url: https://api.acme.test\n    auth: { style: bearer }\n    endpoints:\n      - match: SEND /v1/x\n        price: { fixed_usd: 1 }\n')).toMatch(/vendors\.acme\.endpoints\.0\.match/);
    expect(fail('vendors:\n  stripe:\n    base_url: https://api.acme.test\n    auth: { style: bearer }\n')).toMatch(/vendors\.stripe: the id stripe is taken/);
    expect(fail('vendors:\n  acme:\n    base_url: https://api.acme.test\n    auth: { style: bearer }\n    endpoints:\n      - match: POST /v1/x\n        price: { amount_field: total }\n')).toMatch(/vendors\.acme\.endpoints\.0\.price\.currency_field: expected amount_field needs currency_field/);
  });
});

describe('crypto', () => {
  test('parses 32-byte keys as hex or base64 only', () => {
    expect(parseKey32(HEX_KEY)?.length).toBe(32);
    expect(parseKey32(Buffer.alloc(32, 7).toString('base64'))?.length).toBe(32);
    expect(parseKey32('ab'.repeat(16))).toBeUndefined();
  });

  test('sealed secrets open only with the same key and the same associated data', () => {
    const box = new SecretBox(Buffer.alloc(32, 1));
    const sealed = box.seal('sk_live_secret', 'ws:stripe');
    expect(sealed).not.toContain('sk_live_secret');
    expect(box.open(sealed, 'ws:stripe')).toBe('sk_live_secret');
    expect(() => box.open(sealed, 'ws:resend')).toThrow();
    expect(() => new SecretBox(Buffer.alloc(32, 2)).open(sealed, 'ws:stripe')).toThrow();
    expect(box.seal('x', 'a')).not.toBe(box.seal('x', 'a'));
  });

  test('safeEqual compares strings of any length', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });

  test('ids given a time sort by it and stay unique within a millisecond', () => {
    const t = Date.UTC(2026, 10, 27, 12, 0, 0);
    const ids = [t - 86_400_000, t - 1, t, t, t, t + 1, t + 61_000].map((ms) => newId('aud', ms));
    for (const id of ids) expect(id).toMatch(/^aud_[0-9A-Za-z]{20}$/);
    expect([...ids].sort()).toEqual(ids.slice(0, 2).concat([...ids.slice(2, 5)].sort(), ids.slice(5)));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[2]?.slice(0, 12)).toBe(ids[3]?.slice(0, 12));
    // Without a time, all twenty characters are random: no shared prefix between two ids.
    const plain = Array.from({ length: 50 }, () => newId('aud'));
    expect(new Set(plain.map((id) => id.slice(4, 10))).size).toBe(50);
  });
});
