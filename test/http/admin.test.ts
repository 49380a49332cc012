// The admin API over HTTP (supertest against the running service), on both stores.
import parsePrometheus from 'parse-prometheus-text-format';
import { startFakeStripe, type FakeStripe } from '../helpers/fake-stripe';
import { call, startTestService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

const SCRAPE = 'scrape_only_token_0123456789abcdef';

interface Family {
  name: string;
  help: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string }[];
}

describeEachStore('admin API', (storeName) => {
  let svc: TestService;
  let fake: FakeStripe;
  const count = async (table: string): Promise<number> => Number(((await (await svc.db()).knex(table).count({ n: '*' })) as { n: number | string }[])[0]!.n);

  beforeAll(async () => {
    fake = await startFakeStripe();
    // No STRIPE_SECRET_KEY in the environment: the secret arrives through the API in a test below.
    svc = await startTestService(storeName, undefined, { KEYBRAKE_UPSTREAM_STRIPE: fake.url, KEYBRAKE_METRICS_TOKEN: SCRAPE });
  });
  afterAll(async () => {
    await svc.close();
    await fake.close();
  });

  test('the admin API needs the admin key', async () => {
    const none = await svc.admin().get('/vault/keys').set('authorization', '');
    expect([none.status, none.body.error.code]).toEqual([401, 'admin_key_missing']);
    const wrong = await svc.admin().get('/vault/keys').set('authorization', 'Bearer not-the-admin-key-at-all-000');
    expect([wrong.status, wrong.body.error.code]).toEqual([401, 'admin_key_invalid']);
  });

  test('issuing a key returns it once; only its hash is stored', async () => {
    const res = await svc.admin().post('/vault/keys').send({ vendor: 'stripe', daily_usd_cap: 200, allowed_endpoints: ['POST /v1/payment_intents'], expires_in: '72h', label: 'seed' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ vendor: 'stripe', daily_usd_cap: 200, allowed_endpoints: ['POST /v1/payment_intents'], label: 'seed', status: 'active' });
    expect(Date.parse(res.body.expires_at as string) - Date.parse(res.body.created_at as string)).toBe(72 * 3600_000);
    const rows = JSON.stringify(await (await svc.db()).knex('vault_keys').select());
    expect(rows).not.toContain(res.body.vault_key as string);
    const got = await svc.admin().get(`/vault/keys/${res.body.id as string}`);
    expect(got.body.vault_key).toBeUndefined();
    expect(got.body).toMatchObject({ spent_today_usd: 0, remaining_today_usd: 200, status: 'active' });
  });

  test.each([
    [{ daily_usd_cap: 1, allowed_endpoints: ['*'] }, 'vendor', /vendor: is required/],
    [{ vendor: 'paypal', daily_usd_cap: 1, allowed_endpoints: ['*'] }, 'vendor', /unknown vendor "paypal"/],
    [{ vendor: 'stripe', daily_usd_cap: -5, allowed_endpoints: ['*'] }, 'daily_usd_cap', /greater than 0/],
    [{ vendor: 'stripe', daily_usd_cap: 'lots', allowed_endpoints: ['*'] }, 'daily_usd_cap', /US dollars/],
    [{ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: [] }, 'allowed_endpoints', /at least one endpoint/],
    [{ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['FETCH /v1/x'] }, 'allowed_endpoints.0', /unknown method FETCH/],
    [{ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['POST v1/x'] }, 'allowed_endpoints.0', /METHOD \/path/],
    [{ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['POST /v1/../x'] }, 'allowed_endpoints.0', /not a plain path segment/],
    [{ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], expires_in: '3 days' }, 'expires_in', /30m, 2h, 72h or 7d/],
    [{ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], expires_at: '2001-01-01T00:00:00Z' }, 'expires_at', /future/],
    [{ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], max_usd: 5 }, 'max_usd', /unknown field/],
    [{ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], stripe_accounts: ['cus_1'] }, 'stripe_accounts.0', /acct_/],
  ])('a bad body is a 400 naming the field and creates nothing: %j', async (body, param, message) => {
    const before = await count('vault_keys');
    const res = await svc.admin().post('/vault/keys').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', param });
    expect(res.body.error.message).toMatch(message);
    expect(await count('vault_keys')).toBe(before);
  });

  test('malformed JSON is a 400', async () => {
    const res = await svc.admin().post('/vault/keys').set('content-type', 'application/json').send('{"vendor": ');
    expect([res.status, res.body.error.code]).toEqual([400, 'invalid_request']);
  });

  test('listing filters by label prefix, vendor and status, and pages with a cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], label: `user-7/conv-${i}` })).id);
    await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], label: 'user-70' });
    await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], label: 'user_7/x' });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await svc.admin().get('/vault/keys').query({ label_prefix: 'user-7/', limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...(page.body.data as { id: string }[]).map((k) => k.id));
      cursor = page.body.next_cursor as string | null;
    } while (cursor);
    expect(seen.sort()).toEqual([...ids].sort());
    // `_` is not a wildcard in a label prefix.
    const literal = await svc.admin().get('/vault/keys').query({ label_prefix: 'user_7' });
    expect((literal.body.data as { label: string }[]).map((k) => k.label)).toEqual(['user_7/x']);
    const bad = await svc.admin().get('/vault/keys').query({ status: 'gone' });
    expect([bad.status, bad.body.error.param]).toEqual([400, 'status']);
  });

  test('bulk revoke by label prefix or ids revokes exactly those keys', async () => {
    const a = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], label: 'tenant-a/conv-1' });
    const b = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], label: 'tenant-a/conv-2' });
    const c = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], label: 'tenant-b/conv-1' });
    const res = await svc.admin().post('/vault/keys/revoke').send({ label_prefix: 'tenant-a/' });
    expect(res.status).toBe(200);
    expect([...(res.body.ids as string[])].sort()).toEqual([a.id, b.id].sort());
    const listed = await svc.admin().get('/vault/keys').query({ label_prefix: 'tenant-', status: 'active' });
    expect((listed.body.data as { id: string }[]).map((k) => k.id)).toEqual([c.id]);
    const byId = await svc.admin().post('/vault/keys/revoke').send({ ids: [c.id, a.id] });
    expect(byId.body).toEqual({ revoked: 1, ids: [c.id] });
    const empty = await svc.admin().post('/vault/keys/revoke').send({ label_prefix: '' });
    expect(empty.status).toBe(400);
    const unknown = await svc.admin().delete('/vault/keys/vk_nope');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'not_found']);
  });

  test('vendor credentials set through the API are stored encrypted and used for the next call', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['POST /v1/customers'] });
    const missing = await call(svc.url, '/stripe/v1/customers', { key: key.vault_key, form: 'email=a@example.com' });
    expect([missing.status, missing.body.error?.code]).toEqual([503, 'vendor_not_configured']);
    expect(missing.body.error?.message).toMatch(/no Stripe secret configured, so nothing was sent/);
    expect(String(missing.body.error?.message)).toMatch(/no Stripe secret configured/);

    const bad = await svc.admin().put('/vendors/stripe/credentials').send({ secret: fake.secret });
    expect([bad.status, bad.body.error.param, bad.body.error.message]).toEqual([400, 'secret', 'secret: Stripe takes secret_key, not secret']);
    const placeholder = await svc.admin().put('/vendors/stripe/credentials').send({ secret_key: 'sk_test_...' });
    expect([placeholder.status, placeholder.body.error.message]).toEqual([400, 'secret_key: "sk_test_..." is the README\'s placeholder, not a key: use one from https://dashboard.stripe.com/test/apikeys']);
    const empty = await svc.admin().put('/vendors/stripe/credentials').send({});
    expect([empty.status, empty.body.error.message]).toEqual([400, 'secret_key: is required']);
    const put = await svc.admin().put('/vendors/stripe/credentials').send({ secret_key: fake.secret });
    expect(put.status).toBe(200);
    expect(JSON.stringify(put.body)).not.toContain(fake.secret);
    const stored = JSON.stringify(await (await svc.db()).knex('vendor_credentials').select());
    expect(stored).toContain('v1.');
    expect(stored).not.toContain(fake.secret);
    const vendors = await svc.admin().get('/vendors');
    expect(vendors.body.data[0]).toMatchObject({ id: 'stripe', credentials: 'api' });

    const ok = await call(svc.url, '/stripe/v1/customers', { key: key.vault_key, form: 'email=a@example.com' });
    expect(ok.status).toBe(200);
    expect(fake.received[fake.received.length - 1]!.headers.authorization).toBe(`Bearer ${fake.secret}`);
  });

  test('metrics: Prometheus text a parser reads, every metric with its help, scraped with the scrape-only token or the admin key', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['GET /v1/customers/{id}'] });
    await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=1&currency=usd' });
    expect((await fetch(`${svc.url}/metrics`)).status).toBe(401);
    const scraped = await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${SCRAPE}` } });
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(await scraped.text()) as Family[];
    const byName = new Map(families.map((f) => [f.name, f]));
    for (const f of families) expect([f.name, f.help.length > 10]).toEqual([f.name, true]);
    expect(byName.get('keybrake_requests_total')?.metrics).toContainEqual({ labels: { vendor: 'stripe', decision: 'deny', code: 'endpoint_not_allowed' }, value: expect.stringMatching(/^[1-9]/) });
    const duration = byName.get('keybrake_request_duration_seconds');
    expect(duration?.type).toBe('HISTOGRAM');
    expect(Object.keys(duration?.metrics[0]?.buckets ?? {})).toEqual(expect.arrayContaining(['0.001', '0.01', '0.1', '1', '+Inf']));
    expect(Number(byName.get('keybrake_active_keys')?.metrics[0]?.value)).toBeGreaterThan(0);
    expect(byName.has('keybrake_process_resident_memory_bytes')).toBe(true);
    // The admin key reads it too; the scrape token opens nothing else.
    expect((await svc.admin().get('/metrics')).status).toBe(200);
    const other = await fetch(`${svc.url}/vault/keys`, { headers: { authorization: `Bearer ${SCRAPE}` } });
    expect(other.status).toBe(401);
  });

  test('healthz answers without the admin key', async () => {
    const res = await fetch(`${svc.url}/healthz`);
    expect(await res.json()).toEqual({ status: 'ok', store: storeName });
  });

  test('unknown routes get the one error body', async () => {
    const res = await svc.admin().get('/nope');
    expect([res.status, res.body.error.code]).toEqual([404, 'not_found']);
  });
});
