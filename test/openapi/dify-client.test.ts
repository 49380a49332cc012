// Dify for real: the generated tool schema and HTTP Request node, driven by a client that behaves like Dify's own
// request code (helpers/dify-client.ts), against a running Keybrake. What the model reads is what is asserted.
import yaml from 'js-yaml';
import { difyDocuments } from '../../openapi/dify-routes';
import { generateHttpNode } from '../../openapi/generate';
import { presentedVaultKey } from '../../service/http/vault-key';
import { agentInvoke, DifyApiTool, modelReads, runHttpNode, type ApiToolCredentials } from '../helpers/dify-client';
import { startFakeStripe, type FakeStripe } from '../helpers/fake-stripe';
import { call, startTestService, type TestService } from '../helpers/service';

type Json = Record<string, unknown>;

let fake: FakeStripe;
let svc: TestService;
let doc: Json;
beforeAll(async () => {
  fake = await startFakeStripe();
  svc = await startTestService('sqlite', fake, { KEYBRAKE_UPSTREAM_TIMEOUT_MS: '800' }, { publicRoutes: [difyDocuments] });
  // Imported as Dify imports it: from the URL the service serves.
  doc = yaml.load(await (await fetch(`${svc.url}/dify/openapi/stripe.yaml`)).text()) as Json;
});
afterAll(async () => {
  await svc.close();
  await fake.close();
});
afterEach(() => (fake.override = undefined));

const tool = (key: string, prefix?: ApiToolCredentials['api_key_header_prefix']): DifyApiTool =>
  new DifyApiTool(doc, { auth_type: 'api_key_header', api_key_header: 'Authorization', ...(prefix ? { api_key_header_prefix: prefix } : {}), api_key_value: key });

test('the cap\'s reason reaches the agent through Dify\'s HTTP client, with Dify\'s default Basic prefix', async () => {
  const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['POST /v1/payment_intents'] });
  const t = tool(key.vault_key);
  const first = await agentInvoke(t, 'stripe_create_payment_intent', { amount: 2000, currency: 'usd' });
  expect(first).toContain('"object":"payment_intent"');
  // The agent asks for another $20 in the same turn (the same tool runtime: "Basic Basic vault_key_…").
  const second = await agentInvoke(t, 'stripe_create_payment_intent', { amount: 2000, currency: 'usd', description: 'again' });
  expect(second).toMatch(/^tool invoke error: Request failed with status code 402 and \{"error":\{"type":"rate_limit_error","code":"daily_cap_exceeded","message":"Spending cap reached: this vault key may spend \$30\.00 per day, \$20\.00 has been spent today, and this call would cost \$20\.00\. Retrying will not help/);
  expect(second).not.toContain('Reached maximum retries');
  // The vendors' SDKs (and anything else calling /stripe/…) still get 429 with Retry-After.
  const sdk = await call(svc.url, '/stripe/v1/payment_intents', { key: key.vault_key, form: 'amount=1500&currency=usd' });
  expect([sdk.status, sdk.body.error?.code, Number(sdk.headers.get('retry-after')) > 0]).toEqual([429, 'daily_cap_exceeded', true]);
});

test.each([
  ['the vendor answers 503', (): void => void (fake.override = () => ({ status: 503, body: { error: { type: 'api_error', message: 'Stripe is down for maintenance.' } } })), /^tool invoke error: Request failed with status code 424 and \{"error":\{"type":"api_error","message":"Stripe is down for maintenance\."\}\}$/],
  ['the vendor answers 429', (): void => void (fake.override = () => ({ status: 429, body: { error: { type: 'rate_limit_error', message: 'Too many requests.' } } })), /^tool invoke error: Request failed with status code 424 and .*Too many requests/],
  ['the vendor does not answer in time', (): void => void (fake.override = () => 'hang'), /^tool invoke error: Request failed with status code 424 and .*"code":"upstream_timeout".*did not answer in time; the call may have taken effect/],
  ['the vendor resets the connection', (): void => void (fake.override = () => 'reset'), /^tool invoke error: Request failed with status code 424 and .*"code":"upstream_unreachable"/],
])('every failure Keybrake sends reaches the model readably: %s', async (_what, arrange, expected) => {
  const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['*'] });
  arrange();
  expect(await agentInvoke(tool(key.vault_key, 'bearer'), 'stripe_create_payment_intent', { amount: 100, currency: 'usd' })).toMatch(expected);
});

test('an approval request reaches the model as a sentence it can pass on; approved, the same tool call goes through', async () => {
  const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/payment_intents'], approval_above_usd: 10 });
  const t = tool(key.vault_key, 'bearer');
  const asked = await agentInvoke(t, 'stripe_create_payment_intent', { amount: 2400, currency: 'usd' });
  expect(asked).toMatch(/^tool invoke error: Request failed with status code 403 and .*"code":"approval_required".*asks a person to approve POST \/v1\/payment_intents for \$24\.00.*call again with the same arguments once it is approved/);
  const id = /"approval_id":"(apr_[A-Za-z0-9]+)"/.exec(asked)?.[1];
  await svc.admin().post(`/approvals/${id!}/approve`).send({}).expect(200);
  expect(await agentInvoke(t, 'stripe_create_payment_intent', { amount: 2400, currency: 'usd' })).toContain('"object":"payment_intent"');
});

test('a rate limit reaches the model too', async () => {
  const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['*'], rate_limit: { requests_per_minute: 1 } });
  const t = tool(key.vault_key, 'bearer');
  await agentInvoke(t, 'stripe_get_customer', { id: 'cus_none' });
  expect(await agentInvoke(t, 'stripe_get_customer', { id: 'cus_none' })).toMatch(/^tool invoke error: Request failed with status code 402 and .*"code":"rate_limited".*requests per minute/);
});

test.each(['basic', 'bearer', 'custom'] as const)('a tool\'s later calls in one agent turn work with the %s prefix (Dify writes the prefix back)', async (prefix) => {
  const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/customers', 'GET /v1/customers/{id}'] });
  const t = tool(key.vault_key, prefix);
  const made = await agentInvoke(t, 'stripe_create_customer', { email: 'ann@example.com' });
  const id = /"id":"(cus_\d+)"/.exec(made)?.[1];
  expect(id).toBeDefined();
  for (let i = 0; i < 3; i++) expect(modelReads(await t.invoke('stripe_get_customer', { id: id! }))).toContain(`"id":"${id!}"`);
  if (prefix !== 'custom') expect(t.credentials.api_key_value?.split(' ').length).toBe(5); // four prefixes and the key
});

test('vault keys are accepted after a repeated scheme word and bare, and nothing else loosens', () => {
  const k = `vault_key_${'a1B2'.repeat(8)}`;
  for (const ok of [`Bearer ${k}`, `Bearer Bearer ${k}`, `bearer BEARER Bearer ${k}`, `Basic ${k}`, `Basic Basic ${k}`, k, `Basic ${Buffer.from(`${k}:`).toString('base64')}`]) {
    expect([ok, presentedVaultKey({ authorization: ok })]).toEqual([ok, k]);
  }
  for (const bad of [`Bearer Basic ${k}`, `Token ${k}`, `Bearer ${k} extra`, `${k} ${k}`, `Basic Basic ${Buffer.from(`${k}:`).toString('base64')}`, 'vault_key_short']) {
    expect([bad, presentedVaultKey({ authorization: bad })]).toEqual([bad, '']);
  }
});

describe('the generated HTTP Request node', () => {
  const node = (): Json => yaml.load(generateHttpNode({ vendor: 'stripe', endpoints: 'POST /v1/payment_intents', proxyUrl: svc.url }).text) as Json;

  test('does not re-run itself: a money-moving node with retries would send the same body again', () => {
    expect(node().retry_config).toMatchObject({ enabled: false });
  });

  test('duplicates are scoped to a run: a second identical payment in a new run is made, in the same run it is a replay the model can read', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/payment_intents'] });
    const data = node();
    const runOf = (runId: string) => (template: string): string =>
      template.replace(/\{\{#([a-zA-Z0-9_]+)\.([a-zA-Z0-9_]+)#\}\}/g, (_m, n: string, v: string) =>
        (({ conversation: { stripe_vault_key: key.vault_key }, sys: { workflow_run_id: runId, conversation_id: 'conv-1' }, start: { amount: '2000', currency: 'usd' } }) as Record<string, Record<string, string>>)[n]?.[v] ?? '',
      );
    const before = fake.received.filter((r) => r.method === 'POST').length;
    const a = await runHttpNode(data, runOf('run-a'));
    const again = await runHttpNode(data, runOf('run-a'));
    const b = await runHttpNode(data, runOf('run-b'));
    expect([a.ok, again.ok, b.ok]).toEqual([true, true, true]);
    if (!a.ok || !again.ok || !b.ok) return;
    expect(fake.received.filter((r) => r.method === 'POST').length - before).toBe(2);
    expect(JSON.parse(b.outputs.body).id).not.toBe(JSON.parse(a.outputs.body).id);
    const replay = JSON.parse(again.outputs.body) as Json;
    expect(replay.id).toBe(JSON.parse(a.outputs.body).id);
    expect(String(replay.keybrake_replayed)).toMatch(/^This is the answer to an identical call made earlier in this run \(aud_\w+\); it was not made again and nothing more was charged\.$/);
    const shown = await svc.admin().get(`/vault/keys/${key.id}`);
    expect(shown.body.spent_today_usd).toBe(40);
  });

  test('a capped node fails with the reason, not "Reached maximum retries"', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 10, allowed_endpoints: ['POST /v1/payment_intents'] });
    const render = (template: string): string =>
      template.replace(/\{\{#([a-zA-Z0-9_]+)\.([a-zA-Z0-9_]+)#\}\}/g, (_m, n: string, v: string) => (({ conversation: { stripe_vault_key: key.vault_key }, sys: { workflow_run_id: 'r', conversation_id: 'c' }, start: { amount: '2000', currency: 'usd' } }) as Record<string, Record<string, string>>)[n]?.[v] ?? '');
    const ran = await runHttpNode(node(), render);
    expect(ran).toMatchObject({ ok: true, outputs: { status_code: 402 } });
    if (ran.ok) expect(ran.outputs.body).toMatch(/Spending cap reached/);
  });
});
