// A caller that goes away never wedges its key: every wait on a caller ends when it leaves, a key's turn is always
// given back, a slow upload holds no turn (its body is read first, within a time limit), and the wait for a turn
// is bounded. After each case the gate holds no turns and no waits.
import { request, type ClientRequest } from 'node:http';
import { call, useStripeService, type TestService } from '../helpers/service';
import type { FakeStripe } from '../helpers/fake-stripe';
import { describeEachStore } from '../helpers/stores';

/** A raw call that gives up after `abortMs`, as `curl -m` does. */
function giveUpAfter(url: string, key: string, body: string, abortMs: number): Promise<'gave up' | number> {
  return new Promise((done) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/stripe/v1/charges', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', () => done('gave up'));
    setTimeout(() => {
      req.destroy();
      done('gave up');
    }, abortMs);
    req.end(body);
  });
}

/** Starts a call whose body trickles in a byte at a time, and never finishes on its own. */
function trickle(url: string, key: string): { req: ClientRequest; status: Promise<number> } {
  const u = new URL(url);
  const body = 'amount=100&currency=usd&source=tok_visa';
  const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/stripe/v1/charges', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) } });
  const status = new Promise<number>((ok) => {
    req.on('response', (res) => {
      clearInterval(timer);
      res.resume();
      ok(res.statusCode ?? 0);
    });
    req.on('error', () => {
      clearInterval(timer);
      ok(0);
    });
  });
  let i = 0;
  req.write(body[i++]);
  const timer = setInterval(() => (i < body.length - 1 ? req.write(body[i++]) : undefined), 200);
  return { req, status };
}

const idle = async (svc: TestService): Promise<void> => {
  for (let i = 0; i < 100 && (svc.running.gate.total().active > 0 || svc.running.gate.total().waiting > 0); i++) await new Promise((r) => setTimeout(r, 50));
};

describeEachStore('callers that go away', (storeName) => {
  const ctx = useStripeService(storeName, { KEYBRAKE_BODY_TIMEOUT_MS: '1500', KEYBRAKE_TURN_WAIT_MS: '2000', KEYBRAKE_UPSTREAM_TIMEOUT_MS: '1000' });
  let fake: FakeStripe;
  let svc: TestService;
  beforeAll(() => ({ fake, svc } = ctx));
  afterEach(() => (fake.override = undefined));

  const issue = () => svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10_000, allowed_endpoints: ['*'], dedupe_window: 'off' });

  test('32 callers that give up after 100 ms on a vendor that takes 300 ms leave the key answering', async () => {
    const key = await issue();
    fake.override = (r) => (r.path === '/v1/charges' ? { status: 200, body: { id: `ch_slow_${Math.random()}`, object: 'charge', amount: 100, currency: 'usd' }, delayMs: 300 } : undefined);
    const results = await Promise.all(Array.from({ length: 32 }, (_, i) => giveUpAfter(svc.url, key.vault_key, `amount=100&currency=usd&source=tok_visa&description=n${i}`, 100)));
    expect(results.every((r) => r === 'gave up')).toBe(true);
    fake.override = undefined;
    await idle(svc);
    expect(svc.running.gate.total()).toEqual({ active: 0, waiting: 0, keys: 0 });
    const started = Date.now();
    const next = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=100&currency=usd&source=tok_visa' });
    expect(next.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);
    // Every one of the 33 calls has its audit row: the abandoned ones as forwarded, or refused as client_closed.
    const rows = (await (await svc.db()).knex('audit_log').where({ key_id: key.id })) as { code: string | null }[];
    expect(rows).toHaveLength(33);
  });

  test('two bodies trickling in hold no turn: the key\'s other calls pass, and the trickles end in 408', async () => {
    const key = await issue();
    const slow = [trickle(svc.url, key.vault_key), trickle(svc.url, key.vault_key)];
    await new Promise((r) => setTimeout(r, 200));
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t = Date.now();
      expect((await call(svc.url, '/stripe/v1/customers/cus_none', { key: key.vault_key })).status).toBe(404);
      times.push(Date.now() - t);
    }
    expect(Math.max(...times)).toBeLessThan(500);
    expect(await Promise.all(slow.map((s) => s.status))).toEqual([408, 408]);
    const rows = (await (await svc.db()).knex('audit_log').where({ key_id: key.id, code: 'request_timeout' })) as unknown[];
    expect(rows).toHaveLength(2);
    await idle(svc);
    expect(svc.running.gate.total()).toEqual({ active: 0, waiting: 0, keys: 0 });
  });

  test('the wait for a turn is bounded: past it the call is answered 429 rate_limited with Retry-After', async () => {
    const key = await issue();
    fake.override = (r) => (r.path === '/v1/customers/cus_slow' ? { status: 200, body: { id: 'cus_slow' }, delayMs: 900 } : undefined);
    const all = await Promise.all(Array.from({ length: 30 }, () => call(svc.url, '/stripe/v1/customers/cus_slow', { key: key.vault_key })));
    // Eight at a time while the key is alone, 900 ms each: within a 2 s wait two rounds pass, the rest are told to wait.
    const refused = all.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(all.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(8);
    expect(refused[0]!.body.error).toMatchObject({ code: 'rate_limited' });
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    await idle(svc);
    expect(svc.running.gate.total()).toEqual({ active: 0, waiting: 0, keys: 0 });
  });

  test('after a vendor reset, a vendor timeout, and callers leaving mid-answer, the gate is empty', async () => {
    const key = await issue();
    fake.override = (r) => (r.body.includes('reset') ? 'reset' : r.body.includes('hang') ? 'hang' : r.body.includes('slow') ? { status: 200, body: { id: 'ch_s', amount: 100, currency: 'usd' }, delayMs: 400 } : undefined);
    const reset = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=100&currency=usd&description=reset' });
    expect(reset.body.error?.code).toBe('upstream_unreachable');
    const hung = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=100&currency=usd&description=hang' });
    expect(hung.body.error?.code).toBe('upstream_timeout');
    expect(await giveUpAfter(svc.url, key.vault_key, 'amount=100&currency=usd&description=slow', 100)).toBe('gave up');
    await idle(svc);
    expect(svc.running.gate.total()).toEqual({ active: 0, waiting: 0, keys: 0 });
    const ok = await call(svc.url, '/stripe/v1/customers/cus_none', { key: key.vault_key });
    expect(ok.status).toBe(404);
  });
});
