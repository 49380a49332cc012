// A person approves the big ones (design §3), on both stores, against a loopback fake Stripe: the request is
// reserved and not forwarded; approved, the identical call is forwarded once and settles; denied or expired, the
// reservation is released; links decide once and only on POST; a twin instance sees every decision.
import pino from 'pino';
import Stripe from 'stripe';
import { bodyFor } from '../../service/alerts/events';
import { loadConfig } from '../../service/config';
import { startServer, type Running } from '../../service/server';
import { expireApprovals } from '../../service/store/approvals';
import type { FakeStripe } from '../helpers/fake-stripe';
import { call, serviceEnv, useStripeService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

const HOUR = 3_600_000;

describeEachStore('approvals', (storeName) => {
  let shift = 0;
  const clock = (): number => Date.now() + shift;
  const ctx = useStripeService(storeName, {}, clock);
  let fake: FakeStripe;
  let svc: TestService;
  beforeAll(() => ({ fake, svc } = ctx));
  afterEach(() => {
    shift = 0;
  });

  const intents = (): number => fake.received.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents').length;
  const spent = async (id: string): Promise<number> => (await svc.admin().get(`/vault/keys/${id}`)).body.spent_today_usd as number;
  const issue = (extra: Record<string, unknown> = {}): ReturnType<TestService['issueKey']> =>
    svc.issueKey({ vendor: 'stripe', daily_usd_cap: 5000, allowed_endpoints: ['POST /v1/payment_intents', 'POST /v1/refunds'], approval_above_usd: 500, label: 'approvals', ...extra });
  const charge = (key: string, amount: number, extra = ''): ReturnType<typeof call> => call(svc.url, '/stripe/v1/payment_intents', { key, form: `amount=${amount}&currency=usd${extra}` });

  test('above the threshold: approval_required with what was asked, reserved against the cap, nothing forwarded', async () => {
    const key = await issue();
    const small = await charge(key.vault_key, 10_000);
    expect(small.status).toBe(200);
    const before = intents();
    const big = await charge(key.vault_key, 240_000);
    expect(big.status).toBe(403);
    const err = big.body.error as Record<string, unknown>;
    expect(err.code).toBe('approval_required');
    expect(err.message).toMatch(/asks a person to approve POST \/v1\/payment_intents for \$2,400\.00 .*call again with the same arguments once it is approved/);
    expect(err).toMatchObject({ vendor: 'stripe', endpoint: 'POST /v1/payment_intents', amount_usd: 2400, approval_id: expect.stringMatching(/^apr_/) });
    expect(err.priced).toContain('240000');
    expect(intents()).toBe(before);
    expect(await spent(key.id)).toBe(2500);
    const listed = await svc.admin().get('/approvals').query({ status: 'pending', key_id: key.id });
    expect(listed.body.data.map((a: { id: string }) => a.id)).toEqual([err.approval_id]);
    expect(listed.body.data[0]).toMatchObject({ status: 'pending', label: 'approvals', amount_usd: 2400, decided_by: null });
    // Asking again before anyone decided: the same approval, still nothing sent.
    const again = await charge(key.vault_key, 240_000);
    expect([again.status, again.body.error?.code, again.body.error?.approval_id]).toEqual([403, 'approval_required', err.approval_id]);
    expect(intents()).toBe(before);
    expect(await spent(key.id)).toBe(2500);
  });

  test('approved: the identical call is forwarded exactly once and settles; a changed body is not covered', async () => {
    const key = await issue();
    const asked = await charge(key.vault_key, 120_000);
    const id = asked.body.error?.approval_id as string;
    const ok = await svc.admin().post(`/approvals/${id}/approve`).send({ reason: 'expected invoice' });
    expect(ok.body).toMatchObject({ status: 'approved', decided_by: 'admin', reason: 'expected invoice' });
    const before = intents();
    const changed = await charge(key.vault_key, 120_000, '&description=other');
    expect([changed.status, changed.body.error?.code]).toEqual([403, 'approval_required']);
    expect(changed.body.error?.approval_id).not.toBe(id);
    expect(intents()).toBe(before);
    const sent = await charge(key.vault_key, 120_000);
    expect(sent.status).toBe(200);
    expect(sent.body.amount).toBe(120_000);
    expect(intents()).toBe(before + 1);
    expect(fake.received[fake.received.length - 1]!.headers['idempotency-key']).toMatch(/^kb_[0-9a-f]{48}$/);
    // Spend: this call's $1,200 once (settled), plus the changed call's pending $1,200.
    expect(await spent(key.id)).toBe(2400);
    const used = await svc.admin().get(`/approvals/${id}`);
    expect(used.body).toMatchObject({ status: 'used', used_audit_id: sent.headers.get('x-keybrake-audit-id') });
    // The audit joins the request and the forwarded call by the approval's id.
    const audit = await svc.admin().get('/audit').query({ approval_id: id });
    expect(audit.body.data.map((r: { code: string | null; decision: string }) => [r.decision, r.code]).sort()).toEqual([['allow', null], ['deny', 'approval_required']]);
    // Once: the same call again is a new request.
    const third = await charge(key.vault_key, 120_000);
    expect([third.status, third.body.error?.code]).toEqual([403, 'approval_required']);
    expect(third.body.error?.approval_id).not.toBe(id);
    expect(intents()).toBe(before + 1);
    // Listed a page at a time, newest first: three requests by now.
    const first = await svc.admin().get('/approvals').query({ key_id: key.id, limit: 2 });
    const rest = await svc.admin().get('/approvals').query({ key_id: key.id, limit: 2, cursor: first.body.next_cursor as string });
    const ids = [...first.body.data, ...rest.body.data].map((a: { id: string }) => a.id);
    expect([ids.length, new Set(ids).size, rest.body.next_cursor, ids[0]]).toEqual([3, 3, null, third.body.error?.approval_id]);
    expect((await svc.admin().get('/approvals').query({ cursor: 'bm90LWEtY3Vyc29y' })).body.error?.param).toBe('cursor');
  });

  test('denied: the reservation is released and the identical call is refused with the reason', async () => {
    const key = await issue();
    const asked = await charge(key.vault_key, 300_000);
    const id = asked.body.error?.approval_id as string;
    expect(await spent(key.id)).toBe(3000);
    const denied = await svc.admin().post(`/approvals/${id}/deny`).send({ reason: 'not in the budget' });
    expect(denied.body).toMatchObject({ status: 'denied', decided_by: 'admin' });
    expect(await spent(key.id)).toBe(0);
    const again = await charge(key.vault_key, 300_000);
    expect([again.status, again.body.error?.code, again.body.error?.approval_id]).toEqual([403, 'approval_denied', id]);
    expect(again.body.error?.message).toContain('not in the budget');
    expect(await spent(key.id)).toBe(0);
    // A decided approval stays decided.
    const late = await svc.admin().post(`/approvals/${id}/approve`).send({});
    expect([late.status, late.body.error?.code]).toEqual([409, 'approval_decided']);
  });

  test('expired: the reservation is released, the call is refused with approval_expired and asked again', async () => {
    const key = await issue();
    const asked = await charge(key.vault_key, 200_000);
    const id = asked.body.error?.approval_id as string;
    shift = HOUR + 1000;
    expect(await expireApprovals(await svc.db(), clock())).toBeGreaterThanOrEqual(1);
    expect((await svc.admin().get(`/approvals/${id}`)).body.status).toBe('expired');
    expect(await spent(key.id)).toBe(0);
    const approveLate = await svc.admin().post(`/approvals/${id}/approve`).send({});
    expect(approveLate.status).toBe(409);
    const again = await charge(key.vault_key, 200_000);
    expect([again.status, again.body.error?.code, again.body.error?.expired_approval_id]).toEqual([403, 'approval_expired', id]);
    expect(again.body.error?.approval_id).not.toBe(id);
    expect(await spent(key.id)).toBe(2000);
  });

  test('an approval past its lifetime is not used, even unswept', async () => {
    const key = await issue();
    const id = (await charge(key.vault_key, 150_000)).body.error?.approval_id as string;
    await svc.admin().post(`/approvals/${id}/approve`).send({});
    const before = intents();
    shift = HOUR + 1000;
    const late = await charge(key.vault_key, 150_000);
    expect([late.status, late.body.error?.code, late.body.error?.expired_approval_id]).toEqual([403, 'approval_expired', id]);
    expect(intents()).toBe(before);
    // The old reservation released, the new request's reserved.
    expect(await spent(key.id)).toBe(1500);
  });

  test('a confirm priced higher than its pending request (the intent grew meanwhile) is a request of its own', async () => {
    const key = await issue({ allowed_endpoints: ['POST /v1/payment_intents/{id}/confirm'] });
    const intent = { id: 'pi_grows', object: 'payment_intent', amount: 100_000, currency: 'usd', status: 'requires_confirmation' };
    fake.seed(intent);
    const first = await call(svc.url, '/stripe/v1/payment_intents/pi_grows/confirm', { key: key.vault_key, form: '' });
    expect([first.status, first.body.error?.code, first.body.error?.amount_usd]).toEqual([403, 'approval_required', 1000]);
    intent.amount = 200_000;
    const second = await call(svc.url, '/stripe/v1/payment_intents/pi_grows/confirm', { key: key.vault_key, form: '' });
    expect([second.status, second.body.error?.code, second.body.error?.amount_usd]).toEqual([403, 'approval_required', 2000]);
    expect(second.body.error?.approval_id).not.toBe(first.body.error?.approval_id);
    // Approving the $1,000 request does not let the $2,000 confirm through.
    await svc.admin().post(`/approvals/${first.body.error?.approval_id as string}/approve`).send({}).expect(200);
    const third = await call(svc.url, '/stripe/v1/payment_intents/pi_grows/confirm', { key: key.vault_key, form: '' });
    expect([third.status, third.body.error?.approval_id]).toEqual([403, second.body.error?.approval_id]);
    expect(fake.received.filter((r) => r.path === '/v1/payment_intents/pi_grows/confirm')).toHaveLength(0);
  });

  test('approval_endpoints: every call of them waits, whatever its price; PATCH changes the rules', async () => {
    const key = await issue({ approval_above_usd: null, approval_endpoints: ['POST /v1/refunds'], daily_usd_cap: 20_000 });
    expect((await svc.admin().get(`/vault/keys/${key.id}`)).body).toMatchObject({ approval_endpoints: ['POST /v1/refunds'], approval_wait: 0 });
    const refund = await call(svc.url, '/stripe/v1/refunds', { key: key.vault_key, form: 'payment_intent=pi_1' });
    expect([refund.status, refund.body.error?.code]).toEqual([403, 'approval_required']);
    expect(refund.body.error?.message).toContain('asks a person to approve every call of POST /v1/refunds');
    expect((await charge(key.vault_key, 300_000)).status).toBe(200);
    const bad = await svc.admin().patch(`/vault/keys/${key.id}`).send({ approval_endpoints: ['FETCH /v1/x'] });
    expect([bad.status, bad.body.error?.param ?? bad.body.error?.message]).toEqual([400, expect.stringContaining('approval_endpoints')]);
    // An approval endpoint that could never match a call is refused as an allowed endpoint would be.
    const prefixed = await svc.admin().patch(`/vault/keys/${key.id}`).send({ approval_endpoints: ['POST /stripe/v1/refunds'] });
    expect([prefixed.status, prefixed.body.error?.param, prefixed.body.error?.message]).toEqual([400, 'approval_endpoints.0', expect.stringContaining('write the Stripe path itself, e.g. "POST /v1/refunds"')]);
    const notStripe = await svc.admin().patch(`/vault/keys/${key.id}`).send({ approval_endpoints: ['POST /refunds'] });
    expect([notStripe.status, notStripe.body.error?.param]).toEqual([400, 'approval_endpoints.0']);
    expect((await svc.admin().get(`/vault/keys/${key.id}`)).body.approval_endpoints).toEqual(['POST /v1/refunds']);
    const tooLong = await svc.admin().patch(`/vault/keys/${key.id}`).send({ approval_wait: 55 });
    expect([tooLong.status, tooLong.body.error?.message]).toEqual([400, expect.stringMatching(/^approval_wait: must be at most 50/)]);
    await svc.admin().patch(`/vault/keys/${key.id}`).send({ approval_above_usd: 100 }).expect(200);
    expect((await charge(key.vault_key, 300_000, '&description=after')).body.error?.code).toBe('approval_required');
  });

  test('a shared budget\'s threshold applies to every key drawing from it, and PATCH /budgets changes it', async () => {
    const budget = await svc.admin().post('/budgets').send({ daily_usd_cap: 10_000, label: 'team', approval_above_usd: 1000 });
    expect(budget.body).toMatchObject({ approval_above_usd: 1000 });
    const key = await issue({ approval_above_usd: null, budget: budget.body.id });
    expect((await charge(key.vault_key, 50_000)).status).toBe(200);
    const big = await charge(key.vault_key, 150_000);
    expect([big.status, big.body.error?.code]).toEqual([403, 'approval_required']);
    expect(big.body.error?.message).toContain(`the shared budget ${budget.body.id as string}`);
    const patched = await svc.admin().patch(`/budgets/${budget.body.id as string}`).send({ approval_above_usd: null });
    expect(patched.body.approval_above_usd).toBeUndefined();
    expect((await charge(key.vault_key, 150_000, '&description=after')).status).toBe(200);
    const bad = await svc.admin().patch(`/budgets/${budget.body.id as string}`).send({ approval_above_usd: -1 });
    expect([bad.status, bad.body.error?.message]).toEqual([400, expect.stringMatching(/^approval_above_usd: /)]);
  });

  test('waiting mode: the call waits and returns the vendor\'s answer when approved in time, or a denial', async () => {
    const key = await issue({ approval_wait: 5 });
    const before = intents();
    const pending = charge(key.vault_key, 100_000);
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      await new Promise((r) => setTimeout(r, 50));
      id = ((await svc.admin().get('/approvals').query({ key_id: key.id, status: 'pending' })).body.data[0] as { id: string } | undefined)?.id;
    }
    expect(id).toBeDefined();
    await svc.admin().post(`/approvals/${id!}/approve`).send({}).expect(200);
    const answered = await pending;
    expect(answered.status).toBe(200);
    expect(answered.body.amount).toBe(100_000);
    expect(intents()).toBe(before + 1);

    const denied = charge(key.vault_key, 110_000);
    let other: string | undefined;
    for (let i = 0; i < 100 && !other; i++) {
      await new Promise((r) => setTimeout(r, 50));
      other = ((await svc.admin().get('/approvals').query({ key_id: key.id, status: 'pending' })).body.data[0] as { id: string } | undefined)?.id;
    }
    await svc.admin().post(`/approvals/${other!}/deny`).send({ reason: 'no' }).expect(200);
    expect((await denied).body.error?.code).toBe('approval_denied');
    expect(intents()).toBe(before + 1);
  });

  test('waiting mode: undecided within the wait, the call is answered approval_required and stays pending', async () => {
    const key = await issue({ approval_wait: 1 });
    const t0 = Date.now();
    const res = await charge(key.vault_key, 100_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(res.body.error?.code).toBe('approval_required');
    expect(res.body.error?.message).toContain('It waited 1 s for a decision');
    expect((await svc.admin().get(`/approvals/${res.body.error?.approval_id as string}`)).body.status).toBe('pending');
  });

  test('the alert\'s links: a GET changes nothing, a POST decides once, a used or expired link does nothing', async () => {
    const key = await issue({ webhook_url: 'http://127.0.0.1:9/hook', daily_usd_cap: 10_000 });
    const id = (await charge(key.vault_key, 250_000)).body.error?.approval_id as string;
    const db = await svc.db();
    const event = (await db.knex('webhook_events').where({ type: 'approval.requested' }).andWhere('event_key', `approval.requested:${id}`).first()) as { payload: string };
    const data = (JSON.parse(event.payload) as { data: Record<string, string> }).data;
    expect(data).toMatchObject({ approval_id: id, amount_usd: 2500, endpoint: 'POST /v1/payment_intents' });
    expect(event.payload).not.toContain(key.vault_key);
    const approve = new URL(data.approve_url!);
    const deny = new URL(data.deny_url!);
    expect(approve.pathname).toBe(`/approvals/${id}/review`);
    // The Slack message says what waits and carries both links.
    const slack = JSON.parse(bodyFor('https://hooks.slack.com/services/T/B/x', event.payload)) as { text: string };
    expect(slack.text).toContain(`key approvals (${key.id}, stripe) asks a person to approve POST /v1/payment_intents for $2,500.00`);
    expect(slack.text).toContain(`Approve: ${data.approve_url!} · Deny: ${data.deny_url!}`);

    const page = await fetch(`${svc.url}${approve.pathname}${approve.search}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self'");
    const html = await page.text();
    expect(html).toContain('Approve this call?');
    expect(html).toContain('$2,500.00');
    expect((await svc.admin().get(`/approvals/${id}`)).body.status).toBe('pending');

    const forged = await fetch(`${svc.url}/approvals/${id}/review`, { method: 'POST', body: new URLSearchParams({ action: 'approve', token: deny.searchParams.get('token')! }) });
    expect(forged.status).toBe(404);
    expect((await svc.admin().get(`/approvals/${id}`)).body.status).toBe('pending');

    const form = (u: URL, reason = ''): Promise<Response> =>
      fetch(`${svc.url}${u.pathname}`, { method: 'POST', body: new URLSearchParams({ action: u.searchParams.get('action')!, token: u.searchParams.get('token')!, reason }) });
    const yes = await form(approve, 'ok by me');
    expect(yes.status).toBe(200);
    expect((await svc.admin().get(`/approvals/${id}`)).body).toMatchObject({ status: 'approved', decided_by: 'link', reason: 'ok by me' });
    expect((await form(approve)).status).toBe(409);
    expect((await form(deny)).status).toBe(409);
    expect((await svc.admin().get(`/approvals/${id}`)).body.status).toBe('approved');

    // A link of a request that expired: nothing changes.
    const late = (await charge(key.vault_key, 260_000)).body.error?.approval_id as string;
    const lateEvent = (await db.knex('webhook_events').where('event_key', `approval.requested:${late}`).first()) as { payload: string };
    const lateDeny = new URL((JSON.parse(lateEvent.payload) as { data: Record<string, string> }).data.deny_url!);
    shift = HOUR + 1000;
    expect((await form(lateDeny)).status).toBe(409);
    expect((await svc.admin().get(`/approvals/${late}`)).body.status).toBe('expired');
  });

  test('two instances: requested on one, approved on the other, the retry forwarded once on either', async () => {
    let twin: Running | undefined;
    try {
      twin = await startServer(loadConfig(serviceEnv(svc.store, fake)), { log: pino({ level: 'silent' }), announce: () => undefined, clock });
      const key = await issue();
      const id = (await charge(key.vault_key, 220_000)).body.error?.approval_id as string;
      const viaTwin = await fetch(`${twin.url}/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer kb_test_admin_key_0123456789abcdef`, 'content-type': 'application/json' }, body: '{}' });
      expect(viaTwin.status).toBe(200);
      const before = intents();
      const [a, b] = await Promise.all([call(twin.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=220000&currency=usd' }), charge(key.vault_key, 220_000)]);
      expect([a.status, b.status].sort()).toEqual([200, 403]);
      expect(intents()).toBe(before + 1);
      expect(await spent(key.id)).toBe(2200 + 2200); // the forwarded call, and the other's new request

      // Approved, then the key is revoked on the twin: this instance (which has the key cached) sends nothing.
      const other = await issue({ label: 'revoked-later' });
      const warm = await charge(other.vault_key, 10_000);
      expect(warm.status).toBe(200);
      const pending = (await charge(other.vault_key, 230_000)).body.error?.approval_id as string;
      await svc.admin().post(`/approvals/${pending}/approve`).send({}).expect(200);
      const revoked = await fetch(`${twin.url}/vault/keys/${other.id}`, { method: 'DELETE', headers: { authorization: `Bearer kb_test_admin_key_0123456789abcdef` } });
      expect(revoked.status).toBe(200);
      const sentBefore = intents();
      const refused = await charge(other.vault_key, 230_000);
      expect([refused.status, refused.body.error?.code]).toEqual([401, 'vault_key_revoked']);
      expect(intents()).toBe(sentBefore);
      // Revoking withdrew it: denied, and what it reserved released.
      expect((await svc.admin().get(`/approvals/${pending}`)).body).toMatchObject({ status: 'denied', decided_by: 'revocation', reason: 'the key was revoked' });
      expect(await spent(other.id)).toBe(100);
    } finally {
      await twin?.close();
    }
  });

  test('the official Stripe SDK surfaces the code and the sentence, and does not retry', async () => {
    const key = await issue();
    const url = new URL(svc.url);
    const inner = Stripe.createNodeHttpClient();
    const httpClient = Object.create(inner) as typeof inner;
    httpClient.makeRequest = (host, port, path, method, headers, body, protocol, timeout) => inner.makeRequest(host, port, '/stripe' + path, method, headers, body, protocol, timeout);
    const stripe = new Stripe(key.vault_key, { host: url.hostname, port: Number(url.port), protocol: 'http', httpClient, maxNetworkRetries: 2, telemetry: false });
    const before = (await svc.admin().get('/approvals').query({ key_id: key.id })).body.data.length as number;
    const err = (await stripe.paymentIntents.create({ amount: 240_000, currency: 'usd' }).catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(err).toBeInstanceOf(Stripe.errors.StripeError);
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('approval_required');
    expect(err.message).toMatch(/asks a person to approve POST \/v1\/payment_intents for \$2,400\.00/);
    expect((await svc.admin().get('/approvals').query({ key_id: key.id })).body.data.length).toBe(before + 1);
  });
});
