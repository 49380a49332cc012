// What a new user runs into: a wrong path, a key that could never work, an unset vendor secret, a misspelt setting.
// Each gets an answer that names what is wrong and how to put it right.
import { Writable } from 'node:stream';
import pino from 'pino';
import { ConfigError, loadConfig } from '../../service/config';
import { startServer } from '../../service/server';
import { startFakeStripe, type FakeStripe } from '../helpers/fake-stripe';
import { call, serviceEnv, startTestService, type TestService } from '../helpers/service';
import { createTestStore, describeEachStore } from '../helpers/stores';

describeEachStore('a newcomer', (storeName) => {
  let fake: FakeStripe;
  let svc: TestService;
  const lines: string[] = [];
  beforeAll(async () => {
    fake = await startFakeStripe();
    const log = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, done) => void (lines.push(c.toString()), done()) }));
    svc = await startTestService(storeName, fake, {}, { log });
  });
  afterAll(async () => {
    await svc.close();
    await fake.close();
  });

  test('a proxy path without its /vendor prefix gets the 404 that names it, whatever the token', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['POST /v1/payment_intents'] });
    const res = await call(svc.url, '/v1/payment_intents', { key: key.vault_key, form: 'amount=100&currency=usd' });
    expect([res.status, res.body.error?.code]).toEqual([404, 'not_found']);
    expect(String(res.body.error?.message)).toMatch(/No route for POST \/v1\/payment_intents\. Proxy calls go to \/\{vendor\}\/…: did you mean \/stripe\/v1\/payment_intents\?/);
    const twilio = await call(svc.url, '/2010-04-01/Accounts/self/Messages.json', { form: 'To=1' });
    expect(String(twilio.body.error?.message)).toMatch(/did you mean \/twilio\/2010-04-01/);
    const admin = await svc.admin().get('/nope');
    expect([admin.status, admin.body.error.code]).toEqual([404, 'not_found']);
  });

  test('a vault key on an admin route is told it is a vault key', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['*'] });
    const res = await call(svc.url, '/vault/keys', { key: key.vault_key });
    expect([res.status, res.body.error?.code]).toEqual([401, 'admin_key_invalid']);
    expect(String(res.body.error?.message)).toMatch(/^That is a vault key: it calls vendors through the proxy \(\/\{vendor\}\/…, e\.g\. \/stripe\/v1\/payment_intents\)\. GET \/vault\/keys is an admin route and needs the admin key\.$/);
  });

  test('GET / points to the console', async () => {
    const res = await fetch(`${svc.url}/`, { redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([302, '/console/']);
  });

  test.each([
    ['POST /payment_intents', /^allowed_endpoints\.0: "POST \/payment_intents" is not a Stripe path: they start with \/v1\/ or \/v2\/ \(e\.g\. "POST \/v1\/payment_intents"\)$/],
    ['POST /stripe/v1/payment_intents', /^allowed_endpoints\.0: "POST \/stripe\/v1\/payment_intents" starts with Keybrake's \/stripe prefix; write the Stripe path itself, e\.g\. "POST \/v1\/payment_intents"/],
    ['POST /dify/stripe/v1/payment_intents', /starts with Keybrake's \/dify prefix/],
    ['TELEPORT /v1/x', /unknown method TELEPORT/],
  ])('an endpoint that could never match a call is refused at issue: %s', async (endpoint, message) => {
    const before = await svc.admin().get('/vault/keys');
    const res = await svc.admin().post('/vault/keys').send({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: [endpoint] });
    expect([res.status, res.body.error.param]).toEqual([400, 'allowed_endpoints.0']);
    expect(res.body.error.message).toMatch(message);
    expect((await svc.admin().get('/vault/keys')).body.data.length).toBe(before.body.data.length);
  });

  test('endpoints Keybrake will refuse anyway come back as warnings with the key', async () => {
    const res = await svc.admin().post('/vault/keys').send({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['POST /v1/ephemeral_keys', 'POST /v1/subscriptions', 'POST /v1/brand_new_thing', 'POST /v1/payment_intents'] });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual([
      expect.stringMatching(/^POST \/v1\/ephemeral_keys: no vault key may call this: it returns a secret/),
      expect.stringMatching(/^POST \/v1\/subscriptions: calls are refused \(cost_unknown\): it starts, changes or ends charges/),
      'POST /v1/brand_new_thing: Keybrake does not know this Stripe operation, so calls to it are refused (cost_unknown).',
    ]);
  });

  test.each([
    [{ daily_usd_cap: 0.0000001 }, 'daily_usd_cap: rounds to nothing: Keybrake counts in micro-dollars, so the least is 0.000001'],
    [{ daily_usd_cap: 'ten' }, 'daily_usd_cap: must be a number of US dollars'],
    [{ daily_usd_cap: 5, max_usd_per_call: 0.0000004 }, 'max_usd_per_call: rounds to nothing: Keybrake counts in micro-dollars, so the least is 0.000001'],
    [{ daily_usd_cap: 5, allowed_endpoints: 'POST /v1/x' }, 'allowed_endpoints: must be an array, not a string'],
    [{ daily_usd_cap: 5, vendor: undefined }, 'vendor: is required'],
  ])('caps and fields are checked in words: %j', async (fields, message) => {
    const res = await svc.admin().post('/vault/keys').send({ vendor: 'stripe', allowed_endpoints: ['*'], ...fields });
    expect([res.status, res.body.error.message]).toEqual([400, message]);
  });

  test('revoking with an empty body says what it needs', async () => {
    const res = await svc.admin().post('/vault/keys/revoke').send({});
    expect([res.status, res.body.error.message]).toEqual([400, 'body: give label_prefix (revoke every key whose label starts with it) or ids (a list of key ids), one of the two']);
  });

  test('the start-up line says how the instance is configured, without a secret; admin actions are logged', async () => {
    const start = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'keybrake listening');
    expect(start).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), store: { kind: storeName }, upstream_overrides: { stripe: fake.url } });
    expect(start?.vendors).toEqual(expect.arrayContaining([{ id: 'stripe', base_url: fake.url, secret: 'env' }, { id: 'twilio', base_url: 'https://api.twilio.com', secret: 'none' }]));
    await svc.admin().post('/vault/keys').send({ vendor: 'stripe', daily_usd_cap: 3, allowed_endpoints: ['*'], label: 'logged' });
    await fetch(`${svc.url}/vault/keys`, { headers: { authorization: 'Bearer not-the-admin-key-0123456789' } });
    const text = lines.join('');
    expect(text).toMatch(/"msg":"vault key issued"/);
    expect(text).toMatch(/"msg":"admin sign-in failed: the key is not valid"/);
    expect(text).not.toContain(fake.secret);
    expect(text).not.toMatch(/vault_key_[A-Za-z0-9]{32}/);
  });

  test('a key for a vendor with no secret warns at issue, and its calls say the vendor is not configured', async () => {
    const res = await svc.admin().post('/vault/keys').send({ vendor: 'resend', daily_usd_cap: 1, allowed_endpoints: ['POST /emails'] });
    expect(res.body.warnings).toEqual([expect.stringMatching(/^Keybrake has no Resend secret yet: calls with this key are refused \(vendor_not_configured\) until one is set \(RESEND_API_KEY, or PUT \/vendors\/resend\/credentials\)\.$/)]);
    const sent = await call(svc.url, '/resend/emails', { key: res.body.vault_key, json: { from: 'a@b.c', to: 'd@e.f', subject: 's', text: 't' } });
    expect([sent.status, sent.body.error?.code]).toEqual([503, 'vendor_not_configured']);
  });
});

describe('settings a newcomer gets wrong', () => {
  test.each([
    [{ STRIPE_SECRET_KEY: 'sk_test_...' }, 'STRIPE_SECRET_KEY: "sk_test_..." is the README\'s placeholder, not a key: use one from https://dashboard.stripe.com/test/apikeys'],
    [{ STRIPE_SECRET_KEY: 'pk_test_123' }, 'STRIPE_SECRET_KEY: must be a Stripe secret key (sk_test_…, sk_live_…) or restricted key (rk_…)'],
    [{ KEYBRAKE_UPSTREAM_PAYPAL: 'http://127.0.0.1:1' }, 'KEYBRAKE_UPSTREAM_PAYPAL: there is no vendor paypal (vendors: stripe, twilio, resend)'],
    [{ PORT: 'eighty' }, /^PORT: expected a port number/],
  ])('%j stops the start with one line', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test('a DATABASE_URL that cannot be reached is named, without a stack or the password', async () => {
    const store = await createTestStore('sqlite');
    const config = loadConfig({ ...serviceEnv(store, undefined), DATABASE_URL: 'postgres://kb:hunter2-secret@127.0.0.1:1/nowhere' });
    const failure = await startServer(config, { log: pino({ level: 'silent' }), announce: () => undefined }).then(() => undefined, (err: Error) => err);
    await store.drop();
    expect(failure).toBeInstanceOf(ConfigError);
    expect(failure?.message).toMatch(/^DATABASE_URL: cannot use postgres:\/\/kb:\*\*\*@127\.0\.0\.1:1\/nowhere \(.*ECONNREFUSED.*\)$/);
    expect(failure?.message).not.toContain('hunter2');
    expect(failure?.message).not.toContain('\n');
  });
});
