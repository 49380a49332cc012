// Webhook alerts: a receiver that fails its first three deliveries still gets every event exactly once per
// threshold and window, with valid signatures, also when the service restarts between attempts.
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { bodyFor } from '../../service/alerts/events';
import { loadConfig } from '../../service/config';
import { startServer, type Running } from '../../service/server';
import { openDb } from '../../service/store/db';
import { startFakeStripe, type FakeStripe } from '../helpers/fake-stripe';
import { ADMIN_KEY, call, serviceEnv } from '../helpers/service';
import { createTestStore, describeEachStore, type TestStore } from '../helpers/stores';
import { waitFor } from '../helpers/wait';

interface Delivery {
  path: string;
  body: string;
  signature: string;
  eventId: string;
}

describeEachStore('webhook alerts', (storeName) => {
  let receiver: Server;
  let receiverUrl = '';
  let failuresLeft = 3;
  const ok: Delivery[] = [];
  const failed: Delivery[] = [];
  let fake: FakeStripe;
  let store: TestStore;
  let running: Running | undefined;
  let env: Record<string, string>;
  const start = async (): Promise<Running> => (running = await startServer(loadConfig(env), { log: pino({ level: 'silent' }), announce: () => undefined }));
  const admin = () => request.agent(running!.url).set('authorization', `Bearer ${ADMIN_KEY}`);

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const d = { path: req.url ?? '', body: Buffer.concat(chunks).toString(), signature: String(req.headers['keybrake-signature']), eventId: String(req.headers['keybrake-event-id']) };
        if (failuresLeft > 0) {
          failuresLeft--;
          failed.push(d);
          res.writeHead(500).end('try later');
        } else {
          ok.push(d);
          res.writeHead(204).end();
        }
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    fake = await startFakeStripe();
    store = await createTestStore(storeName);
    const config = join(mkdtempSync(join(tmpdir(), 'kb-hooks-')), 'keybrake.yaml');
    writeFileSync(config, `webhooks:\n  - url: ${receiverUrl}/global\n`);
    env = serviceEnv(store, fake, { KEYBRAKE_CONFIG: config, KEYBRAKE_WEBHOOK_POLL_MS: '25', KEYBRAKE_WEBHOOK_BACKOFF_MS: '400' });
    await start();
  });
  afterAll(async () => {
    await running?.close();
    await store.drop();
    await fake.close();
    await new Promise((r) => receiver.close(r));
  });

  test('thresholds, the cap, revocation and expiry, each delivered once to each target, across a restart', async () => {
    const issued = await admin()
      .post('/vault/keys')
      .send({ vendor: 'stripe', daily_usd_cap: 10, alert_thresholds: [0.5, 0.8], webhook_url: `${receiverUrl}/key`, allowed_endpoints: ['POST /v1/charges'], label: 'hooks' });
    const key = issued.body as { id: string; vault_key: string };
    const charge = (cents: number, n: number) => call(running!.url, '/stripe/v1/charges', { key: key.vault_key, form: `amount=${cents}&currency=usd&description=c${n}` });
    expect((await charge(600, 1)).status).toBe(200); // 60%: crosses 0.5
    expect((await charge(300, 2)).status).toBe(200); // 90%: crosses 0.8
    expect((await charge(100, 3)).status).toBe(200); // 100%: no new threshold
    expect((await charge(100, 4)).status).toBe(429); // cap.exceeded
    expect((await charge(100, 5)).status).toBe(429); // still the same window: no second cap.exceeded

    const expiring = (await admin().post('/vault/keys').send({ vendor: 'stripe', daily_usd_cap: 1, allowed_endpoints: ['*'], label: 'expiring', expires_in: '30m' })).body as { id: string };

    // Restart between attempts: once the receiver has refused the first deliveries, stop; while the service is
    // down the other key expires; then start again.
    await waitFor(() => failed.length === 3);
    await running!.close();
    running = undefined;
    const db = openDb(store.target);
    await db.knex('vault_keys').where({ id: expiring.id }).update({ expires_at: Date.now() - 1000 });
    await db.knex.destroy();
    await start();
    expect((await admin().delete(`/vault/keys/${key.id}`)).status).toBe(200);

    // 4 events for the key to each of its 2 targets, and the expired key's event to the global target.
    await waitFor(() => ok.length >= 9);
    await new Promise((r) => setTimeout(r, 500));
    expect(ok.length).toBe(9);
    const parsed = ok.map((d) => ({ ...d, event: JSON.parse(d.body) as { id: string; type: string; data: Record<string, unknown> } }));
    const pairs = parsed.map((d) => `${d.path} ${d.event.type} ${String(d.event.data.threshold ?? '')}`).sort();
    expect(pairs).toEqual([
      '/global cap.exceeded ',
      '/global cap.threshold 0.5',
      '/global cap.threshold 0.8',
      '/global key.expired ',
      '/global key.revoked ',
      '/key cap.exceeded ',
      '/key cap.threshold 0.5',
      '/key cap.threshold 0.8',
      '/key key.revoked ',
    ]);
    expect(new Set(parsed.map((d) => `${d.path} ${d.event.id}`)).size).toBe(9);
    expect(parsed.find((d) => d.event.type === 'cap.threshold' && d.event.data.threshold === 0.8)!.event.data).toMatchObject({ key_id: key.id, cap_usd: 10, spent_usd: 9, cap: 'daily' });
    expect(parsed.find((d) => d.event.type === 'cap.exceeded')!.event.data).toMatchObject({ spent_usd: 10, refused_usd: 1 });

    const { secret } = (await admin().get('/webhooks/signing-secret')).body as { secret: string };
    for (const d of [...ok, ...failed]) {
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(d.signature);
      expect(m).not.toBeNull();
      expect(m![2]).toBe(createHmac('sha256', secret).update(`${m![1]}.${d.body}`).digest('hex'));
    }

    const deliveries = (await admin().get('/webhooks/deliveries').query({ key_id: key.id })).body.data as { status: string; attempts: number; attempt_log: { status: number }[] }[];
    expect(deliveries.length).toBe(8);
    expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
    expect(deliveries.reduce((n, d) => n + d.attempt_log.filter((a) => a.status === 500).length, 0)).toBe(3);
    expect(deliveries.reduce((n, d) => n + d.attempts, 0)).toBe(8 + 3);
  });

  test('a Slack incoming webhook gets a readable text payload', () => {
    const payload = JSON.stringify({ id: 'evt_1', type: 'cap.threshold', data: { key_id: 'vk_1', label: 'conv-1', vendor: 'stripe', cap: 'daily', threshold: 0.8, cap_usd: 200, spent_usd: 162 } });
    expect(JSON.parse(bodyFor('https://hooks.slack.com/services/T0/B0/x', payload))).toEqual({ text: 'Keybrake: key conv-1 (vk_1, stripe) reached 80% of its daily cap: $162.00 of $200.00.' });
    expect(bodyFor('https://example.com/hook', payload)).toBe(payload);
  });
});
