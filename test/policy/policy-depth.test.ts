// Per-call caps, parameter rules, rate limits, shared budgets, time zones, lifetime caps and policy updates,
// through the running service on both stores.
import type { FakeStripe } from '../helpers/fake-stripe';
import { call, useStripeService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

const forwarded = (fake: FakeStripe): number => fake.received.length;

describeEachStore('policy depth', (storeName) => {
  let fake: FakeStripe;
  let svc: TestService;
  let now = Date.UTC(2026, 2, 8, 4, 30); // 2026-03-07 23:30 in New York, hours before the spring-forward change
  const count = async (table: string): Promise<number> => Number(((await (await svc.db()).knex(table).count({ n: '*' })) as { n: number | string }[])[0]!.n);

  const ctx = useStripeService(storeName, {}, () => now);
  beforeAll(() => ({ fake, svc } = ctx));
  beforeEach(() => {
    now = Date.UTC(2026, 2, 8, 4, 30);
  });

  test('max_usd_per_call refuses one large call whatever the daily room', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10_000, max_usd_per_call: 100, allowed_endpoints: ['POST /v1/charges'] });
    const before = forwarded(fake);
    const big = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, json: { amount: 1_000_000, currency: 'usd' } });
    expect([big.status, big.body.error?.code]).toEqual([429, 'per_call_cap_exceeded']);
    expect(big.body.error).toMatchObject({ max_usd_per_call: 100, estimated_usd: 10_000, cap_usd: 10_000 });
    expect(String(big.body.error?.message)).toMatch(/more than this vault key's limit of \$100\.00 per call\. Retrying will not help/);
    expect(Number(big.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(forwarded(fake)).toBe(before);
    const small = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, json: { amount: 10_000, currency: 'usd' } });
    expect(small.status).toBe(200);
  });

  test('parameter rules refuse a call naming the field and the rule, on the canonical body', async () => {
    const key = await svc.issueKey({
      vendor: 'stripe',
      daily_usd_cap: 1000,
      allowed_endpoints: ['POST /v1/payment_intents'],
      params: {
        'POST /v1/payment_intents': {
          currency: { in: ['usd'] },
          amount: { max: 5000, min: 50 },
          customer: { eq: 'cus_123' },
          transfer_data: { forbidden: true },
          'metadata.channel': { in: ['chat', 'email'] },
        },
      },
    });
    const ok = { amount: '2000', currency: 'usd', customer: 'cus_123', 'metadata[channel]': 'chat' };
    const form = (o: Record<string, string>): string => new URLSearchParams(o).toString();
    const before = forwarded(fake);
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...ok, currency: 'eur' }, /currency must be one of \[usd\], not eur/],
      [{ ...ok, amount: '5001' }, /amount must be at most 5000, not 5001/],
      [{ ...ok, amount: '10' }, /amount must be at least 50, not 10/],
      [{ ...ok, customer: 'cus_999' }, /customer must equal cus_123, not cus_999/],
      [{ amount: '2000', currency: 'usd', 'metadata[channel]': 'chat' }, /customer is required and must equal cus_123/],
      [{ ...ok, 'transfer_data[destination]': 'acct_1' }, /transfer_data is forbidden/],
      [{ ...ok, 'metadata[channel]': 'sms' }, /metadata\.channel must be one of \[chat, email\], not sms/],
    ];
    for (const [body, message] of cases) {
      const res = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: form(body) });
      expect([res.status, res.body.error?.code]).toEqual([403, 'parameter_not_allowed']);
      expect(String(res.body.error?.message)).toMatch(message);
      expect(String(res.body.error?.message)).toContain('rule for POST /v1/payment_intents');
    }
    const json = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, json: { amount: 2000, currency: 'usd', customer: 'cus_123', metadata: { channel: 'chat' }, transfer_data: { destination: 'acct_1' } } });
    expect([json.status, json.body.error?.code]).toEqual([403, 'parameter_not_allowed']);
    expect(forwarded(fake)).toBe(before);
    expect((await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: form(ok) })).status).toBe(200);
  });

  test('rate_limit.requests_per_minute is exact under concurrency and says when to come back', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['GET /v1/customers/{id}'], rate_limit: { requests_per_minute: 5 } });
    now = Date.UTC(2026, 2, 8, 4, 30, 20);
    const statuses = await Promise.all(Array.from({ length: 20 }, () => call(svc.url, '/stripe/v1/customers/cus_1', { key: key.vault_key }).then((r) => r)));
    expect(statuses.filter((r) => r.status === 404).length).toBe(5);
    const limited = statuses.filter((r) => r.status === 429);
    expect(limited.length).toBe(15);
    expect(limited[0]!.body.error).toMatchObject({ code: 'rate_limited', requests_per_minute: 5, retry_after_seconds: 40 });
    expect(limited[0]!.headers.get('retry-after')).toBe('40');
    now = Date.UTC(2026, 2, 8, 4, 31, 0);
    expect((await call(svc.url, '/stripe/v1/customers/cus_1', { key: key.vault_key })).status).toBe(404);
  });

  test('keys drawing on one shared budget never overspend it together, and the budget shows spend by key', async () => {
    const created = await svc.admin().post('/budgets').send({ daily_usd_cap: 50, label: 'user-7', timezone: 'Europe/Berlin' });
    expect(created.status).toBe(201);
    const budget = created.body as { id: string };
    const keys = await Promise.all([1, 2, 3].map((i) => svc.issueKey({ vendor: 'stripe', daily_usd_cap: 40, budget: budget.id, allowed_endpoints: ['POST /v1/charges'], label: `user-7/conv-${i}` })));
    const before = fake.acceptedMinor();
    const results = await Promise.all(Array.from({ length: 90 }, (_, i) => call(svc.url, '/stripe/v1/charges', { key: keys[i % 3]!.vault_key, form: `amount=100&currency=usd&description=order+${i}` })));
    expect(results.filter((r) => r.status === 200).length).toBe(50);
    const refusal = results.find((r) => r.status === 429)!;
    expect(refusal.body.error).toMatchObject({ code: 'daily_cap_exceeded', budget_id: budget.id, cap_usd: 50 });
    expect(String(refusal.body.error?.message)).toContain('the shared budget "user-7"');
    expect(fake.acceptedMinor() - before).toBe(5000);
    const shown = await svc.admin().get(`/budgets/${budget.id}`);
    expect(shown.body).toMatchObject({ spent_today_usd: 50, remaining_today_usd: 0, timezone: 'Europe/Berlin', window: '2026-03-08', resets_at: '2026-03-08T23:00:00.000Z' });
    const byKey = shown.body.spend_by_key as { key_id: string; spent_usd: number; requests: number }[];
    expect(byKey.map((k) => k.key_id).sort()).toEqual(keys.map((k) => k.id).sort());
    expect(byKey.reduce((s, k) => s + k.spent_usd, 0)).toBe(50);
    expect(byKey.reduce((s, k) => s + k.requests, 0)).toBe(50);
    for (const k of keys) {
      const own = byKey.find((b) => b.key_id === k.id)!;
      expect((await svc.admin().get(`/vault/keys/${k.id}`)).body.spent_today_usd).toBe(own.spent_usd);
    }
  });

  test('a key in America/New_York spends from its local day, across the spring-forward change', async () => {
    const ny = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 50, timezone: 'America/New_York', allowed_endpoints: ['POST /v1/charges'] });
    const utc = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 50, allowed_endpoints: ['POST /v1/charges'] });
    // 2026-03-08T04:30Z is 23:30 on 7 March in New York and already 8 March in UTC.
    for (const k of [ny, utc]) expect((await call(svc.url, '/stripe/v1/charges', { key: k.vault_key, form: 'amount=4000&currency=usd' })).status).toBe(200);
    const before = await svc.admin().get(`/vault/keys/${ny.id}`);
    expect(before.body).toMatchObject({ window: '2026-03-07', spent_today_usd: 40, timezone: 'America/New_York', resets_at: '2026-03-08T05:00:00.000Z' });
    now = Date.UTC(2026, 2, 8, 5, 0); // New York midnight: a new window for the New York key only
    expect((await call(svc.url, '/stripe/v1/charges', { key: ny.vault_key, form: 'amount=4000&currency=usd' })).status).toBe(200);
    expect((await call(svc.url, '/stripe/v1/charges', { key: utc.vault_key, form: 'amount=4000&currency=usd' })).status).toBe(429);
    const after = await svc.admin().get(`/vault/keys/${ny.id}`);
    // 8 March in New York lasts 23 hours: it ends at 04:00Z, not 05:00Z.
    expect(after.body).toMatchObject({ window: '2026-03-08', spent_today_usd: 40, resets_at: '2026-03-09T04:00:00.000Z' });
  });

  test('total_usd_cap is a lifetime cap beside the daily one', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, total_usd_cap: 30, allowed_endpoints: ['POST /v1/charges'] });
    expect((await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=2000&currency=usd' })).status).toBe(200);
    now += 24 * 3_600_000;
    const over = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=2000&currency=usd' });
    expect([over.status, over.body.error?.code]).toEqual([429, 'total_cap_exceeded']);
    expect(String(over.body.error?.message)).toMatch(/\$30\.00 in its lifetime, \$20\.00 has been spent so far.*does not reset/);
    expect((await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=1000&currency=usd' })).status).toBe(200);
    const shown = await svc.admin().get(`/vault/keys/${key.id}`);
    expect(shown.body).toMatchObject({ spent_today_usd: 10, spent_total_usd: 30, remaining_total_usd: 0 });
  });

  test("PATCH changes a key's policy for the very next request, without reissuing it", async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['POST /v1/charges'], params: { 'POST /v1/charges': { currency: { eq: 'usd' } } } });
    expect((await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=2000&currency=usd' })).status).toBe(429);
    const patched = await svc.admin().patch(`/vault/keys/${key.id}`).send({ daily_usd_cap: 50, params: null, max_usd_per_call: 25, label: 'raised' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ daily_usd_cap: 50, max_usd_per_call: 25, label: 'raised' });
    expect(patched.body.params).toBeUndefined();
    expect((await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=2000&currency=eur' })).status).toBe(200);
    expect((await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=3000&currency=usd' })).body.error?.code).toBe('per_call_cap_exceeded');
    await svc.admin().patch(`/vault/keys/${key.id}`).send({ allowed_endpoints: ['GET /v1/charges/{id}'] }).expect(200);
    expect((await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=100&currency=usd' })).body.error?.code).toBe('endpoint_not_allowed');
  });

  test.each([
    [{ params: { 'POST /v1/charges': { amount: { maximum: 5 } } } }, 'params.POST /v1/charges.amount.maximum', /unknown field/],
    [{ params: { 'POST /v1/charges': { currency: { max: 5 } } } }, 'params.POST /v1/charges.currency.max', /max applies to numbers, and Stripe's currency is a string/],
    [{ params: { 'POST /v1/charges': { amount: { max: '5000' } } } }, 'params.POST /v1/charges.amount.max', /must be a number/],
    [{ params: { 'POST /v1/charges': { amount: {} } } }, 'params.POST /v1/charges.amount', /give a rule/],
    [{ params: { 'POST /v1/charges': { amount: { min: 10, max: 5 } } } }, 'params.POST /v1/charges.amount.min', /not be greater than max/],
    [{ params: { 'SEND /v1/charges': { amount: { max: 5 } } } }, 'params.SEND /v1/charges', /unknown method SEND/],
    [{ params: { 'POST /v1/charges': { transfer_data: { forbidden: false } } } }, 'params.POST /v1/charges.transfer_data.forbidden', /must be true/],
    [{ timezone: 'Mars/Olympus_Mons' }, 'timezone', /IANA time zone/],
    [{ max_usd_per_call: -1 }, 'max_usd_per_call', /greater than 0/],
    [{ total_usd_cap: 0 }, 'total_usd_cap', /greater than 0/],
    [{ daily_usd_cap: -50 }, 'daily_usd_cap', /greater than 0/],
    [{ rate_limit: { requests_per_minute: 0 } }, 'rate_limit.requests_per_minute', /at least 1/],
    [{ rate_limit: { per_hour: 5 } }, 'rate_limit.per_hour', /unknown field/],
    [{ budget: 'bud_doesnotexist' }, 'budget', /no budget bud_doesnotexist/],
  ])('bad policy input is a 400 naming the field, and creates nothing: %j', async (extra, param, message) => {
    const before = await count('vault_keys');
    const res = await svc.admin().post('/vault/keys').send({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['POST /v1/charges'], ...extra });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe(param);
    expect(res.body.error.message).toMatch(message);
    expect(await count('vault_keys')).toBe(before);
  });

  test('bad budgets and bad patches are refused and change nothing', async () => {
    const before = await count('budgets');
    for (const [body, param] of [
      [{ daily_usd_cap: -1 }, 'daily_usd_cap'],
      [{ daily_usd_cap: 5, timezone: 'Nowhere/City' }, 'timezone'],
      [{ daily_usd_cap: 5, owner: 'x' }, 'owner'],
    ] as const) {
      const res = await svc.admin().post('/budgets').send(body);
      expect([res.status, res.body.error.param]).toEqual([400, param]);
    }
    expect(await count('budgets')).toBe(before);
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['*'] });
    const bad = await svc.admin().patch(`/vault/keys/${key.id}`).send({ daily_usd_cap: 20, timezone: 'Nowhere/City' });
    expect([bad.status, bad.body.error.param]).toEqual([400, 'timezone']);
    expect((await svc.admin().get(`/vault/keys/${key.id}`)).body.daily_usd_cap).toBe(10);
    const vendorChange = await svc.admin().patch(`/vault/keys/${key.id}`).send({ vendor: 'twilio' });
    expect([vendorChange.status, vendorChange.body.error.param]).toEqual([400, 'vendor']);
  });
});
