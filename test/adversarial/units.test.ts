// Class 3: prices in the vendor's billing unit. Resend bills every To, Cc and Bcc recipient; a Twilio call bills
// every leg its TwiML dials; a Checkout session can collect shipping and larger quantities than it lists; and a
// call reserved at $0 is still settled to what the vendor reports.
import { describeEachStore } from '../helpers/stores';
import { attempt, form, oneCall, useWorld } from './harness';
import { UNIT_CASES as CASES } from './unit-cases';

describeEachStore('adversarial: prices in the vendor\'s billing unit', (storeName) => {
  const world = useWorld(storeName, {}, { remoteLegs: 2 });
  afterEach(() => (world.stripe.delay = undefined));

  test.each(CASES)('%s', async (_name, vendor, cap, path, body, outcome, policy = {}) => {
    await oneCall(
      world,
      vendor,
      cap,
      outcome === 'priced',
      async (a) => {
        const res = await a.call(path, body);
        if (outcome === 'priced') expect([res.status, res.body.error?.message]).toEqual([res.status < 300 ? res.status : 200, undefined]);
        if (outcome === 'refused') expect([res.status, res.body.error?.code]).toEqual([403, 'cost_unknown']);
        if (outcome === 'over_cap') expect([res.status, res.body.error?.code]).toEqual([429, 'daily_cap_exceeded']);
      },
      policy,
    );
  });

  test('a confirm reserved at $0 is settled to what Stripe reports: the excess is counted and flagged', async () => {
    let rows: { code: string | null; estimated_micros: number; settled_micros: number | null }[] = [];
    const { billed, counted } = await attempt(world, 'stripe', 100, async (a) => {
      const pi = await a.call('/stripe/v1/payment_intents', { form: form({ amount: 1000, currency: 'usd' }) });
      // Someone changes the intent at Stripe itself (not through Keybrake) while the confirm is on its way.
      world.stripe.delay = (r) => {
        if (r.path.endsWith('/confirm')) world.stripe.objects.get(String(pi.body.id))!.amount = 5000;
        return 0;
      };
      expect((await a.call(`/stripe/v1/payment_intents/${String(pi.body.id)}/confirm`, { form: '' })).status).toBe(200);
      rows = await (await world.svc.db()).knex('audit_log').where({ key_id: a.key.id }).orderBy('id');
    });
    expect([billed, counted]).toEqual([50_000_000, 50_000_000]);
    expect(rows[1]).toMatchObject({ code: 'settled_above_reservation', estimated_micros: 0, settled_micros: 40_000_000 });
  });

  test('an excess past the cap is counted at once and fires cap.exceeded', async () => {
    const key = await world.svc.issueKey({ vendor: 'stripe', daily_usd_cap: 20, allowed_endpoints: ['*'], dedupe_window: 'off', webhook_url: 'http://127.0.0.1:9/hook' });
    const { call } = await import('../helpers/service');
    const pi = await call(world.svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: form({ amount: 1000, currency: 'usd' }) });
    world.stripe.delay = (r) => {
      if (r.path.endsWith('/confirm')) world.stripe.objects.get(String(pi.body.id))!.amount = 9000;
      return 0;
    };
    expect((await call(world.svc.url, `/stripe/v1/payment_intents/${String(pi.body.id)}/confirm`, { key: key.vault_key, form: '' })).status).toBe(200);
    const shown = await world.svc.admin().get(`/vault/keys/${key.id}`);
    expect(shown.body.spent_today_usd).toBe(90);
    const events = (await (await world.svc.db()).knex('webhook_events').where({ key_id: key.id, type: 'cap.exceeded' })) as unknown[];
    expect(events).toHaveLength(1);
    const next = await call(world.svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: form({ amount: 50, currency: 'usd' }) });
    expect(next.body.error?.code).toBe('daily_cap_exceeded');
  });
});
