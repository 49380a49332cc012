// Golden-file tests for every generator command, each output checked against Dify's rules (dify.md §1, §3).
import { join } from 'node:path';
import yaml from 'js-yaml';
import { run } from '../../cli/main';
import { checkDsl, checkToolDocument } from '../../openapi/dify-rules';
import { generateBackendSnippet, generateChatflow, generateDifyTool, generateHttpNode } from '../../openapi/generate';
import { CATALOGS } from '../../service/vendors/catalogs';
import { expectGolden } from '../helpers/golden';
import { specPath } from '../helpers/specs';

const PROXY = 'https://keys.example.com';
type Json = Record<string, unknown>;
const parse = (text: string): Json => yaml.load(text) as Json;

describe('dify-tool', () => {
  test.each([
    ['stripe-tool.yaml', { vendor: 'stripe', endpoints: 'POST /v1/payment_intents,GET /v1/payment_intents/{id}' }, 'yaml'],
    ['stripe-tool-all.json', { vendor: 'stripe' }, 'json'],
    ['twilio-tool.yaml', { vendor: 'twilio' }, 'yaml'],
    ['resend-tool.yaml', { vendor: 'resend' }, 'yaml'],
  ] as const)('%s', (golden, source, format) => {
    const out = generateDifyTool({ ...source, proxyUrl: PROXY, format });
    expectGolden(golden, out.text);
    const doc = format === 'json' ? (JSON.parse(out.text) as Json) : parse(out.text);
    expect(checkToolDocument(doc)).toEqual([]);
    expect((doc.servers as Json[])[0]).toEqual({ url: `${PROXY}/dify/${source.vendor}` });
    expect(doc.components).toMatchObject({ securitySchemes: { vaultKey: { type: 'http', scheme: 'bearer' } } });
    for (const item of Object.values(doc.paths as Record<string, Record<string, Json>>)) {
      for (const op of Object.values(item)) expect(String(op.description)).toMatch(/402.*retrying will not help/);
    }
  });

  test('every built-in catalog endpoint passes the rules, with unique operation ids across vendors', () => {
    const ids = new Set<string>();
    for (const catalog of CATALOGS.values()) {
      const doc = parse(generateDifyTool({ vendor: catalog.vendor, proxyUrl: PROXY }).text);
      expect(checkToolDocument(doc)).toEqual([]);
      for (const e of catalog.endpoints) {
        expect(ids.has(e.operationId)).toBe(false);
        ids.add(e.operationId);
      }
    }
  });

  test.each([
    ['stripe', 'stripe/spec3.json', 'PostPaymentIntents,GET /v1/payment_intents/{intent},PostRefunds,PostCustomers'],
    ['twilio', 'twilio/twilio_api_v2010.json', 'CreateMessage,FetchMessage,CreateCall'],
    ['resend', 'resend/resend.yaml', 'emails/send,emails/get'],
  ])('--from-spec builds %s tools from the vendor document and says what it dropped', (vendor, file, operations) => {
    const out = generateDifyTool({ vendor, fromSpec: specPath(file), operations, proxyUrl: PROXY });
    expectGolden(`${vendor}-from-spec.yaml`, out.text);
    expectGolden(`${vendor}-from-spec.notes.txt`, out.notes.join('\n') + '\n');
    const doc = parse(out.text);
    expect(checkToolDocument(doc)).toEqual([]);
    expect(Object.values(doc.paths as Json).length).toBeGreaterThan(0);
  });

  test('--from-spec fills Twilio\'s AccountSid itself and drops what Dify cannot carry', () => {
    const twilio = generateDifyTool({ vendor: 'twilio', fromSpec: specPath('twilio/twilio_api_v2010.json'), operations: 'CreateMessage', proxyUrl: PROXY });
    expect(Object.keys(parse(twilio.text).paths as Json)).toEqual(['/2010-04-01/Accounts/self/Messages.json']);
    const stripe = generateDifyTool({ vendor: 'stripe', fromSpec: specPath('stripe/spec3.json'), operations: 'PostPaymentIntents', proxyUrl: PROXY });
    expect(stripe.notes).toContain('PostPaymentIntents: dropped body field metadata: it is an object, and Dify tools carry flat fields only');
    const props = ((((parse(stripe.text).paths as Json)['/v1/payment_intents'] as Json).post as Json).requestBody as Json) as { content: { 'application/json': { schema: { properties: Record<string, Json>; required: string[] } } } };
    expect(props.content['application/json'].schema.required).toEqual(['amount', 'currency']);
    expect(props.content['application/json'].schema.properties.amount).toMatchObject({ type: 'integer' });
    expect(props.content['application/json'].schema.properties.metadata).toBeUndefined();
  });
});

describe('templates', () => {
  test('dify-http-node', () => {
    const out = generateHttpNode({ vendor: 'stripe', endpoints: 'POST /v1/payment_intents', proxyUrl: PROXY });
    expectGolden('stripe-http-node.yaml', out.text);
    const node = parse(out.text);
    expect(node).toMatchObject({
      type: 'http-request',
      method: 'post',
      url: `${PROXY}/dify/stripe/v1/payment_intents`,
      authorization: { type: 'api-key', config: { type: 'bearer', api_key: '{{#conversation.stripe_vault_key#}}' } },
    });
    expect(node.headers).toBe('X-Keybrake-Run-Id:{{#sys.workflow_run_id#}}\nX-Keybrake-Conversation-Id:{{#sys.conversation_id#}}');
  });

  test.each([
    ['stripe-chatflow.yaml', 'stripe', 'POST /v1/payment_intents,GET /v1/payment_intents/{id}'],
    ['twilio-chatflow.yaml', 'twilio', 'POST /2010-04-01/Accounts/{AccountSid}/Messages.json'],
  ])('dify-chatflow %s', (golden, vendor, endpoints) => {
    const out = generateChatflow({ vendor, endpoints, proxyUrl: PROXY });
    expectGolden(golden, out.text);
    const dsl = parse(out.text);
    expect(checkDsl(dsl)).toEqual([]);
    expect(typeof dsl.version).toBe('string');
    expect(dsl.version).toBe('0.5.0');
    const workflow = dsl.workflow as Json;
    expect(workflow.conversation_variables).toEqual([expect.objectContaining({ name: `${vendor}_vault_key`, value_type: 'string', value: '' })]);
    const nodes = (workflow.graph as Json).nodes as { id: string; data: Json }[];
    expect(nodes.map((n) => n.data.type)).toEqual(['start', 'assigner', ...endpoints.split(',').map(() => 'http-request'), 'answer']);
    const start = nodes[0]!.data;
    expect((start.variables as Json[])[0]).toMatchObject({ variable: `${vendor}_vault_key`, required: true, hide: true });
    expect((nodes[1]!.data.items as Json[])[0]).toMatchObject({ variable_selector: ['conversation', `${vendor}_vault_key`], value: ['start', `${vendor}_vault_key`] });
  });

  test.each(['ts', 'python'])('backend-snippet --lang %s', (lang) => {
    const out = generateBackendSnippet({ lang, vendor: 'stripe', endpoints: 'POST /v1/payment_intents', dailyUsdCap: '25' });
    expectGolden(`backend-snippet.${lang === 'ts' ? 'ts' : 'py'}.txt`, out.text);
    expect(out.text).toContain('stripe_vault_key');
    expect(out.text).toContain('/chat-messages');
    expect(out.text).toContain('/vault/keys/revoke');
  });
});

describe('the rules catch what Dify would reject', () => {
  const good = (): Json => parse(generateDifyTool({ vendor: 'stripe', proxyUrl: PROXY }).text);
  const pi = (doc: Json): Json => ((doc.paths as Json)['/v1/payment_intents'] as Json).post as Json;
  test.each<[string, (d: Json) => void, RegExp]>([
    ['no servers', (d) => (d.servers = []), /servers\[0\]\.url/],
    ['a bad operationId', (d) => (pi(d).operationId = 'create payment!'), /operationId must match/],
    ['a duplicate operationId', (d) => (pi(d).operationId = 'stripe_get_customer'), /not unique/],
    ['two content types', (d) => (((pi(d).requestBody as Json).content as Json)['application/x-www-form-urlencoded'] = {}), /exactly one content type/],
    ['a nested field', (d) => ((((((pi(d).requestBody as Json).content as Json)['application/json'] as Json).schema as Json).properties as Json).metadata = { type: 'object', properties: {} }), /nested/],
    ['path-level parameters', (d) => (((d.paths as Json)['/v1/payment_intents/{id}'] as Json).parameters = []), /path-level parameters/],
    ['an undeclared path parameter', (d) => delete (((d.paths as Json)['/v1/payment_intents/{id}'] as Json).get as Json).parameters, /\{id\} is not declared/],
  ])('%s', (_name, breakIt, message) => {
    const doc = good();
    expect(checkToolDocument(doc)).toEqual([]);
    breakIt(doc);
    expect(checkToolDocument(doc).join('\n')).toMatch(message);
  });

  const flow = (): Json => parse(generateChatflow({ vendor: 'stripe', endpoints: 'POST /v1/payment_intents', proxyUrl: PROXY }).text);
  const nodes = (d: Json): { id: string; data: Json }[] => ((d.workflow as Json).graph as Json).nodes as { id: string; data: Json }[];
  test.each<[string, (d: Json) => void, RegExp]>([
    ['a numeric version', (d) => (d.version = 0.5), /version must be a string/],
    ['an unresolved reference', (d) => (nodes(d)[3]!.data.answer = '{{#call_nothing.body#}}'), /\{\{#call_nothing\.body#\}\} does not resolve/],
    ['an unknown start variable', (d) => (nodes(d)[2]!.data.url = '{{#start.missing#}}'), /does not resolve/],
    ['an unknown conversation variable', (d) => ((nodes(d)[2]!.data.authorization as { config: Json }).config.api_key = '{{#conversation.other_key#}}'), /does not resolve/],
    ['a bad node id', (d) => (nodes(d)[3]!.id = 'the-answer'), /node id the-answer must match/],
    ['no answer node', (d) => ((d.workflow as Json).graph as Json).nodes = nodes(d).slice(0, 3), /needs an answer node/],
  ])('chatflow with %s', (_name, breakIt, message) => {
    const doc = flow();
    expect(checkDsl(doc)).toEqual([]);
    breakIt(doc);
    expect(checkDsl(doc).join('\n')).toMatch(message);
  });
});

describe('the CLI', () => {
  let stderr: string[];
  let stdout: string[];
  beforeEach(() => {
    stderr = [];
    stdout = [];
    jest.spyOn(process.stderr, 'write').mockImplementation((s) => (stderr.push(String(s)), true));
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => (stdout.push(String(s)), true));
  });
  afterEach(() => jest.restoreAllMocks());

  test('writes the same document to --out as to standard output', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const out = join(mkdtempSync(join(tmpdir(), 'kb-gen-')), 'tool.json');
    expect(await run(['generate', 'dify-tool', '--vendor', 'stripe', '--proxy-url', PROXY, '--format', 'json', '--out', out], {})).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(generateDifyTool({ vendor: 'stripe', proxyUrl: PROXY, format: 'json' }).text);
  });

  test.each([
    [['generate', 'dify-tool', '--vendor', 'paypal', '--proxy-url', PROXY], /unknown vendor "paypal"/],
    [['generate', 'dify-tool', '--vendor', 'stripe', '--proxy-url', PROXY, '--endpoints', 'POST /v1/teleport'], /endpoint "POST \/v1\/teleport" is not in the Stripe catalog/],
    [['generate', 'dify-tool', '--vendor', 'stripe', '--proxy-url', 'ftp://keys.example.com'], /--proxy-url must be an http:\/\/ or https:\/\/ URL/],
    [['generate', 'dify-tool', '--vendor', 'stripe', '--proxy-url', 'keys.example.com'], /--proxy-url keys\.example\.com is not a URL/],
    [['generate', 'dify-tool', '--vendor', 'stripe'], /--proxy-url is required/],
    [['generate', 'dify-tool', '--vendor', 'stripe', '--proxy-url', PROXY, '--format', 'xml'], /--format must be yaml or json/],
    [['generate', 'dify-tool', '--vendor', 'stripe', '--proxy-url', PROXY, '--from-spec', specPath('stripe/spec3.json'), '--operations', 'PostTeleport'], /operation "PostTeleport" is not in the spec/],
    [['generate', 'dify-tool', '--vendor', 'stripe', '--proxy-url', PROXY, '--from-spec', '/nonexistent.yaml', '--operations', 'x'], /cannot read --from-spec \/nonexistent\.yaml: ENOENT/],
    [['generate', 'dify-tool', '--vendor', 'resend', '--proxy-url', PROXY, '--from-spec', specPath('resend/resend.yaml'), '--operations', 'emails/send-batch'], /takes a JSON array as its body/],
    [['generate', 'dify-http-node', '--vendor', 'stripe', '--proxy-url', PROXY], /exactly one endpoint/],
    [['generate', 'backend-snippet', '--vendor', 'stripe', '--lang', 'ruby'], /--lang must be ts or python, not ruby/],
    [['generate', 'teleport'], /unknown generator "teleport"/],
  ])('bad input %j exits non-zero with one line naming the problem', async (argv, message) => {
    expect(await run(argv, {})).toBe(2);
    expect(stdout).toEqual([]);
    expect(stderr.length).toBe(1);
    expect(stderr[0]).toMatch(message);
    expect(stderr[0]!.trimEnd()).not.toContain('\n');
  });
});
