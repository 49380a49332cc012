// Class 1: a price read from a lookup must not race a change to the object. Calls priced from a lookup of an
// object, and calls that change it, go one at a time per object, across instances; an update that raises what a
// later call moves is priced itself; and every 2xx is settled to what the vendor reports it moved.
import { describeEachStore } from '../helpers/stores';
import { attempt, form, useWorld } from './harness';

describeEachStore('adversarial: objects that change under a priced call', (storeName) => {
  const world = useWorld(storeName);
  afterEach(() => (world.stripe.delay = undefined));

  const createPi = async (a: { call: (p: string, o: object) => Promise<{ status: number; body: Record<string, unknown> }> }, amount: number): Promise<string> => {
    const pi = await a.call('/stripe/v1/payment_intents', { form: form({ amount, currency: 'usd' }) });
    expect(pi.status).toBe(200);
    return String(pi.body.id);
  };

  test('confirm and a raising update sent together, 50 times, with the vendor taking 0–200 ms: never counted less than Stripe confirmed', async () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    world.stripe.delay = () => Math.floor(random() * 200);
    let confirmedAtOneDollar = 0;
    for (let run = 0; run < 50; run++) {
      const { billed, counted } = await attempt(world, 'stripe', 100, async (a) => {
        const id = await createPi(a, 100);
        // The confirm goes to one instance, the update to the other: the lease on the object is in the database.
        const [confirm, update] = await Promise.all([
          a.call(`/stripe/v1/payment_intents/${id}/confirm`, { form: form({ payment_method: 'pm_card_visa' }), twin: run % 2 === 0 }),
          a.call(`/stripe/v1/payment_intents/${id}`, { form: form({ amount: 1_000_000 }), twin: run % 2 === 1 }),
        ]);
        expect([200, 400]).toContain(confirm.status);
        // $10,000 is past the $100 cap: the update is refused (or, after the confirm, Stripe refuses it).
        expect([400, 429]).toContain(update.status);
        if (confirm.status === 200 && confirm.body.amount === 100) confirmedAtOneDollar++;
      });
      expect(billed).toBeLessThanOrEqual(counted);
      expect(billed).toBe(1_000_000);
    }
    expect(confirmedAtOneDollar).toBe(50);
  }, 240_000);

  test('an update that raises the amount is priced by what it adds; the confirm after it adds nothing', async () => {
    const { billed, counted } = await attempt(world, 'stripe', 100, async (a) => {
      const id = await createPi(a, 1000);
      const up = await a.call(`/stripe/v1/payment_intents/${id}`, { form: form({ amount: 6000 }) });
      expect(up.status).toBe(200);
      const confirm = await a.call(`/stripe/v1/payment_intents/${id}/confirm`, { form: form({ payment_method: 'pm_card_visa' }) });
      expect(confirm.status).toBe(200);
      const over = await a.call(`/stripe/v1/payment_intents/${id}`, { form: form({ amount: 20_000 }) });
      expect(over.body.error).toMatchObject({ code: 'daily_cap_exceeded' });
    });
    expect([billed, counted]).toEqual([60_000_000, 60_000_000]);
  });

  test('an update that changes the currency is priced in the new currency, less what was counted', async () => {
    const { billed, counted } = await attempt(world, 'stripe', 100, async (a) => {
      const pi = await a.call('/stripe/v1/payment_intents', { form: form({ amount: 5000, currency: 'jpy' }) }); // ¥5,000: $34.50
      const res = await a.call(`/stripe/v1/payment_intents/${String(pi.body.id)}`, { form: form({ currency: 'usd' }) }); // now $50.00
      expect(res.status).toBe(200);
      expect((await a.call(`/stripe/v1/payment_intents/${String(pi.body.id)}/confirm`, { form: '' })).status).toBe(200);
    });
    expect([billed, counted]).toEqual([50_000_000, 50_000_000]);
  });

  test('two full refunds of one charge sent together are counted for each refund Stripe makes', async () => {
    await attempt(world, 'stripe', 200, async (a) => {
      const ch = await a.call('/stripe/v1/charges', { form: form({ amount: 5000, currency: 'usd', source: 'tok_visa' }) });
      world.stripe.delay = () => 50;
      const both = await Promise.all([a.call('/stripe/v1/refunds', { form: form({ charge: String(ch.body.id) }) }), a.call('/stripe/v1/refunds', { form: form({ charge: String(ch.body.id) }), twin: true })]);
      expect(both.map((r) => r.status).sort()).toEqual([200, 200]);
    });
  });

  test('capture and an increment of one authorization sent together', async () => {
    world.stripe.objects.set('pi_auth', { id: 'pi_auth', object: 'payment_intent', amount: 3000, amount_capturable: 3000, currency: 'usd', status: 'requires_capture' });
    await attempt(world, 'stripe', 100, async (a) => {
      world.stripe.delay = () => 80;
      await Promise.all([
        a.call('/stripe/v1/payment_intents/pi_auth/increment_authorization', { form: form({ amount: 9000 }), twin: true }),
        a.call('/stripe/v1/payment_intents/pi_auth/capture', { form: '' }),
      ]);
    });
  });

  test('a payment intent made elsewhere, confirmed twice at once, is counted once and moves once', async () => {
    world.stripe.objects.set('pi_ext', { id: 'pi_ext', object: 'payment_intent', amount: 4000, currency: 'usd', status: 'requires_confirmation' });
    const { billed, counted } = await attempt(world, 'stripe', 100, async (a) => {
      world.stripe.delay = () => 60;
      const both = await Promise.all([a.call('/stripe/v1/payment_intents/pi_ext/confirm', { form: '' }), a.call('/stripe/v1/payment_intents/pi_ext/confirm', { form: '', twin: true })]);
      expect(both.map((r) => r.status).sort()).toEqual([200, 400]);
    });
    expect([billed, counted]).toEqual([40_000_000, 40_000_000]);
  });

  test('two full reversals of one transfer sent together', async () => {
    await attempt(world, 'stripe', 200, async (a) => {
      const tr = await a.call('/stripe/v1/transfers', { form: form({ amount: 3000, currency: 'usd', destination: 'acct_1' }) });
      world.stripe.delay = () => 40;
      await Promise.all([a.call(`/stripe/v1/transfers/${String(tr.body.id)}/reversals`, { form: '' }), a.call(`/stripe/v1/transfers/${String(tr.body.id)}/reversals`, { form: '', twin: true })]);
    });
  });

  test('an invoice paid twice at once is paid once', async () => {
    world.stripe.objects.set('in_twice', { id: 'in_twice', object: 'invoice', amount_remaining: 2500, currency: 'usd' });
    const { billed } = await attempt(world, 'stripe', 100, async (a) => {
      world.stripe.delay = () => 40;
      await Promise.all([a.call('/stripe/v1/invoices/in_twice/pay', { form: '' }), a.call('/stripe/v1/invoices/in_twice/pay', { form: '', twin: true })]);
    });
    expect(billed).toBe(25_000_000);
  });
});
