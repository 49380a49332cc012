// Every Stripe call that moves money is priced before it is forwarded: from the request, or from the object it
// acts on (looked up with the real key); create-then-confirm counts once; duplicates are not charged twice.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Stripe from 'stripe';
import type { FakeStripe } from '../helpers/fake-stripe';
import { call, startTestService, useStripeService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

interface Row {
  path: string;
  decision: string;
  code: string | null;
  status: number;
  estimated_micros: number;
  settled_micros: number | null;
}

describeEachStore('Stripe money movement', (storeName) => {
  const ctx = useStripeService(storeName);
  let fake: FakeStripe;
  let svc: TestService;
  beforeAll(() => ({ fake, svc } = ctx));

  const issue = (cap = 1000, extra: Record<string, unknown> = {}) => svc.issueKey({ vendor: 'stripe', daily_usd_cap: cap, allowed_endpoints: ['*'], ...extra });
  const spent = async (id: string): Promise<number> => (await svc.admin().get(`/vault/keys/${id}`)).body.spent_today_usd as number;
  const rows = async (id: string): Promise<Row[]> => (await (await svc.db()).knex('audit_log').where({ key_id: id }).orderBy('ts').orderBy('id')) as Row[];

  test('a payment intent created and then confirmed through Keybrake is counted once', async () => {
    const key = await issue();
    const pi = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=3000&currency=usd' });
    expect(pi.status).toBe(200);
    const confirmed = await call(svc.url, `/stripe/v1/payment_intents/${String(pi.body.id)}/confirm`, { key: key.vault_key, form: 'payment_method=pm_card_visa' });
    expect([confirmed.status, confirmed.body.status]).toEqual([200, 'succeeded']);
    expect(await spent(key.id)).toBe(30);
    expect((await rows(key.id)).map((r) => [r.estimated_micros, r.settled_micros])).toEqual([
      [30_000_000, 30_000_000],
      [0, 0],
    ]);
  });

  test('confirm and capture of payment intents made elsewhere are priced from the intent', async () => {
    const key = await issue();
    fake.seed({ id: 'pi_ext1', object: 'payment_intent', amount: 4000, currency: 'usd', status: 'requires_confirmation' });
    fake.seed({ id: 'pi_ext2', object: 'payment_intent', amount: 5000, amount_capturable: 5000, currency: 'usd', status: 'requires_capture' });
    expect((await call(svc.url, '/stripe/v1/payment_intents/pi_ext1/confirm', { key: key.vault_key, form: 'payment_method=pm_card_visa' })).status).toBe(200);
    expect(await spent(key.id)).toBe(40);
    // Confirming again moves nothing more: the intent is already counted.
    expect((await call(svc.url, '/stripe/v1/payment_intents/pi_ext1/confirm', { key: key.vault_key, form: 'payment_method=pm_card_visa' })).status).toBe(200);
    expect(await spent(key.id)).toBe(40);
    expect((await call(svc.url, '/stripe/v1/payment_intents/pi_ext2/capture', { key: key.vault_key, form: 'amount_to_capture=2000' })).status).toBe(200);
    expect(await spent(key.id)).toBe(60);
    const missing = await call(svc.url, '/stripe/v1/payment_intents/pi_nope/confirm', { key: key.vault_key, form: 'payment_method=pm_card_visa' });
    expect([missing.status, missing.body.error?.code]).toEqual([403, 'cost_unknown']);
    expect(String(missing.body.error?.message)).toMatch(/looking up \/v1\/payment_intents\/pi_nope with the real key answered 404/);
  });

  test('refunds are priced by their amount, or in full from the charge', async () => {
    const key = await issue();
    const charge = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=5000&currency=usd&source=tok_visa' });
    expect(await spent(key.id)).toBe(50);
    expect((await call(svc.url, '/stripe/v1/refunds', { key: key.vault_key, form: `charge=${String(charge.body.id)}&amount=1000` })).status).toBe(200);
    expect(await spent(key.id)).toBe(60);
    expect((await call(svc.url, '/stripe/v1/refunds', { key: key.vault_key, form: `charge=${String(charge.body.id)}` })).status).toBe(200);
    expect(await spent(key.id)).toBe(100);
    const nothing = await call(svc.url, '/stripe/v1/refunds', { key: key.vault_key, form: 'reason=requested_by_customer' });
    expect([nothing.status, String(nothing.body.error?.message)]).toEqual([403, expect.stringContaining('a refund names a charge or a payment_intent')]);
  });

  test('transfers, payouts, invoice payments and checkout sessions are priced before they are forwarded', async () => {
    const key = await issue(400);
    fake.seed({ id: 'in_1', object: 'invoice', amount_remaining: 7500, currency: 'usd' });
    fake.seed({ id: 'price_1', object: 'price', unit_amount: 500, currency: 'usd' });
    fake.seed({ id: 'price_tiered', object: 'price', unit_amount: null, currency: 'usd' });
    expect((await call(svc.url, '/stripe/v1/transfers', { key: key.vault_key, form: 'amount=1000&currency=usd&destination=acct_1' })).status).toBe(200);
    expect((await call(svc.url, '/stripe/v1/payouts', { key: key.vault_key, form: 'amount=2000&currency=usd' })).status).toBe(200);
    expect((await call(svc.url, '/stripe/v1/invoices/in_1/pay', { key: key.vault_key, form: '' })).status).toBe(200);
    const checkout = await call(svc.url, '/stripe/v1/checkout/sessions', {
      key: key.vault_key,
      form: 'mode=payment&success_url=https%3A%2F%2Fx&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1500&line_items[0][price_data][product_data][name]=T&line_items[0][quantity]=2&line_items[1][price]=price_1&line_items[1][quantity]=3',
    });
    expect([checkout.status, checkout.body.amount_total]).toEqual([200, 4500]);
    expect(await spent(key.id)).toBe(10 + 20 + 75 + 45);
    const tiered = await call(svc.url, '/stripe/v1/checkout/sessions', { key: key.vault_key, form: 'mode=payment&line_items[0][price]=price_tiered&line_items[0][quantity]=1' });
    expect([tiered.status, tiered.body.error?.code]).toEqual([403, 'cost_unknown']);
    const big = await call(svc.url, '/stripe/v1/payouts', { key: key.vault_key, form: 'amount=30000&currency=usd' });
    expect([big.status, big.body.error?.code]).toEqual([429, 'daily_cap_exceeded']);
  });

  test('an agent loop that sends the same charge twice is charged once, and the audit shows the duplicate', async () => {
    const key = await issue(100);
    const before = fake.received.length;
    const form = 'amount=2500&currency=usd&source=tok_visa&description=Order+42';
    const first = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form });
    const again = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form, headers: { 'idempotency-key': 'stripe-node-retry-other' } });
    expect(again.status).toBe(first.status);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('x-keybrake-replayed-from')).toBe(first.headers.get('x-keybrake-audit-id'));
    expect(fake.received.length - before).toBe(1);
    expect(fake.received[fake.received.length - 1]!.headers['idempotency-key']).toMatch(/^kb_[0-9a-f]{48}$/);
    expect(await spent(key.id)).toBe(25);
    expect((await rows(key.id)).map((r) => [r.decision, r.code, r.status, r.estimated_micros])).toEqual([
      ['allow', null, 200, 25_000_000],
      ['allow', 'duplicate_replayed', 200, 25_000_000],
    ]);

    // Sent at the same moment: the second is refused while the first is in flight (or, if it is scheduled late
    // enough to find the first finished, replayed). Either way the vendor sees one call.
    const slow = 'amount=1000&currency=usd&source=tok_visa&description=Order+43';
    // Matched on the parsed field: Keybrake re-encodes the form it forwards (a space as %20, not +).
    fake.override = (r) => (r.params.get('description') === 'Order 43' ? { status: 200, body: { id: 'ch_slow', object: 'charge', amount: 1000, currency: 'usd' }, delayMs: 300 } : undefined);
    const sentBefore = fake.received.length;
    const [a, b] = await Promise.all([call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: slow }), call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: slow })]);
    fake.override = undefined;
    expect(fake.received.length - sentBefore).toBe(1);
    const second = [a, b].find((r) => r.status === 409 || r.headers.get('x-keybrake-replayed-from') !== null);
    expect(second).toBeDefined();
    if (second!.status === 409) expect(second!.body.error?.code).toBe('duplicate_in_flight');
    else expect(second!.body.id).toBe('ch_slow');
    expect(await spent(key.id)).toBe(35);
  });

  test('dedupe_window "off" lets identical calls through', async () => {
    const key = await issue(100, { dedupe_window: 'off' });
    const before = fake.received.length;
    for (let i = 0; i < 2; i++) expect((await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=100&currency=usd&source=tok_visa' })).status).toBe(200);
    expect(fake.received.length - before).toBe(2);
    expect(await spent(key.id)).toBe(2);
    expect((await svc.admin().get(`/vault/keys/${key.id}`)).body.dedupe_window).toBe('off');
  });
});

describe('stripe-stateful-mock: charges, refunds and idempotency with the official client', () => {
  let mock: Server;
  let svc: TestService;
  beforeAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ssm = require('stripe-stateful-mock') as { createExpressApp(): { listen(port: number, host: string, cb: () => void): Server } };
    await new Promise<void>((ok) => {
      mock = ssm.createExpressApp().listen(0, '127.0.0.1', () => ok());
    });
    svc = await startTestService('sqlite', undefined, { STRIPE_SECRET_KEY: 'sk_test_stateful', KEYBRAKE_UPSTREAM_STRIPE: `http://127.0.0.1:${(mock.address() as AddressInfo).port}` });
  });
  afterAll(async () => {
    await svc.close();
    await new Promise((ok) => mock.close(ok));
  });

  test('a charge and its full refund are both priced; a declined card releases its reservation', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/charges', 'POST /v1/refunds'] });
    const url = new URL(svc.url);
    const inner = Stripe.createNodeHttpClient();
    const httpClient = Object.create(inner) as typeof inner;
    httpClient.makeRequest = (host, port, path, ...rest) => inner.makeRequest(host, port, '/stripe' + path, ...rest);
    const stripe = new Stripe(key.vault_key, { host: url.hostname, port: Number(url.port), protocol: 'http', httpClient, telemetry: false });

    const charge = await stripe.charges.create({ amount: 3000, currency: 'usd', source: 'tok_visa' });
    expect(charge.amount).toBe(3000);
    const refund = await stripe.refunds.create({ charge: charge.id });
    expect(refund.amount).toBe(3000);
    const declined = (await stripe.charges.create({ amount: 1000, currency: 'usd', source: 'tok_chargeDeclined' }).catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(declined.type).toBe('StripeCardError');
    const shown = await svc.admin().get(`/vault/keys/${key.id}`);
    expect(shown.body.spent_today_usd).toBe(60);
    const audit = (await (await svc.db()).knex('audit_log').where({ key_id: key.id }).orderBy('ts').orderBy('id')) as { path: string; status: number; settled_micros: number; idempotency_key: string }[];
    expect(audit.map((r) => [r.path, r.status, r.settled_micros])).toEqual([
      ['/v1/charges', 200, 30_000_000],
      ['/v1/refunds', 200, 30_000_000],
      ['/v1/charges', 402, 0],
    ]);
    expect(audit.every((r) => /^kb_/.test(r.idempotency_key))).toBe(true);
  });
});
