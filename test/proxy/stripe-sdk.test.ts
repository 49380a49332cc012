// The official stripe-node client, pointed at the proxy with a vault key as its API key (config from
// shared/docs/vendors.md §5: the SDK has no base-path option, so its HTTP client adds the /stripe prefix).
import Stripe from 'stripe';
import type { FakeStripe } from '../helpers/fake-stripe';
import { useStripeService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

function stripeThroughProxy(proxyUrl: string, vaultKey: string): Stripe {
  const url = new URL(proxyUrl);
  const inner = Stripe.createNodeHttpClient();
  const httpClient = Object.create(inner) as typeof inner;
  httpClient.makeRequest = (host, port, path, method, headers, body, protocol, timeout) =>
    inner.makeRequest(host, port, '/stripe' + path, method, headers, body, protocol, timeout);
  // Retries on: the proxy's denials must stop them, not this setting.
  return new Stripe(vaultKey, { host: url.hostname, port: Number(url.port), protocol: 'http', httpClient, maxNetworkRetries: 2, telemetry: false });
}

describeEachStore('official stripe client through the proxy', (storeName) => {
  const ctx = useStripeService(storeName);
  let fake: FakeStripe;
  let svc: TestService;
  beforeAll(() => ({ fake, svc } = ctx));

  test('creates a payment intent, then gets a readable, non-retried error when the cap is hit', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['POST /v1/payment_intents', 'GET /v1/payment_intents/{id}'], expires_in: '2h' });
    const stripe = stripeThroughProxy(svc.url, key.vault_key);

    const pi = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', metadata: { order: '42' }, expand: ['latest_charge'] });
    expect(pi.id).toMatch(/^pi_/);
    expect(pi.amount).toBe(2000);
    const sent = fake.received[fake.received.length - 1]!;
    expect(sent.body).toMatch(/^amount=2000&currency=usd&metadata\[order\]=42&metadata\[keybrake_audit_id\]=aud_[A-Za-z0-9]{20}&expand\[0\]=latest_charge$/);
    // The SDK's random key is replaced by one derived from the vault key and the request (duplicate protection).
    expect(sent.headers['idempotency-key']).toMatch(/^kb_[0-9a-f]{48}$/);
    expect(sent.headers['stripe-version']).toBeDefined();

    const again = await stripe.paymentIntents.retrieve(pi.id);
    expect(again.id).toBe(pi.id);

    const before = fake.received.length;
    const err = (await stripe.paymentIntents.create({ amount: 2000, currency: 'usd' }).catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(err.type).toBe('StripeRateLimitError');
    expect(err.code).toBe('daily_cap_exceeded');
    expect(err.statusCode).toBe(429);
    expect(err.message).toMatch(/Spending cap reached: this vault key may spend \$30\.00 per day, \$20\.00 has been spent today.*Retrying will not help/);
    expect(fake.received.length).toBe(before);
    const attempts = (await (await svc.db()).knex('audit_log').where({ key_id: key.id, code: 'daily_cap_exceeded' }).count({ n: '*' })) as { n: number | string }[];
    expect(Number(attempts[0]!.n)).toBe(1);
  });

  test('a revoked key surfaces as an authentication error', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['*'] });
    await svc.admin().delete(`/vault/keys/${key.id}`).expect(200);
    const err = (await stripeThroughProxy(svc.url, key.vault_key).customers.create({ email: 'a@example.com' }).catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(err.type).toBe('StripeAuthenticationError');
    expect(err.code).toBe('vault_key_revoked');
    expect(err.message).toMatch(/revoked/);
  });
});
