// The official twilio and resend clients, pointed at the proxy with a vault key (configs from vendors.md §5),
// against Prism serving the vendors' own OpenAPI documents from test/fixtures/vendor-specs.
import { Resend } from 'resend';
import twilio from 'twilio';
import { startPrism, type Prism } from '../helpers/prism';
import { specPath } from '../helpers/specs';
import { startTestService, type TestService } from '../helpers/service';

const REAL_SID = 'AC' + 'a'.repeat(32);

interface AuditRow {
  decision: string;
  code: string | null;
  path: string;
  request_body: string | null;
  estimated_micros: number;
  status: number;
  object_id: string | null;
}

describe('twilio-node through the proxy, against Prism serving twilio_api_v2010.json', () => {
  let prism: Prism;
  let svc: TestService;
  beforeAll(async () => {
    prism = await startPrism(specPath('twilio/twilio_api_v2010.json'));
    svc = await startTestService('sqlite', undefined, { KEYBRAKE_UPSTREAM_TWILIO: prism.url, TWILIO_ACCOUNT_SID: REAL_SID, TWILIO_AUTH_TOKEN: 'real-token-0123' });
  }, 90_000);
  afterAll(async () => {
    await svc?.close();
    await prism?.stop();
  });

  const audit = async (keyId: string): Promise<AuditRow[]> => (await (await svc.db()).knex('audit_log').where({ key_id: keyId }).orderBy('ts').orderBy('id')) as AuditRow[];

  test('sends SMS priced by segments, injects TimeLimit on calls, and surfaces the cap as a readable error', async () => {
    const key = await svc.issueKey({
      vendor: 'twilio',
      daily_usd_cap: 0.06,
      allowed_endpoints: ['POST /2010-04-01/Accounts/{sid}/Messages.json', 'POST /2010-04-01/Accounts/{sid}/Calls.json'],
      max_call_seconds: 120,
    });
    // The caller knows neither the Account SID nor the auth token: the vault key is its password.
    const client = twilio('AC' + 'f'.repeat(32), key.vault_key);
    client.api.baseUrl = `${svc.url}/twilio`;

    const sms = await client.messages.create({ to: '+15558675310', from: '+15017122661', body: 'x'.repeat(161) });
    expect(sms.sid).toMatch(/^SM/);
    const call = await client.calls.create({ to: '+15558675310', from: '+15017122661', twiml: '<Response><Say>Hi</Say></Response>' });
    expect(call.sid).toMatch(/^CA/);

    const err = (await client.messages.create({ to: '+15558675310', from: '+15017122661', body: 'hello' }).catch((e: unknown) => e)) as { status: number; code: string; message: string };
    expect(err.status).toBe(429);
    expect(err.code).toBe('daily_cap_exceeded');
    expect(err.message).toMatch(/Spending cap reached: this vault key may spend \$0\.06 per day.*Retrying will not help/);

    const rows = await audit(key.id);
    expect(rows.map((r) => [r.decision, r.status, r.estimated_micros])).toEqual([
      ['allow', 201, 29_000], // 161 GSM-7 characters: 2 segments × $0.0145
      ['allow', 201, 28_000], // TimeLimit injected as 120 s: 2 minutes × $0.014
      ['deny', 429, 14_500],
    ]);
    expect(rows[0]!.path).toBe(`/2010-04-01/Accounts/${REAL_SID}/Messages.json`);
    expect(rows[0]!.object_id).toMatch(/^SM/);
    expect(rows[1]!.request_body).toContain('TimeLimit=120');
    expect(JSON.stringify(rows)).not.toContain('real-token-0123');
  });

  test('Prism rejects what Twilio would reject, and the reservation is released', async () => {
    const key = await svc.issueKey({ vendor: 'twilio', daily_usd_cap: 1, allowed_endpoints: ['POST /2010-04-01/Accounts/{sid}/Messages.json'] });
    const res = await fetch(`${svc.url}/twilio/2010-04-01/Accounts/self/Messages.json`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.vault_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ To: '+15558675310', Body: 'hello', ValidityPeriod: 'soon' }),
    });
    // Priced and forwarded (Twilio's contract, not Keybrake's, rejects it), then released.
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const shown = await svc.admin().get(`/vault/keys/${key.id}`);
    expect(shown.body.spent_today_usd).toBe(0);
  });
});

describe('the resend client through the proxy, against Prism serving resend.yaml', () => {
  let prism: Prism;
  let svc: TestService;
  beforeAll(async () => {
    prism = await startPrism(specPath('resend/resend.yaml'));
    svc = await startTestService('sqlite', undefined, { KEYBRAKE_UPSTREAM_RESEND: prism.url, RESEND_API_KEY: 're_real_0123456789' });
  }, 90_000);
  afterAll(async () => {
    await svc?.close();
    await prism?.stop();
  });

  test('sends an email and a batch priced per recipient, then returns the cap as the SDK\'s error', async () => {
    const key = await svc.issueKey({ vendor: 'resend', daily_usd_cap: 0.0045, allowed_endpoints: ['POST /emails', 'POST /emails/batch'] });
    const resend = new Resend(key.vault_key, { baseUrl: `${svc.url}/resend` });
    const one = await resend.emails.send({ from: 'Acme <a@acme.test>', to: ['x@example.com', 'y@example.com'], subject: 'Hi', text: 'Hello' });
    expect(one.error).toBeNull();
    expect(one.data?.id).toBeDefined();
    const batch = await resend.batch.send([
      { from: 'a@acme.test', to: 'x@example.com', subject: '1', text: 'a' },
      { from: 'a@acme.test', to: 'y@example.com', subject: '2', text: 'b' },
    ]);
    expect(batch.error).toBeNull();
    const over = await resend.batch.send([
      { from: 'a@acme.test', to: 'x@example.com', subject: '3', text: 'c' },
      { from: 'a@acme.test', to: 'y@example.com', subject: '4', text: 'd' },
    ]);
    expect(over.data).toBeNull();
    expect(over.error).toMatchObject({ name: 'daily_cap_exceeded', statusCode: 429 });
    expect(over.error?.message).toMatch(/Spending cap reached.*Retrying will not help/);
    const rows = (await (await svc.db()).knex('audit_log').where({ key_id: key.id }).orderBy('ts').orderBy('id')) as AuditRow[];
    expect(rows.map((r) => [r.path, r.status, r.estimated_micros])).toEqual([
      ['/emails', 200, 1800], // two recipients: Resend counts each as an email
      ['/emails/batch', 200, 1800],
      ['/emails/batch', 429, 1800],
    ]);
    expect(JSON.parse(rows[1]!.request_body!)).toHaveLength(2);
  });

  test('a Dify tool\'s {"emails": [...]} is forwarded as the bare array Resend expects', async () => {
    const key = await svc.issueKey({ vendor: 'resend', daily_usd_cap: 1, allowed_endpoints: ['POST /emails/batch'] });
    const res = await fetch(`${svc.url}/resend/emails/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.vault_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ emails: [{ from: 'a@acme.test', to: ['x@example.com'], subject: 's', text: 't' }] }),
    });
    expect(res.status).toBe(200);
    const [row] = (await (await svc.db()).knex('audit_log').where({ key_id: key.id })) as AuditRow[];
    expect(JSON.parse(row!.request_body!)).toEqual([{ from: 'a@acme.test', to: ['x@example.com'], subject: 's', text: 't' }]);
  });
});
