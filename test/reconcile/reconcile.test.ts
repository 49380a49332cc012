// Calls whose outcome is unknown are reconciled by asking the vendor, with GETs only: the vendor did it (settled
// to its amount, and an identical request gets its answer), the vendor never got it (released, and nothing sent
// again), the vendor is down (left pending, asked again with a growing delay). People can settle or release what
// cannot be looked up. Against fakes of Stripe, Twilio and Resend that remember what they did.
import pino from 'pino';
import { nextDue } from '../../service/reconcile/worker';
import { loadConfig } from '../../service/config';
import { startServer } from '../../service/server';
import { useWorld, type World } from '../adversarial/harness';
import { call, serviceEnv } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

interface Row {
  id: string;
  status: number | null;
  reserved_micros: number;
  settled_micros: number | null;
  reconcile_state: string | null;
  reconcile_attempts: number | null;
  reconcile_next_at: number | null;
  reconcile_note: string | null;
  object_id: string | null;
}

const SAMPLES = {
  stripe: { path: '/stripe/v1/payment_intents', form: 'amount=2500&currency=usd&confirm=true', micros: 25_000_000 },
  twilio: { path: '/twilio/2010-04-01/Accounts/self/Messages.json', form: 'To=%2B15558675310&From=%2B15017122661&Body=Your%20code%20is%201234', micros: 14_500 },
  resend: { path: '/resend/emails', json: { from: 'a@acme.test', to: ['ann@example.com'], subject: 'Receipt 42', text: 'Thanks' }, micros: 900 },
} as const;
type V = keyof typeof SAMPLES;

async function send(world: World, vendor: V, key: string): ReturnType<typeof call> {
  const s = SAMPLES[vendor];
  return call(world.svc.url, s.path, { key, ...('json' in s ? { json: s.json } : { form: s.form }) });
}

const rowsOf = async (world: World, keyId: string): Promise<Row[]> => (await (await world.svc.db()).knex('audit_log').where({ key_id: keyId }).orderBy('id')) as Row[];
const spent = async (world: World, keyId: string): Promise<number> => Math.round(Number((await world.svc.admin().get(`/vault/keys/${keyId}`)).body.spent_today_usd) * 1e6);

describeEachStore('reconciliation', (storeName) => {
  const world = useWorld(storeName, { KEYBRAKE_UPSTREAM_TIMEOUT_MS: '700', KEYBRAKE_RECONCILE_DELAY_MS: '1', KEYBRAKE_RECONCILE_POLL_MS: '3600000' });
  afterEach(() => {
    for (const v of ['stripe', 'twilio', 'resend'] as const) Object.assign(world[v], { lose: undefined, down: false });
  });
  const issue = (vendor: V) => world.svc.issueKey({ vendor, daily_usd_cap: 100, allowed_endpoints: ['*'] });
  const tick = async (): Promise<void> => {
    await new Promise((r) => setTimeout(r, 5));
    await world.svc.running.reconciler.tick();
  };

  describe.each(['stripe', 'twilio', 'resend'] as const)('%s', (vendor) => {
    test('the vendor did it but the answer was lost: settled to its amount, and an identical request gets its answer', async () => {
      const key = await issue(vendor);
      world[vendor].lose = (r) => (r.method === 'POST' ? 'after' : undefined);
      const first = await send(world, vendor, key.vault_key);
      expect(first.body.error?.code).toBe('upstream_timeout');
      const [row] = await rowsOf(world, key.id);
      expect(row).toMatchObject({ reconcile_state: 'pending', reserved_micros: SAMPLES[vendor].micros });
      world[vendor].lose = undefined;

      const waiting = await send(world, vendor, key.vault_key);
      expect([waiting.status, waiting.body.error?.code]).toEqual([409, 'duplicate_reconciling']);
      expect(String(waiting.body.error?.message)).toMatch(/asking .* whether it took effect/);

      await tick();
      const [done] = await rowsOf(world, key.id);
      expect(done).toMatchObject({ reconcile_state: 'settled', settled_micros: SAMPLES[vendor].micros });
      expect(done!.object_id).toBeTruthy();
      expect(done!.reconcile_note).toMatch(/^reconciler: .* made|sent/);
      expect(await spent(world, key.id)).toBe(SAMPLES[vendor].micros);

      const posts = world[vendor].received.filter((r) => r.method === 'POST').length;
      const again = await send(world, vendor, key.vault_key);
      expect(again.status).toBe(200);
      expect(again.headers.get('x-keybrake-replayed-from')).toBe(row!.id);
      expect(world[vendor].received.filter((r) => r.method === 'POST').length).toBe(posts);
      expect(world[vendor].received.filter((r) => r.method !== 'GET' && r.method !== 'POST')).toEqual([]);
    });

    test('the vendor never got it: released, and an identical request is then made once', async () => {
      const key = await issue(vendor);
      world[vendor].lose = (r) => (r.method === 'POST' ? 'before' : undefined);
      expect((await send(world, vendor, key.vault_key)).body.error?.code).toBe('upstream_timeout');
      world[vendor].lose = undefined;
      const postsBefore = world[vendor].received.filter((r) => r.method === 'POST').length;
      await tick();
      const [row] = await rowsOf(world, key.id);
      expect(row).toMatchObject({ reconcile_state: 'released', settled_micros: 0 });
      expect(await spent(world, key.id)).toBe(0);
      // The reconciler only looked: it sent nothing again.
      expect(world[vendor].received.filter((r) => r.method === 'POST').length).toBe(postsBefore);
      const retried = await send(world, vendor, key.vault_key);
      expect(retried.status).toBeLessThan(300);
      expect(world[vendor].received.filter((r) => r.method === 'POST').length).toBe(postsBefore + 1);
      expect(await spent(world, key.id)).toBe(SAMPLES[vendor].micros);
    });

    test('the vendor is still down: left pending and asked again later, with a growing delay', async () => {
      const key = await issue(vendor);
      world[vendor].lose = (r) => (r.method === 'POST' ? 'after' : undefined);
      await send(world, vendor, key.vault_key);
      world[vendor].lose = undefined;
      world[vendor].down = true;
      await tick();
      let [row] = await rowsOf(world, key.id);
      expect(row).toMatchObject({ reconcile_state: 'pending', reconcile_attempts: 1 });
      expect(row!.reconcile_note).toMatch(/attempt 1: .*503/);
      const firstDue = Number(row!.reconcile_next_at);
      await new Promise((r) => setTimeout(r, 10));
      await tick();
      [row] = await rowsOf(world, key.id);
      expect(row!.reconcile_attempts).toBe(2);
      // Asked again later than the first time, after a delay that doubles with each attempt (this test's delay is
      // 1 ms, so the doubling itself is checked on the schedule, not on the clock).
      expect(Number(row!.reconcile_next_at)).toBeGreaterThan(firstDue);
      expect([1, 2, 3].map((n) => nextDue(0, 60_000, n))).toEqual([120_000, 240_000, 480_000]);
      expect(await spent(world, key.id)).toBe(SAMPLES[vendor].micros); // the reservation stands meanwhile
      world[vendor].down = false;
      await new Promise((r) => setTimeout(r, 10));
      await tick();
      [row] = await rowsOf(world, key.id);
      expect(row!.reconcile_state).toBe('settled');
    });
  });

  test('a person settles or releases what is waiting, and it is recorded in the audit row', async () => {
    const key = await issue('stripe');
    world.stripe.lose = (r) => (r.method === 'POST' ? 'after' : undefined);
    await send(world, 'stripe', key.vault_key);
    await call(world.svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=1000&currency=usd' });
    world.stripe.lose = undefined;
    const listed = await world.svc.admin().get('/audit').query({ reconcile: 'pending', key_id: key.id });
    expect(listed.body.data.map((r: { reconcile_state: string }) => r.reconcile_state)).toEqual(['pending', 'pending']);
    const [a, b] = listed.body.data as { id: string }[];
    const bad = await world.svc.admin().post(`/audit/${a!.id}/settle`).send({ usd: -1 });
    expect([bad.status, bad.body.error?.param]).toEqual([400, 'usd']);
    const settled = await world.svc.admin().post(`/audit/${a!.id}/settle`).send({ usd: 7.5, note: 'seen in the dashboard' });
    expect(settled.body).toMatchObject({ reconcile_state: 'settled', settled_usd: 7.5 });
    expect(settled.body.reconcile_note).toMatch(/settled by an admin at .* to \$7\.5: seen in the dashboard/);
    const released = await world.svc.admin().post(`/audit/${b!.id}/release`).send({});
    expect(released.body).toMatchObject({ reconcile_state: 'released', settled_usd: 0 });
    expect(await spent(world, key.id)).toBe(7_500_000);
    const twice = await world.svc.admin().post(`/audit/${a!.id}/release`).send({});
    expect(twice.status).toBe(404);
    expect((await world.svc.admin().get('/audit').query({ reconcile: 'pending', key_id: key.id })).body.data).toEqual([]);
  });

  test('a settlement never written (the process stopped) is found, marked and reconciled', async () => {
    const key = await issue('stripe');
    const ok = await call(world.svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=4200&currency=usd&confirm=true' });
    expect(ok.status).toBe(200);
    const db = await world.svc.db();
    // As a crash between forwarding and settling leaves it: no status, the reservation standing, long ago.
    await db.knex('audit_log').where({ key_id: key.id }).update({ status: null, settled_micros: null, ts: Date.now() - 3_600_000 });
    // The instance that comes up after the crash looks back a day.
    const restarted = await startServer(loadConfig(serviceEnv(world.svc.store, undefined, world.env)), { log: pino({ level: 'silent' }), announce: () => undefined });
    try {
      // One pass finds the row, marks it, and asks Stripe (the metadata names the call).
      await restarted.reconciler.tick();
    } finally {
      await restarted.close();
    }
    const [done] = await rowsOf(world, key.id);
    expect(done).toMatchObject({ reconcile_state: 'settled', settled_micros: 42_000_000 });
  });
});
