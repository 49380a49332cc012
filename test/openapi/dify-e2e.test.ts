// Generated artefacts used as Dify uses them, against the running service and a loopback fake Stripe.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { difyDocuments } from '../../openapi/dify-routes';
import { generateBackendSnippet, generateChatflow, generateDifyTool } from '../../openapi/generate';
import { agentInvoke, DifyApiTool, modelReads } from '../helpers/dify-client';
import { startFakeDify, type FakeDify } from '../helpers/fake-dify';
import { startFakeStripe, type FakeStripe } from '../helpers/fake-stripe';
import { ADMIN_KEY, startTestService, type TestService } from '../helpers/service';

const exec = promisify(execFile);
type Json = Record<string, unknown>;

let fake: FakeStripe;
let svc: TestService;
beforeAll(async () => {
  fake = await startFakeStripe();
  svc = await startTestService('sqlite', fake, {}, { publicRoutes: [difyDocuments] });
});
afterAll(async () => {
  await svc.close();
  await fake.close();
});

test('the service serves the same tool schema at /dify/openapi/{vendor}.yaml', async () => {
  const endpoints = 'POST /v1/payment_intents,GET /v1/payment_intents/{id}';
  const res = await fetch(`${svc.url}/dify/openapi/stripe.yaml?endpoints=${encodeURIComponent(endpoints)}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/yaml/);
  expect(await res.text()).toBe(generateDifyTool({ vendor: 'stripe', endpoints, proxyUrl: svc.url }).text);
  const json = await fetch(`${svc.url}/dify/openapi/stripe.json`);
  expect(((await json.json()) as { servers: Json[] }).servers).toEqual([{ url: `${svc.url}/dify/stripe` }]);
  const unknown = await fetch(`${svc.url}/dify/openapi/paypal.yaml`);
  expect(unknown.status).toBe(404);
  const bad = await fetch(`${svc.url}/dify/openapi/stripe.yaml?endpoints=POST%20/v1/teleport`);
  expect([bad.status, ((await bad.json()) as { error: Json }).error.message]).toEqual([400, expect.stringContaining('not in the Stripe catalog')]);
});

test('a generated tool, called the way Dify calls it, goes through the proxy and is capped', async () => {
  const doc = yaml.load((await (await fetch(`${svc.url}/dify/openapi/stripe.yaml`)).text())) as Json;
  const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['POST /v1/payment_intents', 'GET /v1/payment_intents/{id}'] });
  const tool = new DifyApiTool(doc, { auth_type: 'api_key_header', api_key_header: 'Authorization', api_key_header_prefix: 'bearer', api_key_value: key.vault_key });
  const created = await tool.invoke('stripe_create_payment_intent', { amount: '2000', currency: 'usd', description: 'Order 42' });
  const pi = (created[0] as { json_object: Record<string, unknown> }).json_object as { id: string };
  expect(fake.received[fake.received.length - 1]!.body).toMatch(/^amount=2000&currency=usd&description=Order%2042&metadata\[keybrake_audit_id\]=aud_\w{20}$/);
  const read = modelReads(await tool.invoke('stripe_get_payment_intent', { id: pi.id }));
  expect(read).toContain('"amount":2000');
  const before = fake.received.length;
  // Dify shows the model "Request failed with status code 402 and <body>": the body explains itself.
  const capped = await agentInvoke(tool, 'stripe_create_payment_intent', { amount: '2000', currency: 'usd' });
  expect(capped).toMatch(/^tool invoke error: Request failed with status code 402 and \{.*Spending cap reached: this vault key may spend \$30\.00 per day.*Retrying will not help/);
  expect(fake.received.length).toBe(before);
});

describe('the generated chatflow and backend snippets, end to end', () => {
  let dify: FakeDify;
  beforeAll(async () => {
    const flow = yaml.load(generateChatflow({ vendor: 'stripe', endpoints: 'POST /v1/payment_intents', proxyUrl: svc.url }).text) as Json;
    const envVars = Object.fromEntries(((flow.workflow as Json).environment_variables as Json[]).map((v) => [v.name, v.value])) as Record<string, string>;
    dify = await startFakeDify(flow, envVars);
  });
  afterAll(() => dify.close());

  const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, KEYBRAKE_URL: svc.url, KEYBRAKE_ADMIN_KEY: ADMIN_KEY, DIFY_API_URL: dify.url, DIFY_APP_KEY: dify.appKey });

  test.each([
    // As an ES module (.mts), the way the snippet says to run it.
    ['ts', 'snippet.mts', (file: string, args: string[]) => exec(process.execPath, ['--import', 'tsx', file, ...args], { env: env(), cwd: join(__dirname, '..', '..') })],
    ['python', 'snippet.py', (file: string, args: string[]) => exec('python3', [file, ...args], { env: env() })],
  ])('%s: a key per conversation, passed in inputs, used by the HTTP node, capped, then revoked', async (lang, name, runIt) => {
    const file = join(mkdtempSync(join(tmpdir(), 'kb-snippet-')), name);
    writeFileSync(file, generateBackendSnippet({ lang, vendor: 'stripe', endpoints: 'POST /v1/payment_intents', dailyUsdCap: '25' }).text);

    const ok = await runIt(file, ['Charge me $20', '{"amount": 2000, "currency": "usd"}']);
    const first = JSON.parse(ok.stdout) as { key_id: string; conversation_id: string; answer: string };
    expect(first.answer).toMatch(/^Create a payment intent: 200 \{.*"amount":2000/);
    const sent = dify.messages[dify.messages.length - 1]!;
    expect((sent.inputs as Json).stripe_vault_key).toMatch(/^vault_key_/);
    const rows = (await (await svc.db()).knex('audit_log').where({ key_id: first.key_id })) as Json[];
    expect(rows).toEqual([expect.objectContaining({ decision: 'allow', status: 200, conversation_id: first.conversation_id, run_id: expect.stringMatching(/^[0-9a-f-]{36}$/) })]);
    const key = await svc.admin().get(`/vault/keys/${first.key_id}`);
    expect(key.body).toMatchObject({ status: 'revoked', spent_today_usd: 20, daily_usd_cap: 25, label: expect.stringMatching(/^dify\/demo-user\//) });

    const over = await runIt(file, ['Charge me $30', '{"amount": 3000, "currency": "usd"}']);
    const second = JSON.parse(over.stdout) as { answer: string };
    expect(second.answer).toMatch(/^Create a payment intent: 402 .*Spending cap reached: this vault key may spend \$25\.00 per day/);
  });
});
