// The proxy reads a vault key once and keeps it; a change made through any instance must still govern the very
// next request on every other instance (the store refuses reservations made under an outdated policy epoch).
import pino from 'pino';
import { loadConfig } from '../../service/config';
import { startServer, type Running } from '../../service/server';
import type { FakeStripe } from '../helpers/fake-stripe';
import { call, serviceEnv, useStripeService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

describeEachStore('cached keys', (storeName) => {
  const ctx = useStripeService(storeName);
  let fake: FakeStripe;
  let svc: TestService;
  let other: Running;
  beforeAll(async () => {
    ({ fake, svc } = ctx);
    // A second instance on the same database, with its own key cache.
    other = await startServer(loadConfig(serviceEnv(svc.store, fake)), { log: pino({ level: 'silent' }), announce: () => undefined });
  });
  afterAll(async () => {
    await other.close();
  });

  const charges = (): number => fake.received.filter((r) => r.path === '/v1/charges').length;
  const auditRows = async (keyId: string): Promise<{ decision: string; code: string | null }[]> =>
    (await other.settled(), await (await svc.db()).knex('audit_log').where({ key_id: keyId }).orderBy('ts').orderBy('id').select('decision', 'code')) as { decision: string; code: string | null }[];
  const charge = (url: string, key: string, n: number): ReturnType<typeof call> =>
    call(url, '/stripe/v1/charges', { key, form: `amount=100&currency=usd&source=tok_visa&description=cache+${n}` });

  test('a key revoked on one instance is refused by another that has it cached, before anything is forwarded', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 50, allowed_endpoints: ['POST /v1/charges'], label: 'cache-revoke' });
    expect((await charge(other.url, key.vault_key, 1)).status).toBe(200);
    expect((await charge(other.url, key.vault_key, 2)).status).toBe(200);
    const before = charges();
    expect((await svc.admin().delete(`/vault/keys/${key.id}`)).status).toBe(200);
    const res = await charge(other.url, key.vault_key, 3);
    expect([res.status, res.body.error?.code]).toEqual([401, 'vault_key_revoked']);
    expect(charges()).toBe(before);
    // One audit row per call, the refused one included: the stale attempt wrote nothing of its own.
    expect((await auditRows(key.id)).map((r) => [r.decision, r.code])).toEqual([
      ['allow', null],
      ['allow', null],
      ['deny', 'vault_key_revoked'],
    ]);
  });

  test('a cap lowered on one instance binds the next charge on another', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 50, allowed_endpoints: ['POST /v1/charges'], label: 'cache-cap' });
    expect((await charge(other.url, key.vault_key, 4)).status).toBe(200);
    expect((await svc.admin().patch(`/vault/keys/${key.id}`).send({ daily_usd_cap: 1.5 })).status).toBe(200);
    const res = await charge(other.url, key.vault_key, 5);
    expect([res.status, res.body.error?.code]).toEqual([429, 'daily_cap_exceeded']);
    expect((await auditRows(key.id)).map((r) => r.code)).toEqual([null, 'daily_cap_exceeded']);
  });

  test('an endpoint allowed on one instance is allowed by another that cached the narrower key', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 50, allowed_endpoints: ['POST /v1/charges'], label: 'cache-widen' });
    expect((await charge(other.url, key.vault_key, 6)).status).toBe(200);
    const refused = await call(other.url, '/stripe/v1/customers/cus_none', { key: key.vault_key });
    expect(refused.body.error?.code).toBe('endpoint_not_allowed');
    const patched = await svc.admin().patch(`/vault/keys/${key.id}`).send({ allowed_endpoints: ['POST /v1/charges', 'GET /v1/customers/{id}'] });
    expect(patched.status).toBe(200);
    const allowed = await call(other.url, '/stripe/v1/customers/cus_none', { key: key.vault_key });
    expect(allowed.status).toBe(404); // the fake vendor's answer: the call was forwarded
    expect((await auditRows(key.id)).map((r) => [r.decision, r.code])).toEqual([
      ['allow', null],
      ['deny', 'endpoint_not_allowed'],
      ['allow', null],
    ]);
  });

  test('a zero-cost read with a key narrowed elsewhere is refused on the next request', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 50, allowed_endpoints: ['GET /v1/customers/{id}'], label: 'cache-narrow' });
    expect((await call(other.url, '/stripe/v1/customers/cus_none', { key: key.vault_key })).status).toBe(404);
    expect((await svc.admin().patch(`/vault/keys/${key.id}`).send({ allowed_endpoints: ['POST /v1/charges'] })).status).toBe(200);
    const res = await call(other.url, '/stripe/v1/customers/cus_none', { key: key.vault_key });
    expect([res.status, res.body.error?.code]).toEqual([403, 'endpoint_not_allowed']);
  });
});
