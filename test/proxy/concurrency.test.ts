// 200 concurrent $1 charges against a $50 cap: exactly 50 reach the vendor, on each store, and with three
// service processes sharing one PostgreSQL.
import { startFakeStripe, type FakeStripe } from '../helpers/fake-stripe';
import { spawnService, type ServiceProcess } from '../helpers/process';
import { ADMIN_KEY, call, serviceEnv, useStripeService, type TestService } from '../helpers/service';
import { createTestStore, describeEachStore, PG_ENABLED, type TestStore } from '../helpers/stores';

const charges = (fake: FakeStripe): number => fake.received.filter((r) => r.method === 'POST' && r.path === '/v1/charges').length;

async function burst(urls: string[], vaultKey: string, n: number): Promise<number[]> {
  return Promise.all(
    // Distinct charges (an identical one inside the dedupe window would be refused as a duplicate).
    Array.from({ length: n }, (_, i) => call(urls[i % urls.length] as string, '/stripe/v1/charges', { key: vaultKey, form: `amount=100&currency=usd&source=tok_visa&description=order+${i}` }).then((r) => r.status)),
  );
}

describeEachStore('concurrent reservations', (storeName) => {
  const ctx = useStripeService(storeName);
  let fake: FakeStripe;
  let svc: TestService;
  beforeAll(() => ({ fake, svc } = ctx));

  test('200 concurrent $1 charges against a $50 cap: exactly 50 forwarded, $50.00 spent, 200 audit rows', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 50, allowed_endpoints: ['POST /v1/charges'], label: 'burst' });
    const statuses = await burst([svc.url], key.vault_key, 200);
    expect(statuses.filter((s) => s === 200).length).toBe(50);
    expect(statuses.filter((s) => s === 429).length).toBe(150);
    expect(charges(fake)).toBe(50);
    expect(fake.acceptedMinor()).toBe(5000);
    const shown = await svc.admin().get(`/vault/keys/${key.id}`);
    expect(shown.body.spent_today_usd).toBe(50);
    const rows = (await (await svc.db()).knex('audit_log').where({ key_id: key.id }).select('decision', 'code')) as { decision: string; code: string | null }[];
    expect(rows.length).toBe(200);
    expect(rows.filter((r) => r.decision === 'allow').length).toBe(50);
    expect(rows.filter((r) => r.code === 'daily_cap_exceeded').length).toBe(150);
  });
});

(PG_ENABLED ? describe : describe.skip)('three service processes sharing one PostgreSQL', () => {
  let fake: FakeStripe;
  let store: TestStore;
  let procs: ServiceProcess[] = [];
  beforeAll(async () => {
    fake = await startFakeStripe();
    store = await createTestStore('postgres');
    const env = serviceEnv(store, fake);
    // All three start at once: migrations must cope with racing instances.
    procs = await Promise.all([spawnService(env), spawnService(env), spawnService(env)]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await store.drop();
    await fake.close();
  });

  test('the cap holds across instances: exactly 50 of 200 forwarded, $50.00 spent, 200 audit rows', async () => {
    const issued = await fetch(`${procs[0]!.url}/vault/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ vendor: 'stripe', daily_usd_cap: 50, allowed_endpoints: ['POST /v1/charges'] }),
    });
    const key = (await issued.json()) as { id: string; vault_key: string };
    const statuses = await burst(procs.map((p) => p.url), key.vault_key, 200);
    expect(statuses.filter((s) => s === 200).length).toBe(50);
    expect(statuses.filter((s) => s === 429).length).toBe(150);
    expect(charges(fake)).toBe(50);
    for (const p of procs) {
      const shown = (await (await fetch(`${p.url}/vault/keys/${key.id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as { spent_today_usd: number };
      expect(shown.spent_today_usd).toBe(50);
    }
    const { Client } = await import('pg');
    const c = new Client({ connectionString: (store.target as { url: string }).url });
    await c.connect();
    const { rows } = await c.query<{ decision: string; n: string }>('SELECT decision, count(*) AS n FROM audit_log WHERE key_id = $1 GROUP BY decision ORDER BY decision', [key.id]);
    await c.end();
    expect(rows.map((r) => [r.decision, Number(r.n)])).toEqual([
      ['allow', 50],
      ['deny', 150],
    ]);
  });

  test('a rate limit is exact across instances', async () => {
    const issued = await fetch(`${procs[2]!.url}/vault/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ vendor: 'stripe', daily_usd_cap: 5, allowed_endpoints: ['GET /v1/customers/{id}'], rate_limit: { requests_per_minute: 10 } }),
    });
    const key = (await issued.json()) as { vault_key: string };
    // The limit counts per calendar minute: do not start the burst in the last seconds of one.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => call(procs[i % 3]!.url, '/stripe/v1/customers/cus_x', { key: key.vault_key }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 404).length).toBe(10);
    expect(statuses.filter((s) => s === 429).length).toBe(20);
  }, 90_000);

  test('a key revoked on one instance is refused by the others on the very next request', async () => {
    const issued = await fetch(`${procs[1]!.url}/vault/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ vendor: 'stripe', daily_usd_cap: 5, allowed_endpoints: ['GET /v1/customers/{id}'], label: 'conv-9' }),
    });
    const key = (await issued.json()) as { id: string; vault_key: string };
    for (const p of procs) expect((await call(p.url, '/stripe/v1/customers/cus_x', { key: key.vault_key })).status).toBe(404);
    const revoked = await fetch(`${procs[0]!.url}/vault/keys/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ label_prefix: 'conv-9' }),
    });
    expect(((await revoked.json()) as { ids: string[] }).ids).toEqual([key.id]);
    for (const p of procs) {
      const res = await call(p.url, '/stripe/v1/customers/cus_x', { key: key.vault_key });
      expect([res.status, res.body.error?.code]).toEqual([401, 'vault_key_revoked']);
    }
  });
});

(PG_ENABLED ? describe : describe.skip)('cluster mode: KEYBRAKE_WORKERS=2 on one port', () => {
  let fake: FakeStripe;
  let store: TestStore;
  let proc: ServiceProcess;
  beforeAll(async () => {
    fake = await startFakeStripe();
    store = await createTestStore('postgres');
    proc = await spawnService(serviceEnv(store, fake, { KEYBRAKE_WORKERS: '2' }), 2);
  }, 90_000);
  afterAll(async () => {
    await proc.stop();
    await store.drop();
    await fake.close();
  });

  test('two worker processes serve one port, and the cap holds across them', async () => {
    expect(new Set(proc.pids).size).toBe(2);
    expect(proc.pids).not.toContain(proc.child.pid);
    const issued = await fetch(`${proc.url}/vault/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['POST /v1/charges'] }),
    });
    const key = (await issued.json()) as { vault_key: string };
    const statuses = await burst([proc.url], key.vault_key, 100);
    expect(statuses.filter((s) => s === 200).length).toBe(30);
    expect(charges(fake)).toBe(30);
  });
});
