// The audit trail: what the vendor received and answered (after redaction) for allowed, refused and failed calls;
// GET /audit filters, cursors and exports; GET /usage; POST /audit/hash; retention.
import { purgeAudit } from '../../service/store/audit-query';
import type { FakeStripe } from '../helpers/fake-stripe';
import { call, useStripeService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

type Json = Record<string, unknown>;

describeEachStore('audit trail', (storeName) => {
  const ctx = useStripeService(storeName, { KEYBRAKE_AUDIT_REDACT_FIELDS: 'receipt_email, customer', KEYBRAKE_UPSTREAM_TIMEOUT_MS: '1000' });
  let fake: FakeStripe;
  let svc: TestService;
  beforeAll(() => ({ fake, svc } = ctx));
  const audit = async (query: Record<string, string | number>): Promise<{ data: Json[]; next_cursor: string | null }> => {
    const res = await svc.admin().get('/audit').query(query);
    expect(res.status).toBe(200);
    return res.body as { data: Json[]; next_cursor: string | null };
  };

  test('holds exactly what the vendor received and answered, redacted, for allowed, refused and failed calls', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['POST /v1/payment_intents'], label: 'conv-audit' });
    const form = 'amount=2000&currency=usd&receipt_email=ann%40example.com&customer=cus_9&card[number]=4242424242424242&card[cvc]=123&description=Order+7';
    const ok = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form, headers: { 'x-keybrake-run-id': 'run-77', 'x-keybrake-conversation-id': 'conv-77' } });
    expect(ok.status).toBe(200);
    const received = fake.received[fake.received.length - 1]!.body;
    const hash = async (value: string): Promise<string> => (await svc.admin().post('/audit/hash').send({ value })).body.hmac as string;
    const expected = received
      .replace('receipt_email=ann%40example.com', `receipt_email=${encodeURIComponent(await hash('ann@example.com'))}`)
      .replace('customer=cus_9', `customer=${encodeURIComponent(await hash('cus_9'))}`)
      .replace('card[number]=4242424242424242', 'card[number]=%5Bredacted%5D')
      .replace('card[cvc]=123', 'card[cvc]=%5Bredacted%5D');
    const refused = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=2000&currency=usd&description=again' });
    expect(refused.status).toBe(429);
    fake.override = () => 'hang';
    const failed = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=100&currency=usd' });
    fake.override = undefined;
    expect(failed.status).toBe(504);

    const { data } = await audit({ key_id: key.id });
    expect(data.map((r) => [r.decision, r.code, r.status])).toEqual([
      ['allow', 'upstream_timeout', 504],
      ['deny', 'daily_cap_exceeded', 429],
      ['allow', null, 200],
    ]);
    const allowed = data[2]!;
    expect(allowed.request_body).toBe(expected);
    expect(JSON.parse(String(allowed.response_body))).toMatchObject({ id: ok.body.id, amount: 2000, client_secret: '[redacted]' });
    expect(allowed).toMatchObject({ label: 'conv-audit', run_id: 'run-77', conversation_id: 'conv-77', object_id: ok.body.id, settled_usd: 20, estimated_usd: 20, method: 'POST', path: '/v1/payment_intents' });
    expect(data[1]!.request_body).toBe(`amount=2000&currency=usd&description=again&metadata[keybrake_audit_id]=${String(data[1]!.id)}`);
    expect(data[0]).toMatchObject({ reconcile: true, reconcile_state: 'pending', settled_usd: null, reserved_usd: 1, request_body: `amount=100&currency=usd&metadata[keybrake_audit_id]=${String(data[0]!.id)}` });
    const everything = JSON.stringify(await (await svc.db()).knex('audit_log').select());
    for (const secret of ['4242424242424242', 'ann@example.com', key.vault_key, fake.secret]) expect(everything).not.toContain(secret);
  });

  test('filters, pages with a cursor, and exports NDJSON and CSV', async () => {
    const a = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['*'], label: 'team-a/conv-1' });
    const b = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['GET /v1/customers/{id}'], label: 'team-b/conv-1' });
    for (let i = 0; i < 7; i++) await call(svc.url, '/stripe/v1/charges', { key: a.vault_key, form: `amount=100&currency=usd&description=n${i}`, headers: { 'x-keybrake-run-id': i < 3 ? 'run-a' : 'run-b' } });
    await call(svc.url, '/stripe/v1/charges', { key: b.vault_key, form: 'amount=100&currency=usd' });
    await call(svc.url, '/stripe/v1/customers/cus_1', { key: b.vault_key, headers: { 'x-keybrake-conversation-id': 'c-b' } });

    expect((await audit({ label_prefix: 'team-a/' })).data.length).toBe(7);
    expect((await audit({ label: 'team-b/conv-1' })).data.length).toBe(2);
    expect((await audit({ key_id: b.id, decision: 'deny' })).data.map((r) => r.code)).toEqual(['endpoint_not_allowed']);
    expect((await audit({ key_id: b.id, code: 'endpoint_not_allowed' })).data.length).toBe(1);
    expect((await audit({ run_id: 'run-a' })).data.length).toBe(3);
    expect((await audit({ conversation_id: 'c-b' })).data.map((r) => r.path)).toEqual(['/v1/customers/cus_1']);
    expect((await audit({ vendor: 'stripe', key_id: a.id, from: new Date(Date.now() + 60_000).toISOString() })).data).toEqual([]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await audit({ key_id: a.id, limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.data.map((r) => String(r.id)));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.length).toBe(7);
    expect(new Set(seen).size).toBe(7);

    const nd = await svc.admin().get('/audit').query({ label_prefix: 'team-', format: 'ndjson' });
    expect(nd.headers['content-type']).toMatch(/application\/x-ndjson/);
    const lines = nd.text.trim().split('\n').map((l) => JSON.parse(l) as Json);
    expect(lines.length).toBe(9);
    expect(lines.map((l) => l.time)).toEqual([...lines.map((l) => l.time)].sort());
    const csv = await svc.admin().get('/audit').query({ label_prefix: 'team-', format: 'csv' });
    const rows = csv.text.trim().split('\n');
    expect(rows[0]).toMatch(/^id,time,key_id,label,vendor,method,path,decision,code,/);
    expect(rows.length).toBe(10);

    const bad = await svc.admin().get('/audit').query({ decision: 'maybe' });
    expect([bad.status, bad.body.error.param]).toEqual([400, 'decision']);
    const badTime = await svc.admin().get('/audit').query({ from: 'yesterday' });
    expect([badTime.status, badTime.body.error.param]).toEqual([400, 'from']);
  });

  test('exports stream ranges larger than one batch', async () => {
    const now = Date.now();
    const rows = Array.from({ length: 2500 }, (_, i) => ({
      id: `aud_bulk${String(i).padStart(6, '0')}`, workspace_id: 'default', ts: now - 10_000 + i, key_id: 'vk_bulk', key_label: 'bulk', vendor: 'stripe',
      method: 'GET', path: '/v1/customers/cus_1', decision: 'allow', estimated_micros: 0, reserved_micros: 0, status: 200, reconcile: 0,
    }));
    for (let i = 0; i < rows.length; i += 250) await (await svc.db()).knex('audit_log').insert(rows.slice(i, i + 250));
    const nd = await svc.admin().get('/audit').query({ key_id: 'vk_bulk', format: 'ndjson' });
    const ids = nd.text.trim().split('\n').map((l) => (JSON.parse(l) as Json).id);
    expect(ids.length).toBe(2500);
    expect(new Set(ids).size).toBe(2500);
  });

  test('usage groups spend and requests by day, key, label, vendor and budget', async () => {
    const budget = (await svc.admin().post('/budgets').send({ daily_usd_cap: 100, label: 'u-usage' })).body as { id: string };
    const k1 = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/charges'], label: 'usage-1', budget: budget.id });
    const k2 = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['POST /v1/charges'], label: 'usage-2' });
    await call(svc.url, '/stripe/v1/charges', { key: k1.vault_key, form: 'amount=1500&currency=usd' });
    await call(svc.url, '/stripe/v1/charges', { key: k1.vault_key, form: 'amount=500&currency=usd' });
    await call(svc.url, '/stripe/v1/charges', { key: k2.vault_key, form: 'amount=100&currency=usd' });
    await call(svc.url, '/stripe/v1/charges', { key: k2.vault_key, form: 'amount=200&currency=usd' });
    const byKey = (await svc.admin().get('/usage').query({ group_by: 'key', label_prefix: 'usage-' })).body.data as Json[];
    expect(byKey).toEqual(
      expect.arrayContaining([
        { key_id: k1.id, spent_usd: 20, requests: 2, allowed: 2, denied: 0 },
        { key_id: k2.id, spent_usd: 1, requests: 2, allowed: 1, denied: 1 },
      ]),
    );
    const byDay = (await svc.admin().get('/usage').query({ group_by: 'day', label_prefix: 'usage-' })).body.data as Json[];
    expect(byDay).toEqual([{ day: new Date().toISOString().slice(0, 10), spent_usd: 21, requests: 4, allowed: 3, denied: 1 }]);
    const byBudget = (await svc.admin().get('/usage').query({ group_by: 'budget', label_prefix: 'usage-' })).body.data as Json[];
    expect(byBudget).toEqual(expect.arrayContaining([{ budget_id: budget.id, spent_usd: 20, requests: 2, allowed: 2, denied: 0 }]));
    const byVendor = (await svc.admin().get('/usage').query({ group_by: 'vendor', label_prefix: 'usage-' })).body.data as Json[];
    expect(byVendor).toEqual([{ vendor: 'stripe', spent_usd: 21, requests: 4, allowed: 3, denied: 1 }]);
    const byLabel = (await svc.admin().get('/usage').query({ group_by: 'label', label_prefix: 'usage-' })).body.data as Json[];
    expect(byLabel.map((r) => r.label)).toEqual(['usage-1', 'usage-2']);
  });

  test('retention purges old rows in small batches and keeps recent ones', async () => {
    const old = Date.now() - 100 * 86_400_000;
    await (await svc.db()).knex('audit_log').insert(
      Array.from({ length: 30 }, (_, i) => ({ id: `aud_old${i}`, workspace_id: 'default', ts: old + i, vendor: 'stripe', method: 'GET', path: '/x', decision: 'deny', estimated_micros: 0, reserved_micros: 0, reconcile: 0 })),
    );
    const before = Number(((await (await svc.db()).knex('audit_log').count({ n: '*' })) as { n: string }[])[0]!.n);
    expect(await purgeAudit(svc.running.db, Date.now() - 90 * 86_400_000, 20)).toBe(20);
    expect(await purgeAudit(svc.running.db, Date.now() - 90 * 86_400_000, 20)).toBe(10);
    expect(await purgeAudit(svc.running.db, Date.now() - 90 * 86_400_000, 20)).toBe(0);
    const after = Number(((await (await svc.db()).knex('audit_log').count({ n: '*' })) as { n: string }[])[0]!.n);
    expect(before - after).toBe(30);
  });
});
