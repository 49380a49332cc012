// Class 2: writes missing from the money list used to be treated as free. Now every write is classified and an
// unknown one is refused, whatever the key's allowlist says ("*" here): the vendor's own aliases (Twilio without
// `.json`), older and secondary billing paths, and sends folded into creates.
import { describeEachStore } from '../helpers/stores';
import { attempt, form, useWorld, type Vendor } from './harness';

const A = '/twilio/2010-04-01/Accounts/self';
const SAY = '<Response><Say>Your order shipped.</Say></Response>';

type Body = { form: string } | { json: unknown };
type Case = [name: string, vendor: Vendor, method: string, path: string, body: Body | undefined, outcome: 'priced' | 'refused' | 'bad_request'];

const CASES: Case[] = [
  ['Twilio Messages without .json is the priced Messages', 'twilio', 'POST', `${A}/Messages`, { form: form({ To: '+15558675310', From: '+15017122661', Body: 'x'.repeat(300) }) }, 'priced'],
  ['Twilio Messages.xml is the priced Messages', 'twilio', 'POST', `${A}/Messages.xml`, { form: form({ To: '+447700900123', From: '+15017122661', Body: 'Hello ✓' }) }, 'priced'],
  ['Twilio Calls without .json gets its TimeLimit and its price', 'twilio', 'POST', `${A}/Calls`, { form: form({ To: '+15558675310', From: '+15017122661', Twiml: SAY }) }, 'priced'],
  ['Twilio Calls.xml with a remote Url is refused', 'twilio', 'POST', `${A}/Calls.xml`, { form: form({ To: '+15558675310', From: '+15017122661', Url: 'https://attacker.example/twiml' }) }, 'refused'],
  ['Twilio IncomingPhoneNumbers without .json (buying a number) is refused', 'twilio', 'POST', `${A}/IncomingPhoneNumbers`, { form: form({ PhoneNumber: '+15005550006' }) }, 'refused'],
  ['Twilio IncomingPhoneNumbers/Local.json is refused', 'twilio', 'POST', `${A}/IncomingPhoneNumbers/Local.json`, { form: form({ PhoneNumber: '+15005550006' }) }, 'refused'],
  ['Twilio conference participants (new outbound calls) are refused', 'twilio', 'POST', `${A}/Conferences/CF1/Participants.json`, { form: form({ From: '+15017122661', To: '+15558675310' }) }, 'refused'],
  ['Twilio redirecting a live call to new TwiML is refused', 'twilio', 'POST', `${A}/Calls/CA1.json`, { form: form({ Twiml: '<Response><Dial>+447700900123</Dial></Response>' }) }, 'refused'],
  ['Twilio recording a live call is refused', 'twilio', 'POST', `${A}/Calls/CA1/Recordings.json`, { form: '' }, 'refused'],
  ['Twilio caller-id verification (it places a call) is refused', 'twilio', 'POST', `${A}/OutgoingCallerIds.json`, { form: form({ PhoneNumber: '+15558675310' }) }, 'refused'],
  ['Twilio messages.json in another case is not a way around the price', 'twilio', 'POST', `${A}/messages.json`, { form: form({ To: '+15558675310', Body: 'hi' }) }, 'bad_request'],
  ['Twilio an operation Keybrake never heard of is refused', 'twilio', 'POST', `${A}/Brand/New/Thing.json`, { form: form({ x: 1 }) }, 'refused'],
  ['Stripe subscriptions under a customer (the older path) are refused', 'stripe', 'POST', '/stripe/v1/customers/cus_1/subscriptions', { form: form({ 'items[0][price]': 'price_1' }) }, 'refused'],
  ['Stripe subscription resume is refused', 'stripe', 'POST', '/stripe/v1/subscriptions/sub_1/resume', { form: '' }, 'refused'],
  ['Stripe subscription item quantity updates are refused', 'stripe', 'POST', '/stripe/v1/subscription_items/si_1', { form: form({ quantity: 1000 }) }, 'refused'],
  ['Stripe invoice items are refused', 'stripe', 'POST', '/stripe/v1/invoiceitems', { form: form({ customer: 'cus_1', amount: 900_000, currency: 'usd' }) }, 'refused'],
  ['Stripe finalizing an invoice (auto-charge) is refused', 'stripe', 'POST', '/stripe/v1/invoices/in_1/finalize', { form: '' }, 'refused'],
  ['Stripe payment links are refused', 'stripe', 'POST', '/stripe/v1/payment_links', { form: form({ 'line_items[0][price]': 'price_1', 'line_items[0][quantity]': 1 }) }, 'refused'],
  ['Stripe a customer created with a balance is refused', 'stripe', 'POST', '/stripe/v1/customers', { form: form({ email: 'a@b.c', balance: -500_000 }) }, 'refused'],
  ['Stripe a customer balance changed by update is refused', 'stripe', 'POST', '/stripe/v1/customers/cus_bal', { form: form({ balance: 900_000 }) }, 'refused'],
  ['Stripe metered usage (billing meter events) is refused', 'stripe', 'POST', '/stripe/v1/billing/meter_events', { form: form({ event_name: 'api', 'payload[value]': 1_000_000 }) }, 'refused'],
  ['Stripe API v2 money movement is refused', 'stripe', 'POST', '/stripe/v2/money_management/outbound_payments', { json: { amount: { value: 1_000_000, currency: 'usd' } } }, 'refused'],
  ['Stripe a credit note is refused', 'stripe', 'POST', '/stripe/v1/credit_notes', { form: form({ invoice: 'in_1', amount: 50_000 }) }, 'refused'],
  ['Resend a broadcast created and sent in one request is refused', 'resend', 'POST', '/resend/broadcasts', { json: { segment_id: 'seg_1', from: 'a@acme.test', subject: 's', html: 'h', send: true } }, 'refused'],
  ['Resend sending a broadcast is refused', 'resend', 'POST', '/resend/broadcasts/bc_1/send', { json: {} }, 'refused'],
  ['Resend an event that starts automations is refused', 'resend', 'POST', '/resend/events/send', { json: { event: 'signup', email: 'a@b.c' } }, 'refused'],
  ['Resend creating an automation is refused', 'resend', 'POST', '/resend/automations', { json: { name: 'blast', steps: [] } }, 'refused'],
];

describeEachStore('adversarial: writes outside the money list', (storeName) => {
  const world = useWorld(storeName);

  test.each(CASES)('%s', async (_name, vendor, method, path, body, outcome) => {
    if (path.includes('cus_bal')) world.stripe.objects.set('cus_bal', { id: 'cus_bal', object: 'customer' });
    const before = world[vendor].received.filter((r) => r.method !== 'GET').length;
    await attempt(world, vendor, 50, async (a) => {
      const res = await a.call(path, { method, ...(body ?? {}) });
      if (outcome === 'priced') expect(res.status).toBeLessThan(300);
      if (outcome === 'refused') expect([res.status, res.body.error?.code]).toEqual([403, 'cost_unknown']);
      if (outcome === 'bad_request') expect([res.status, res.body.error?.code]).toEqual([400, 'bad_request']);
    });
    const forwarded = world[vendor].received.filter((r) => r.method !== 'GET').length - before;
    expect(forwarded).toBe(outcome === 'priced' ? 1 : 0);
  });

  test('priced older paths still work: a reader refund, the older fee refund, a balance transaction', async () => {
    world.stripe.objects.set('ch_r', { id: 'ch_r', object: 'charge', amount: 4000, currency: 'usd', amount_refunded: 0 });
    world.stripe.objects.set('fee_1', { id: 'fee_1', object: 'application_fee', amount: 700, currency: 'usd', amount_refunded: 0 });
    const { billed, counted } = await attempt(world, 'stripe', 100, async (a) => {
      expect((await a.call('/stripe/v1/terminal/readers/tmr_1/refund_payment', { form: form({ charge: 'ch_r' }) })).status).toBe(200);
      expect((await a.call('/stripe/v1/application_fees/fee_1/refund', { form: '' })).status).toBe(200);
      expect((await a.call('/stripe/v1/customers/cus_bal/balance_transactions', { form: form({ amount: -2000, currency: 'usd' }) })).status).toBe(200);
    });
    expect(billed).toBe(40_000_000 + 7_000_000 + 20_000_000);
    expect(counted).toBe(billed);
  });
});
