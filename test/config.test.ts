import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../service/config';
import { loadConfigFile, mergeFx } from '../service/config-file';
import { parseKey32, safeEqual, SecretBox } from '../service/crypto';
import { BUILTIN_FX } from '../service/vendors/currency';

const HEX_KEY = 'ab'.repeat(32);

describe('configuration', () => {
  test('defaults: 127.0.0.1:8787 on SQLite at ./data/keybrake.db', () => {
    const c = loadConfig({});
    expect([c.host, c.port, c.store]).toEqual(['127.0.0.1', 8787, { kind: 'sqlite', path: './data/keybrake.db' }]);
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
    [{ KEYBRAKE_LOG_LEVEL: 'loud' }, /^KEYBRAKE_LOG_LEVEL: expected/],
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

  test('KEYBRAKE_CONFIG overrides FX rates and refuses unknown settings by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kb-config-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'fx:\n  taken: "2026-11-27"\n  margin_pct: 1\n  rates:\n    eur: 1.2\n    sek: 0.1\n');
    const fx = mergeFx(BUILTIN_FX, loadConfigFile(good).fx);
    expect(fx).toMatchObject({ taken: '2026-11-27', marginPct: 1 });
    expect([fx.rates.eur, fx.rates.sek, fx.rates.jpy]).toEqual([1.2, 0.1, BUILTIN_FX.rates.jpy]);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'fx:\n  taken: "2026-11-27"\n  rates:\n    EUR: -1\n');
    expect(() => loadConfigFile(bad)).toThrow(/KEYBRAKE_CONFIG: .*fx\.rates\.EUR/);
    const unknown = join(dir, 'unknown.yaml');
    writeFileSync(unknown, 'vendors: {}\n');
    expect(() => loadConfigFile(unknown)).toThrow(/vendors: is not a known setting/);
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
});
