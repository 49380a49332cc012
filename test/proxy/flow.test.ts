// The seed's flow end to end, on both stores, against a loopback fake Stripe.
import type { FakeStripe } from '../helpers/fake-stripe';
import { call, useStripeService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

interface AuditRow {
  id: string;
  key_id: string | null;
  decision: string;
  code: string | null;
  status: number | null;
  estimated_micros: number;
  settled_micros: number | null;
  reserved_micros: number;
  run_id: string | null;
  conversation_id: string | null;
  user_ref: string | null;
  object_id: string | null;
  request_body: string | null;
  response_body: string | null;
  reconcile: number;
}

describeEachStore('proxy flow', (storeName) => {
  let fake: FakeStripe;
  let svc: TestService;
  const audit = async (keyId: string): Promise<AuditRow[]> =>
    (await (await svc.db()).knex('audit_log').where({ key_id: keyId }).orderBy('ts', 'asc').orderBy('id', 'asc')) as AuditRow[];
  const spent = async (id: string): Promise<number> => {
    const res = await svc.admin().get(`/vault/keys/${id}`);
    return res.body.spent_today_usd as number;
  };

  const ctx = useStripeService(storeName, { KEYBRAKE_UPSTREAM_TIMEOUT_MS: '1500' });
  beforeAll(() => ({ fake, svc } = ctx));
  beforeEach(() => {
    fake.override = undefined;
  });

  test('the seed: a $200 cap, form and JSON charges, spend shown, then a 429 that says why and forwards nothing', async () => {
    const key = await svc.issueKey({
      vendor: 'stripe',
      daily_usd_cap: 200,
      allowed_endpoints: ['POST /v1/payment_intents', 'POST /v1/charges'],
      expires_in: '72h',
      label: 'conv-123',
    });
    expect(key.vault_key).toMatch(/^vault_key_[A-Za-z0-9]{32}$/);
    const before = fake.received.length;

    const first = await call(svc.url, '/stripe/v1/payment_intents', {
      key: key.vault_key,
      form: 'amount=12000&currency=usd&metadata[order]=42&expand[]=latest_charge',
      headers: { 'x-keybrake-run-id': 'run-1', 'x-keybrake-conversation-id': 'conv-123', 'x-keybrake-user': 'u-9', cookie: 'a=b' },
    });
    expect(first.status).toBe(200);
    expect(first.body.amount).toBe(12000);
    const sent = fake.received[fake.received.length - 1]!;
    expect(sent.headers.authorization).toBe(`Bearer ${fake.secret}`);
    // Exactly what was priced, plus the audit id in metadata (it changes no price; the reconciler finds the call by it).
    expect(sent.body).toBe(`amount=12000&currency=usd&metadata[order]=42&metadata[keybrake_audit_id]=${String(first.headers.get('x-keybrake-audit-id'))}&expand[0]=latest_charge`);
    expect(Object.keys(sent.headers).filter((h) => h.startsWith('x-keybrake') || h === 'cookie')).toEqual([]);
    expect(JSON.stringify(sent.headers)).not.toContain(key.vault_key);
    expect(first.headers.get('x-internal-secret-header')).toBeNull();
    expect(first.headers.get('request-id')).toMatch(/^req_/);

    const second = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, json: { amount: 5000, currency: 'usd', source: 'tok_visa' } });
    expect(second.status).toBe(200);
    const sent2 = fake.received[fake.received.length - 1]!;
    expect(sent2.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(sent2.body).toBe(`amount=5000&currency=usd&source=tok_visa&metadata[keybrake_audit_id]=${String(second.headers.get('x-keybrake-audit-id'))}`);

    const shown = await svc.admin().get(`/vault/keys/${key.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ spent_today_usd: 170, remaining_today_usd: 30, daily_usd_cap: 200, status: 'active', label: 'conv-123' });
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    expect(shown.body.resets_at).toBe(midnight.toISOString());

    const over = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=5000&currency=usd' });
    expect(over.status).toBe(429);
    expect(over.body.error).toMatchObject({ code: 'daily_cap_exceeded', cap_usd: 200, spent_usd: 170, estimated_usd: 50, resets_at: midnight.toISOString() });
    expect(String(over.body.error?.message)).toMatch(/\$200\.00 per day.*\$170\.00.*Retrying will not help/);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.headers.get('stripe-should-retry')).toBe('false');
    expect(over.headers.get('x-should-retry')).toBe('false');

    const exact = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=3000&currency=usd' });
    expect(exact.status).toBe(200);
    expect(await spent(key.id)).toBe(200);
    const oneMore = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=50&currency=usd' });
    expect(oneMore.status).toBe(429);
    expect(fake.received.length - before).toBe(3);

    const rows = await audit(key.id);
    expect(rows.map((r) => [r.decision, r.code, r.status])).toEqual([
      ['allow', null, 200],
      ['allow', null, 200],
      ['deny', 'daily_cap_exceeded', 429],
      ['allow', null, 200],
      ['deny', 'daily_cap_exceeded', 429],
    ]);
    expect(rows[0]).toMatchObject({ run_id: 'run-1', conversation_id: 'conv-123', user_ref: 'u-9', object_id: 'pi_1', settled_micros: 120_000_000 });
    expect(rows[0]!.request_body).toBe(`amount=12000&currency=usd&metadata[order]=42&metadata[keybrake_audit_id]=${rows[0]!.id}&expand[0]=latest_charge`);
    expect(rows[0]!.response_body).toContain('"client_secret":"[redacted]"');
    const everything = JSON.stringify(await (await svc.db()).knex('audit_log').select());
    expect(everything).not.toContain(key.vault_key);
    expect(everything).not.toContain(fake.secret);
  });

  test('an expired key is refused with 401 vault_key_expired', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['*'], expires_in: '30m' });
    await (await svc.db()).knex('vault_keys').where({ id: key.id }).update({ expires_at: Date.now() - 1000 });
    const before = fake.received.length;
    const res = await call(svc.url, '/stripe/v1/customers/cus_1', { key: key.vault_key });
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe('vault_key_expired');
    expect(fake.received.length).toBe(before);
    expect((await audit(key.id)).map((r) => r.code)).toEqual(['vault_key_expired']);
  });

  test('a revoked key is refused on the very next request', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['POST /v1/customers'] });
    expect((await call(svc.url, '/stripe/v1/customers', { key: key.vault_key, form: 'email=a@example.com' })).status).toBe(200);
    const del = await svc.admin().delete(`/vault/keys/${key.id}`);
    expect(del.status).toBe(200);
    expect(del.body.status).toBe('revoked');
    const before = fake.received.length;
    const res = await call(svc.url, '/stripe/v1/customers', { key: key.vault_key, form: 'email=a@example.com' });
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe('vault_key_revoked');
    expect(fake.received.length).toBe(before);
  });

  test('the vault key is accepted as Bearer, as Basic user or password, and raw after Basic (Dify\'s default prefix)', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['GET /v1/customers/{id}'] });
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    for (const authorization of [`Bearer ${key.vault_key}`, `Basic ${b64(`${key.vault_key}:`)}`, `Basic ${b64(`AC123:${key.vault_key}`)}`, `Basic ${key.vault_key}`]) {
      const res = await call(svc.url, '/stripe/v1/customers/cus_1', { headers: { authorization } });
      expect([authorization.slice(0, 6), res.status]).toEqual([authorization.slice(0, 6), 404]);
      expect(fake.received[fake.received.length - 1]!.headers.authorization).toBe(`Bearer ${fake.secret}`);
    }
    const wrong = await call(svc.url, '/stripe/v1/customers/cus_1', { headers: { authorization: `Basic ${b64('AC123:not-a-vault-key')}` } });
    expect([wrong.status, wrong.body.error?.code]).toEqual([401, 'vault_key_invalid']);
  });

  test('unknown and missing keys are refused without reaching the vendor', async () => {
    const before = fake.received.length;
    const none = await call(svc.url, '/stripe/v1/customers');
    expect([none.status, none.body.error?.code]).toEqual([401, 'vault_key_missing']);
    const unknown = await call(svc.url, '/stripe/v1/customers', { key: 'vault_key_' + 'A'.repeat(32) });
    expect([unknown.status, unknown.body.error?.code]).toEqual([401, 'vault_key_invalid']);
    const realKey = await call(svc.url, '/stripe/v1/customers', { key: fake.secret });
    expect([realKey.status, realKey.body.error?.code]).toEqual([401, 'vault_key_invalid']);
    expect(JSON.stringify(realKey.body)).not.toContain(fake.secret);
    expect(fake.received.length).toBe(before);
  });

  test('an endpoint outside the allowlist is refused with 403 and leaves an audit row', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['GET /v1/payment_intents/{id}'] });
    const before = fake.received.length;
    const res = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=100&currency=usd' });
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe('endpoint_not_allowed');
    expect(String(res.body.error?.message)).toContain('GET /v1/payment_intents/{id}');
    expect(fake.received.length).toBe(before);
    expect((await audit(key.id)).map((r) => [r.decision, r.code])).toEqual([['deny', 'endpoint_not_allowed']]);
    const read = await call(svc.url, '/stripe/v1/payment_intents/pi_nope', { key: key.vault_key });
    expect(read.status).toBe(404);
  });

  test('an unparseable body is a 400 naming the problem, with no spend and an audit row', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['POST /v1/charges'] });
    const before = fake.received.length;
    const res = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, raw: '{"amount": 100, "currency": ' });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe('bad_request');
    expect(String(res.body.error?.message)).toMatch(/invalid JSON at position \d+/);
    expect(fake.received.length).toBe(before);
    expect(await spent(key.id)).toBe(0);
    const rows = await audit(key.id);
    expect(rows.map((r) => [r.code, r.status])).toEqual([['bad_request', 400]]);
    expect(rows[0]!.request_body).toBe('{"amount": 100, "currency": ');
  });

  test('bypass attempts are refused before anything is forwarded or spent', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 5, allowed_endpoints: ['POST /v1/payment_intents', 'GET /v1/payment_intents/{id}'] });
    const wide = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 5, allowed_endpoints: ['*'] });
    const before = fake.received.length;
    const attempts: [string, Parameters<typeof call>[2], number, string, RegExp][] = [
      ['/stripe/v1/payment_intents', { form: 'amount=1&amount=100000&currency=usd' }, 400, 'bad_request', /duplicate parameter amount/],
      ['/stripe/v1/payment_intents', { form: 'amount[]=1&amount=100000&currency=usd' }, 400, 'bad_request', /conflicts/],
      ['/stripe/v1/payment_intents', { raw: '{"amount":1,"currency":"usd","amount":100000}' }, 400, 'bad_request', /duplicate key "amount"/],
      ['/stripe/v1/payment_intents', { raw: '{"amount":100000000000000000000,"currency":"usd"}' }, 400, 'bad_request', /too large to be exact/],
      ['/stripe/v1/payment_intents', { raw: '{"amount":1e400,"currency":"usd"}' }, 400, 'bad_request', /out of range/],
      ['/stripe/v1/%2e%2e/v1/payment_intents', { form: 'amount=100000&currency=usd' }, 400, 'bad_request', /"\." or "\.\." segment/],
      ['/stripe/v1/payment_intents/..%2fcharges', { form: 'amount=100000&currency=usd' }, 400, 'bad_request', /encoded "\/"/],
      ['/stripe//v1/payment_intents', { form: 'amount=100000&currency=usd' }, 400, 'bad_request', /empty segment/],
      ['/stripe/v1/payment_intents;x=1', { form: 'amount=100000&currency=usd' }, 400, 'bad_request', /";"/],
      ['/stripe/v1/payment_intents?amount=100000', { form: 'amount=1&currency=usd' }, 400, 'bad_request', /query parameters are not accepted on POST/],
      ['/stripe/V1/PAYMENT_INTENTS', { form: 'amount=100000&currency=usd' }, 403, 'endpoint_not_allowed', /not in this key's allowed endpoints/],
      ['/stripe/v1/payment_intents', { form: 'amount=100000&currency=usd', headers: { 'x-http-method-override': 'GET' } }, 400, 'bad_request', /x-http-method-override is not accepted/],
      ['/stripe/v1/payment_intents/pi_1', { method: 'GET', headers: { 'x-http-method-override': 'POST' } }, 400, 'bad_request', /x-http-method-override/],
      ['/stripe/v1/payment_intents', { form: 'amount=%31%30%30%30%30%30&currency=usd' }, 429, 'daily_cap_exceeded', /Spending cap reached/],
    ];
    for (const [path, opts, status, code, message] of attempts) {
      const res = await call(svc.url, path, { key: key.vault_key, ...opts });
      expect([path, res.status, res.body.error?.code]).toEqual([path, status, code]);
      expect(String(res.body.error?.message)).toMatch(message);
    }
    const caseTrick = await call(svc.url, '/stripe/V1/PAYMENT_INTENTS', { key: wide.vault_key, form: 'amount=100000&currency=usd' });
    expect([caseTrick.status, caseTrick.body.error?.code]).toEqual([400, 'bad_request']);
    expect(String(caseTrick.body.error?.message)).toMatch(/differs in case/);
    expect(fake.received.length).toBe(before);
    expect(await spent(key.id)).toBe(0);
    expect((await audit(key.id)).length).toBe(attempts.length);
  });

  test('money-moving calls that cannot be priced are refused with cost_unknown', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1000, allowed_endpoints: ['*'] });
    const before = fake.received.length;
    for (const [path, form] of [
      ['/stripe/v1/payment_intents', 'amount=100&currency=xyz'],
      ['/stripe/v1/payment_intents', 'currency=usd'],
      ['/stripe/v1/charges', 'amount=12.5&currency=usd'],
      ['/stripe/v1/subscriptions', 'customer=cus_1&items[0][price]=price_1'],
      ['/stripe/v1/payment_links', 'line_items[0][price]=price_1&line_items[0][quantity]=1'],
      ['/stripe/v1/refunds', 'amount=100'],
      ['/stripe/v2/money_management/outbound_payments', 'amount=1'],
    ] as const) {
      const res = await call(svc.url, path, { key: key.vault_key, form });
      expect([path, form, res.status, res.body.error?.code]).toEqual([path, form, 403, 'cost_unknown']);
    }
    expect(fake.received.length).toBe(before);
  });

  test('prices zero- and three-decimal currencies through the FX table', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1000, allowed_endpoints: ['POST /v1/payment_intents'] });
    expect((await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=10000&currency=jpy' })).status).toBe(200);
    // ¥10,000 at 0.0069 → $69.00 settled (the 2% margin applies only to the estimate).
    expect(await spent(key.id)).toBe(69);
    expect((await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=10000&currency=kwd' })).status).toBe(200);
    // 10.000 KWD at 3.27 → $32.70.
    expect(await spent(key.id)).toBeCloseTo(101.7, 6);
  });

  test('reads cost nothing and still work when the cap is spent', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['POST /v1/payment_intents', 'GET /v1/payment_intents/{id}'] });
    const pi = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=100&currency=usd' });
    expect(pi.status).toBe(200);
    const read = await call(svc.url, `/stripe/v1/payment_intents/${String(pi.body.id)}?expand[]=latest_charge`, { key: key.vault_key });
    expect(read.status).toBe(200);
    expect(fake.received[fake.received.length - 1]!.path).toBe(`/v1/payment_intents/${String(pi.body.id)}`);
    expect(await spent(key.id)).toBe(1);
  });

  test('a 4xx from the vendor releases the reservation; a 5xx keeps it and marks the row for reconciliation', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/charges'] });
    const declined = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=2000&currency=usd&source=tok_chargeDeclined' });
    expect(declined.status).toBe(402);
    expect(await spent(key.id)).toBe(0);
    fake.override = () => ({ status: 500, body: { error: { type: 'api_error', message: 'boom' } } });
    const failed = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=3000&currency=usd' });
    expect(failed.status).toBe(500);
    expect(await spent(key.id)).toBe(30);
    const rows = await audit(key.id);
    expect(rows.map((r) => [r.status, r.reserved_micros, r.settled_micros, r.reconcile])).toEqual([
      [402, 20_000_000, 0, 0],
      [500, 30_000_000, null, 1],
    ]);
  });

  test('an upstream timeout is a 504 that keeps the reservation', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/charges'] });
    fake.override = () => 'hang';
    const res = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=1000&currency=usd' });
    expect(res.status).toBe(504);
    expect(res.body.error?.code).toBe('upstream_timeout');
    expect(await spent(key.id)).toBe(10);
    const [row] = await audit(key.id);
    expect(row).toMatchObject({ code: 'upstream_timeout', status: 504, reconcile: 1 });
  });

  test('a connection reset mid-call is a 502 that keeps the reservation', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/charges'] });
    fake.override = () => 'reset';
    const res = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=1000&currency=usd' });
    expect(res.status).toBe(502);
    expect(res.body.error?.code).toBe('upstream_unreachable');
    expect(await spent(key.id)).toBe(10);
  });

  test('redirects are passed back, never followed', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['GET /v1/customers/{id}'] });
    fake.override = () => ({ status: 302, body: {}, headers: { location: 'http://169.254.169.254/latest/meta-data' } });
    const before = fake.received.length;
    const res = await call(svc.url, '/stripe/v1/customers/cus_1', { key: key.vault_key });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBeNull();
    expect(fake.received.length).toBe(before + 1);
  });

  test('Stripe-Account is refused unless the key names that account', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/charges'], stripe_accounts: ['acct_123'] });
    const before = fake.received.length;
    const other = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=100&currency=usd', headers: { 'stripe-account': 'acct_999' } });
    expect([other.status, other.body.error?.code]).toEqual([403, 'parameter_not_allowed']);
    expect(fake.received.length).toBe(before);
    const own = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=100&currency=usd', headers: { 'stripe-account': 'acct_123' } });
    expect(own.status).toBe(200);
    expect(fake.received[fake.received.length - 1]!.headers['stripe-account']).toBe('acct_123');
  });

  test('a body over the limit is refused with 413', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/customers'] });
    const res = await call(svc.url, '/stripe/v1/customers', { key: key.vault_key, form: 'description=' + 'x'.repeat(1_100_000) });
    expect([res.status, res.body.error?.code]).toEqual([413, 'body_too_large']);
  });
});
