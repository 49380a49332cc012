// Alerts by email, on both stores, against a local SMTP server (smtp-server) started here: the threshold and the
// exceeded mails arrive once each with the right recipients and content; with the SMTP server down, the deliveries
// fail and are retried, and the mail arrives once it is up, also when the service was killed (SIGKILL) between the
// reservation that raised the event and the delivery.
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import request from 'supertest';
import { loadConfig } from '../../service/config';
import { startServer, type Running } from '../../service/server';
import { startFakeStripe, type FakeStripe } from '../helpers/fake-stripe';
import { spawnService } from '../helpers/process';
import { ADMIN_KEY, call, serviceEnv } from '../helpers/service';
import { createTestStore, describeEachStore, type TestStore } from '../helpers/stores';
import { waitFor } from '../helpers/wait';

interface Received {
  to: string[];
  mail: ParsedMail;
}

/** A local SMTP server: no TLS, no authentication, every message parsed. */
async function startSmtp(inbox: Received[], port = 0): Promise<{ server: SMTPServer; port: number }> {
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, done) {
      simpleParser(stream)
        .then((mail) => {
          inbox.push({ to: session.envelope.rcptTo.map((r) => r.address), mail });
          done();
        })
        .catch(done);
    },
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  return { server, port: (server.server.address() as AddressInfo).port };
}

const stopSmtp = (server: SMTPServer): Promise<void> => new Promise((r) => server.close(() => r()));

describeEachStore('email alerts', (storeName) => {
  const inbox: Received[] = [];
  let smtp: { server: SMTPServer; port: number };
  let fake: FakeStripe;
  let store: TestStore;
  let running: Running | undefined;
  let env: Record<string, string>;
  const admin = (): request.Agent => request.agent(running!.url).set('authorization', `Bearer ${ADMIN_KEY}`);

  beforeAll(async () => {
    smtp = await startSmtp(inbox);
    fake = await startFakeStripe();
    store = await createTestStore(storeName);
    const config = join(mkdtempSync(join(tmpdir(), 'kb-mail-')), 'keybrake.yaml');
    writeFileSync(config, 'emails:\n  - to: [ops@example.com, finance@example.com]\n    events: [cap.exceeded]\n');
    env = serviceEnv(store, fake, {
      KEYBRAKE_CONFIG: config,
      KEYBRAKE_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      KEYBRAKE_ALERT_FROM: 'Keybrake <alerts@example.com>',
      KEYBRAKE_PUBLIC_URL: 'https://keybrake.example.com',
      KEYBRAKE_WEBHOOK_POLL_MS: '25',
      KEYBRAKE_WEBHOOK_BACKOFF_MS: '300',
    });
    running = await startServer(loadConfig(env), { log: pino({ level: 'silent' }), announce: () => undefined });
  });
  afterAll(async () => {
    await running?.close();
    await store.drop();
    await fake.close();
    await stopSmtp(smtp.server);
  });

  test('the threshold and the exceeded mails arrive once each, to the key\'s and the configured recipients, with what happened', async () => {
    const issued = await admin()
      .post('/vault/keys')
      .send({ vendor: 'stripe', daily_usd_cap: 10, alert_thresholds: [0.8], alert_emails: ['owner@example.com'], allowed_endpoints: ['POST /v1/charges'], label: 'mail-me' });
    expect(issued.status).toBe(201);
    expect(issued.body.warnings ?? []).toEqual([]);
    expect(issued.body.alert_emails).toEqual(['owner@example.com']);
    const key = issued.body as { id: string; vault_key: string };
    const charge = (cents: number, n: number): ReturnType<typeof call> => call(running!.url, '/stripe/v1/charges', { key: key.vault_key, form: `amount=${cents}&currency=usd&description=c${n}` });
    expect((await charge(900, 1)).status).toBe(200); // 90%: cap.threshold 0.8
    expect((await charge(200, 2)).status).toBe(429); // cap.exceeded
    expect((await charge(200, 3)).status).toBe(429); // the same window: no second cap.exceeded

    // cap.threshold to the key's recipient; cap.exceeded to it and to both configured recipients.
    await waitFor(() => inbox.length >= 4);
    await new Promise((r) => setTimeout(r, 400));
    const got = inbox.splice(0).map((r) => ({ to: r.to.join(','), subject: r.mail.subject ?? '', text: r.mail.text ?? '', html: String(r.mail.html), from: r.mail.from?.value[0] }));
    expect(got.map((m) => `${m.to} ${/reached|hit/.exec(m.subject)?.[0] ?? m.subject}`).sort()).toEqual([
      'finance@example.com hit',
      'ops@example.com hit',
      'owner@example.com hit',
      'owner@example.com reached',
    ]);
    const threshold = got.find((m) => m.subject.includes('reached'))!;
    expect(threshold.from).toMatchObject({ name: 'Keybrake', address: 'alerts@example.com' });
    expect(threshold.subject).toBe(`Keybrake: key mail-me (${key.id}, stripe) reached 80% of its daily cap: $9.00 of $10.00.`);
    expect(threshold.text).toContain(`Key: mail-me (${key.id})`);
    expect(threshold.text).toContain('Spend against the daily cap: $9.00 of $10.00');
    expect(threshold.text).toMatch(/Resets: \d{4}-\d{2}-\d{2}T00:00:00\.000Z/);
    expect(threshold.text).toContain(`In the console: https://keybrake.example.com/console/#/keys/${key.id}`);
    expect(threshold.html).toContain(`<a href="https://keybrake.example.com/console/#/keys/${key.id}">`);
    const exceeded = got.find((m) => m.to === 'ops@example.com')!;
    expect(exceeded.subject).toContain('hit its daily cap of $10.00; a $2.00 call was refused');
    // No secret, vault key or request body in any mail.
    for (const m of got) {
      for (const secret of [key.vault_key, fake.secret, 'description=c', 'amount=']) expect([m.subject, m.text, m.html].join('\n')).not.toContain(secret);
    }
    const deliveries = (await admin().get('/webhooks/deliveries').query({ key_id: key.id, channel: 'email' })).body.data as { url: string; status: string; channel: string; attempt_log: { status: number }[] }[];
    expect(deliveries.map((d) => [d.url, d.status, d.channel, d.attempt_log.map((a) => a.status)]).sort()).toEqual([
      ['mailto:finance@example.com', 'delivered', 'email', [250]],
      ['mailto:ops@example.com', 'delivered', 'email', [250]],
      ['mailto:owner@example.com', 'delivered', 'email', [250]],
      ['mailto:owner@example.com', 'delivered', 'email', [250]],
    ]);
  });

  test('approval.requested is mailed with its signed approve and deny links, which open the confirmation page', async () => {
    const key = (await admin().post('/vault/keys').send({ vendor: 'stripe', daily_usd_cap: 100, approval_above_usd: 5, alert_emails: ['approver@example.com'], allowed_endpoints: ['POST /v1/charges'], label: 'needs-ok' })).body as { id: string; vault_key: string };
    const asked = await call(running!.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=4200&currency=usd' });
    expect(asked.body.error?.code).toBe('approval_required');
    await waitFor(() => inbox.some((r) => r.to.includes('approver@example.com')));
    const [mail] = inbox.splice(0).filter((r) => r.to.includes('approver@example.com'));
    expect(mail!.mail.subject).toBe(`Keybrake: key needs-ok (${key.id}, stripe) asks a person to approve POST /v1/charges for $42.00 (it is priced at $42.00, above $5.00, the most this key spends on one call without a person's approval).`);
    const text = mail!.mail.text ?? '';
    const approve = /^Approve: (\S+)$/m.exec(text)?.[1];
    expect(approve).toMatch(new RegExp(`^https://keybrake\\.example\\.com/approvals/${asked.body.error?.approval_id as string}/review\\?action=approve&token=`));
    expect(text).toMatch(/^Deny: https:\/\/keybrake\.example\.com\/approvals\/apr_\w+\/review\?action=deny&token=/m);
    // The link works against this instance (KEYBRAKE_PUBLIC_URL only names where people reach it).
    const page = await fetch(approve!.replace('https://keybrake.example.com', running!.url));
    expect([page.status, (await page.text()).includes('Approve this call?')]).toEqual([200, true]);
  });

  test('SMTP down, then up: the failures show in the deliveries, and the mail arrives after the retry', async () => {
    await stopSmtp(smtp.server);
    const key = (await admin().post('/vault/keys').send({ vendor: 'stripe', daily_usd_cap: 10, alert_thresholds: [0.5], alert_emails: ['late@example.com'], allowed_endpoints: ['POST /v1/charges'], label: 'smtp-down' })).body as { id: string; vault_key: string };
    expect((await call(running!.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=600&currency=usd' })).status).toBe(200);
    const failures = async (): Promise<{ status: string; last_error: string | null; attempts: number }> =>
      ((await admin().get('/webhooks/deliveries').query({ key_id: key.id, channel: 'email' })).body.data as { status: string; last_error: string | null; attempts: number }[])[0]!;
    let seen = await failures();
    for (let i = 0; i < 200 && seen.attempts < 2; i++) {
      await new Promise((r) => setTimeout(r, 25));
      seen = await failures();
    }
    expect(seen).toMatchObject({ status: 'pending', last_error: expect.stringMatching(/^ECONNECTION|^ESOCKET|ECONNREFUSED/) });
    expect(seen.last_error).not.toContain(`${smtp.port}@`);
    smtp = await startSmtp(inbox, smtp.port);
    await waitFor(() => inbox.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(inbox.splice(0).map((r) => [r.to.join(','), r.mail.subject?.includes('reached 50%')])).toEqual([['late@example.com', true]]);
    expect((await failures()).status).toBe('delivered');
  });

  test('killed between the reservation and the delivery, nothing is lost: the next start mails it once', async () => {
    await stopSmtp(smtp.server);
    await running!.close();
    running = undefined;
    const child = await spawnService({ ...env, PORT: '0' });
    try {
      const adminChild = (): request.Agent => request.agent(child.url).set('authorization', `Bearer ${ADMIN_KEY}`);
      const key = (await adminChild().post('/vault/keys').send({ vendor: 'stripe', daily_usd_cap: 10, alert_thresholds: [0.5], alert_emails: ['crash@example.com'], allowed_endpoints: ['POST /v1/charges'], label: 'crash' })).body as { id: string; vault_key: string };
      expect((await call(child.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=700&currency=usd' })).status).toBe(200);
      child.child.kill('SIGKILL');
      await new Promise((r) => child.child.once('exit', r));
    } finally {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    }
    smtp = await startSmtp(inbox, smtp.port);
    running = await startServer(loadConfig(env), { log: pino({ level: 'silent' }), announce: () => undefined });
    await waitFor(() => inbox.some((r) => r.to.includes('crash@example.com')), 40_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(inbox.splice(0).filter((r) => r.to.includes('crash@example.com')).map((r) => r.mail.subject?.includes('reached 50%'))).toEqual([true]);
  }, 60_000);
});

describe('email configuration', () => {
  const base = { PORT: '0', KEYBRAKE_ADMIN_KEY: ADMIN_KEY, KEYBRAKE_SQLITE_PATH: join(tmpdir(), 'unused.db') };
  test.each([
    [{ KEYBRAKE_SMTP_URL: 'http://mail.example.com', KEYBRAKE_ALERT_FROM: 'a@example.com' }, /^KEYBRAKE_SMTP_URL: expected an smtp:\/\/ or smtps:\/\/ URL, not http:\/\/$/],
    [{ KEYBRAKE_SMTP_URL: 'smtps://user:hunter2@', KEYBRAKE_ALERT_FROM: 'a@example.com' }, /^KEYBRAKE_SMTP_URL: expected /],
    [{ KEYBRAKE_SMTP_URL: 'smtps://user:hunter2@smtp.example.com:465' }, /^KEYBRAKE_ALERT_FROM: expected the address alert mails are sent from/],
    [{ KEYBRAKE_SMTP_URL: 'smtps://user:hunter2@smtp.example.com:465', KEYBRAKE_ALERT_FROM: 'not an address' }, /^KEYBRAKE_ALERT_FROM: /],
    [{ KEYBRAKE_ALERT_FROM: 'a@example.com' }, /^KEYBRAKE_SMTP_URL: .*no server to send alert mails through/],
  ])('a bad SMTP setting stops the start with one line naming it: %j', (env, line) => {
    let message = '';
    try {
      loadConfig({ ...base, ...env });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(line);
    expect(message).not.toContain('\n');
    expect(message).not.toContain('hunter2');
  });

  test('emails in KEYBRAKE_CONFIG need KEYBRAKE_SMTP_URL, and each recipient must be an address', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kb-mailcfg-'));
    const file = (text: string): string => {
      const path = join(dir, `${Math.random()}.yaml`);
      writeFileSync(path, text);
      return path;
    };
    expect(() => loadConfig({ ...base, KEYBRAKE_CONFIG: file('emails:\n  - to: ops@example.com\n') })).toThrow(/^KEYBRAKE_SMTP_URL: .*KEYBRAKE_CONFIG lists emails/);
    expect(() => loadConfig({ ...base, KEYBRAKE_CONFIG: file('emails:\n  - to: "ops@example.com\\nBcc: x@evil.test"\n') })).toThrow(/emails\.0\.to: /);
    const ok = loadConfig({ ...base, KEYBRAKE_SMTP_URL: 'smtp://127.0.0.1:2525', KEYBRAKE_ALERT_FROM: 'a@example.com', KEYBRAKE_CONFIG: file('emails:\n  - to: ops@example.com\n    events: [approval.requested]\n') });
    expect(ok.webhooks).toEqual([{ url: 'mailto:ops@example.com', events: ['approval.requested'] }]);
  });
});
