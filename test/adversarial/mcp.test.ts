// The adversarial classes that apply to tool arguments, over MCP (/mcp) against the same vendors that keep their own
// books: the billing units (recipients, dialled legs), a priced confirm racing a raising update on another instance,
// many calls at once against one cap across two instances, and arguments that would reach a credential. The
// harness checks the books after each attempt: the vendor never billed more than Keybrake counted, nor more than the
// cap, and every tool call left its audit row; and no secret reached an answer, the audit or the logs.
import { CATALOGS } from '../../service/vendors/catalogs';
import { describeEachStore } from '../helpers/stores';
import { attempt, expectNoSecretLeaked, form, oneCall, useWorld } from './harness';
import { UNIT_CASES } from './unit-cases';

const TOOL_OF: Record<string, string> = {
  '/resend/emails': 'resend_send_email',
  '/resend/emails/batch': 'resend_send_batch',
  '/twilio/2010-04-01/Accounts/self/Calls.json': 'twilio_make_call',
};

/** The arguments each tool takes, from the catalogs it is made from. */
const ARGS = new Map(
  [...CATALOGS.values()].flatMap((c) => c.endpoints.map((e) => [e.operationId, new Set([...e.pathParams, ...e.query, ...e.body].map((f) => f.name))] as const)),
);

/** A case's body as tool arguments: a JSON object as it is, a batch's array under `emails`, a form's fields. */
function argsOf(body: { form: string } | { json: unknown }): Record<string, unknown> {
  if ('form' in body) return Object.fromEntries(new URLSearchParams(body.form));
  return Array.isArray(body.json) ? { emails: body.json } : (body.json as Record<string, unknown>);
}

describeEachStore('adversarial over MCP', (storeName) => {
  const world = useWorld(storeName, {}, { remoteLegs: 2 });
  afterEach(() => (world.stripe.delay = undefined));

  const applicable = UNIT_CASES.filter((c) => TOOL_OF[c[3]] !== undefined);

  test('the billing-unit cases that are tools are all run', () => {
    expect(applicable.length).toBeGreaterThanOrEqual(15);
  });

  test.each(applicable)('billing units: %s', async (_name, vendor, cap, path, body, outcome, policy = {}) => {
    const tool = TOOL_OF[path] as string;
    const args = argsOf(body);
    const unknown = Object.keys(args).filter((k) => !ARGS.get(tool)?.has(k));
    await oneCall(
      world,
      vendor,
      cap,
      outcome === 'priced' && unknown.length === 0,
      async (a) => {
        const r = await a.tool(tool, args);
        // Fields no tool argument carries (Cc, Bcc, a remote Url) are refused before anything is priced.
        if (unknown.length > 0) expect(r).toMatchObject({ isError: true, text: expect.stringMatching(/takes no argument/) });
        else if (outcome === 'priced') expect(r.isError).toBe(false);
        else if (outcome === 'refused') expect(r).toMatchObject({ isError: true, text: expect.stringMatching(/refused|cannot price/i) });
        else expect(r).toMatchObject({ isError: true, text: expect.stringMatching(/^Spending cap reached/) });
      },
      policy,
    );
  });

  test('a confirm over MCP racing a raising update over HTTP on the other instance, 20 times: never counted less than Stripe confirmed', async () => {
    let seed = 11;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    world.stripe.delay = () => Math.floor(random() * 150);
    for (let run = 0; run < 20; run++) {
      const { billed, counted } = await attempt(world, 'stripe', 100, async (a) => {
        const pi = await a.call('/stripe/v1/payment_intents', { form: form({ amount: 100, currency: 'usd' }) });
        const id = String(pi.body.id);
        const [confirm, update] = await Promise.all([
          a.tool('stripe_confirm_payment_intent', { id, payment_method: 'pm_card_visa' }, { twin: run % 2 === 0 }),
          a.call(`/stripe/v1/payment_intents/${id}`, { form: form({ amount: 1_000_000 }), twin: run % 2 === 1 }),
        ]);
        expect([400, 429]).toContain(update.status);
        if (!confirm.isError) expect(JSON.parse(confirm.text)).toMatchObject({ amount: 100 });
      });
      expect(billed).toBeLessThanOrEqual(counted);
    }
  }, 120_000);

  test('twenty SMS tool calls at once over two instances against a cap for ten: exactly ten are sent', async () => {
    // One segment to the UK is $0.0524: the cap takes ten, and a little.
    const { billed, counted } = await attempt(world, 'twilio', 0.0524 * 10 + 0.0001, async (a) => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => a.tool('twilio_send_sms', { To: '+447700900123', From: '+15017122661', Body: `Your code is ${1000 + i}` }, { twin: i % 2 === 0 })),
      );
      const sent = results.filter((r) => !r.isError).length;
      // The cap is in the database, shared by both instances: exactly ten are taken.
      expect(sent).toBe(10);
      for (const r of results.filter((x) => x.isError)) expect(r.text).toMatch(/^Spending cap reached/);
    });
    expect(billed).toBeLessThanOrEqual(counted);
  });

  test('arguments cannot reach a credential: expand and metadata are no tool arguments, and answers carry no secret', async () => {
    await attempt(world, 'stripe', 100, async (a) => {
      const pi = await a.tool('stripe_create_payment_intent', { amount: 100, currency: 'usd' });
      const id = String(JSON.parse(pi.text).id);
      for (const args of [{ id, expand: ['latest_charge.payment_method_details.card.number'] }, { id, 'expand[]': 'customer' }, { id, metadata: { x: 'y' } }]) {
        expect(await a.tool('stripe_get_payment_intent', args)).toMatchObject({ isError: true, text: expect.stringMatching(/takes no argument/) });
      }
      const read = await a.tool('stripe_get_payment_intent', { id });
      expect(read.isError).toBe(false);
      expect(read.text).not.toContain(world.stripe.secret);
    });
    await expectNoSecretLeaked(world);
  });
});
