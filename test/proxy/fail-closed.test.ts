// Fail closed: no audit row, no forwarding; no store, no forwarding.
import type { FakeStripe } from '../helpers/fake-stripe';
import { call, useStripeService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

describeEachStore('fail closed', (storeName) => {
  const ctx = useStripeService(storeName);
  let fake: FakeStripe;
  let svc: TestService;
  beforeAll(() => ({ fake, svc } = ctx));

  test('when the audit row cannot be written, nothing is forwarded and nothing is spent', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/charges', 'GET /v1/charges/{id}'] });
    const knex = svc.running.db.knex;
    await knex.schema.renameTable('audit_log', 'audit_log_away');
    try {
      const before = fake.received.length;
      const paid = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=1000&currency=usd' });
      expect([paid.status, paid.body.error?.code]).toEqual([503, 'store_unavailable']);
      const read = await call(svc.url, '/stripe/v1/charges/ch_1', { key: key.vault_key });
      expect([read.status, read.body.error?.code]).toEqual([503, 'store_unavailable']);
      expect(fake.received.length).toBe(before);
    } finally {
      await knex.schema.renameTable('audit_log_away', 'audit_log');
    }
    // The reservation rolled back with the failed audit insert.
    const shown = await svc.admin().get(`/vault/keys/${key.id}`);
    expect(shown.body.spent_today_usd).toBe(0);
  });

  test('when the store is gone, the proxy refuses with 503 store_unavailable', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/charges'] });
    await svc.running.db.knex.destroy();
    const before = fake.received.length;
    const res = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=1000&currency=usd' });
    expect([res.status, res.body.error?.code]).toEqual([503, 'store_unavailable']);
    expect(res.headers.get('stripe-should-retry')).toBe('false');
    expect(fake.received.length).toBe(before);
    const health = await fetch(`${svc.url}/healthz`);
    expect(health.status).toBe(503);
  });
});
