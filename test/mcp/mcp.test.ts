// Keybrake as an MCP server (/mcp), driven by the MCP SDK's own client on both stores: a key's tools are its
// endpoints; a call goes through the proxy's whole path (the fake vendor receives exactly what was priced, with the
// real secret, and the audit row says it came over MCP); a cap, a revocation between two calls of one session and a
// bad argument come back as error results whose text is the reason; unknown keys get 401, keys issued with
// "mcp": false 403; a KEYBRAKE_CONFIG vendor's tools carry the config's descriptions and arguments. Then Dify's MCP
// client as dify.md §5 describes it on the wire: id 0, no version header, one session per call.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeStripe, type FakeStripe } from '../helpers/fake-stripe';
import { mcpSession } from '../helpers/mcp-client';
import { startTestService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

describeEachStore('MCP server', (storeName) => {
  let fake: FakeStripe;
  let svc: TestService;
  beforeAll(async () => {
    fake = await startFakeStripe();
    const config = join(mkdtempSync(join(tmpdir(), 'kb-mcp-')), 'keybrake.yaml');
    writeFileSync(
      config,
      [
        'vendors:',
        '  acme:',
        '    name: Acme Pay',
        `    base_url: ${fake.url}`,
        '    auth: { style: bearer, secret_env: ACME_KEY }',
        '    body: form',
        '    endpoints:',
        '      - match: POST /v1/charges',
        '        price: { amount_field: amount, currency_field: currency, units: minor }',
        '        tool:',
        '          name: acme_charge',
        '          description: Charges the card on file. amount is in cents.',
        '          input:',
        '            required: [amount, currency]',
        '            properties:',
        '              amount: { type: integer, description: Cents to charge. }',
        '              currency: { type: string, description: A three-letter currency code. }',
        '      - match: POST /v1/refunds',
        '        price: { fixed_usd: 0 }',
        '',
      ].join('\n'),
    );
    svc = await startTestService(storeName, fake, { KEYBRAKE_CONFIG: config, ACME_KEY: fake.secret });
  });
  afterAll(async () => {
    await svc.close();
    await fake.close();
  });

  const audit = async (keyId: string) => (await (await svc.db()).knex('audit_log').where({ key_id: keyId }).orderBy('ts')) as Record<string, unknown>[];

  test("tools/list offers the key's endpoints only, described for a model", async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['POST /v1/payment_intents', 'GET /v1/customers/{id}'] });
    const s = await mcpSession(svc.url, key.vault_key);
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['stripe_create_payment_intent', 'stripe_get_customer']);
    const create = tools.find((t) => t.name === 'stripe_create_payment_intent');
    expect(create?.description).toMatch(/spends money.*retrying will not help/i);
    expect(create?.inputSchema).toMatchObject({ type: 'object', required: expect.arrayContaining(['amount', 'currency']), properties: { amount: { type: 'integer' } } });
    expect(s.client.getInstructions()).toContain('capped vault key');
    await s.close();
  });

  test('a call within the cap goes through the proxy: priced, forwarded with the real secret, audited as MCP', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['POST /v1/payment_intents'] });
    const s = await mcpSession(svc.url, key.vault_key, { 'x-keybrake-run-id': 'run-mcp-1' });
    const before = fake.received.length;
    const r = await s.call('stripe_create_payment_intent', { amount: 2000, currency: 'usd' });
    expect(r.isError).toBe(false);
    expect(JSON.parse(r.text)).toMatchObject({ object: 'payment_intent', amount: 2000, currency: 'usd' });
    const sent = fake.received.slice(before);
    expect(sent).toHaveLength(1);
    expect([sent[0]?.method, sent[0]?.path, sent[0]?.params.get('amount'), sent[0]?.params.get('currency')]).toEqual(['POST', '/v1/payment_intents', '2000', 'usd']);
    expect(sent[0]?.headers.authorization).toBe(`Bearer ${fake.secret}`);
    const [row] = await audit(key.id);
    expect(row).toMatchObject({ decision: 'allow', channel: 'mcp', mcp_session: s.transport.sessionId, run_id: 'run-mcp-1', reserved_micros: 20_000_000 });
    expect(String(row?.mcp_session)).toMatch(/^mcp_/);
    const shown = (await svc.admin().get('/audit').query({ key_id: key.id })).body.data[0] as Record<string, unknown>;
    expect([shown.channel, shown.mcp_session_id]).toEqual(['mcp', s.transport.sessionId]);

    // The same call again is not made twice: the first answer, saying so.
    const again = await s.call('stripe_create_payment_intent', { amount: 2000, currency: 'usd' });
    expect([again.isError, JSON.parse(again.text).id, again.texts[1]]).toEqual([false, JSON.parse(r.text).id, expect.stringMatching(/identical call made earlier .*nothing more was charged/)]);
    // Past the cap: an error result with the cap's sentence, and nothing forwarded.
    const over = await s.call('stripe_create_payment_intent', { amount: 2001, currency: 'usd' });
    expect(over).toMatchObject({ isError: true, text: expect.stringMatching(/^Spending cap reached: this vault key may spend \$30\.00 per day, \$20\.00 has been spent today/) });
    expect(fake.received.length).toBe(before + 1);
    await s.close();
  });

  test('a call that needs approval is an error result the model can pass on; approved, the same tool call is sent', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 100, allowed_endpoints: ['POST /v1/payment_intents'], approval_above_usd: 20, webhook_url: 'http://127.0.0.1:9/hook' });
    const s = await mcpSession(svc.url, key.vault_key);
    const before = fake.received.length;
    const asked = await s.call('stripe_create_payment_intent', { amount: 4000, currency: 'usd' });
    expect(asked).toMatchObject({ isError: true, text: expect.stringMatching(/asks a person to approve POST \/v1\/payment_intents for \$40\.00.*call again with the same arguments once it is approved/) });
    expect(fake.received.length).toBe(before);
    const id = /Approval (apr_[A-Za-z0-9]+) is pending/.exec(asked.text)?.[1];
    // The alert's links point where the MCP client reached Keybrake.
    const event = (await (await svc.db()).knex('webhook_events').where('event_key', `approval.requested:${id!}`).first()) as { payload: string };
    expect((JSON.parse(event.payload) as { data: { approve_url: string } }).data.approve_url.startsWith(`${svc.url}/approvals/${id!}/review?`)).toBe(true);
    await svc.admin().post(`/approvals/${id!}/approve`).send({}).expect(200);
    expect((await s.call('stripe_create_payment_intent', { amount: 4000, currency: 'usd' })).isError).toBe(false);
    expect(fake.received.length).toBe(before + 1);
    const audit = await svc.admin().get('/audit').query({ approval_id: id! });
    expect(audit.body.data.map((r: { channel: string }) => r.channel)).toEqual(['mcp', 'mcp']);
    await s.close();
  });

  test('revoked between two calls of one session: the second is an error result naming the revocation', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['POST /v1/payment_intents'] });
    const s = await mcpSession(svc.url, key.vault_key);
    expect((await s.call('stripe_create_payment_intent', { amount: 100, currency: 'usd' })).isError).toBe(false);
    expect((await svc.admin().delete(`/vault/keys/${key.id}`)).status).toBe(200);
    const before = fake.received.length;
    const r = await s.call('stripe_create_payment_intent', { amount: 100, currency: 'usd' });
    expect(r).toEqual({ isError: true, text: 'This vault key has been revoked; ask for a new one. Retrying will not help.', texts: [expect.any(String)] });
    expect(fake.received.length).toBe(before);
    await s.close();
  });

  test('arguments the tool does not take are an error result, audited, and nothing is sent', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['POST /v1/payment_intents'] });
    const s = await mcpSession(svc.url, key.vault_key);
    const before = fake.received.length;
    const r = await s.call('stripe_create_payment_intent', { amount: 100, currency: 'usd', expand: ['latest_charge'] });
    expect(r).toMatchObject({ isError: true, text: expect.stringMatching(/takes no argument expand/) });
    const missing = await s.call('stripe_create_payment_intent', { amount: 100 });
    expect(missing).toMatchObject({ isError: true, text: 'stripe_create_payment_intent needs currency.' });
    expect(fake.received.length).toBe(before);
    expect((await audit(key.id)).map((row) => [row.decision, row.code, row.channel])).toEqual([
      ['deny', 'bad_request', 'mcp'],
      ['deny', 'bad_request', 'mcp'],
    ]);
    await expect(s.client.callTool({ name: 'stripe_no_such_tool', arguments: {} })).rejects.toThrow(/Unknown tool/);
    await s.close();
  });

  test('an unknown key is refused with 401, a key issued with "mcp": false with 403', async () => {
    await expect(mcpSession(svc.url, 'vault_key_000000000000000000000000000000AB')).rejects.toMatchObject({ code: 401, message: expect.stringContaining('This vault key is not known to Keybrake.') });
    const off = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['*'], mcp: false });
    expect(off.mcp).toBe(false);
    await expect(mcpSession(svc.url, off.vault_key)).rejects.toMatchObject({ code: 403, message: expect.stringContaining('not served over MCP') });
    const on = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['*'] });
    expect(on.mcp).toBe(true);
    // The admin API says how to use a key over MCP (the console's key page shows it).
    const how = (await svc.admin().get(`/vault/keys/${on.id}/mcp`)).body as { url: string; enabled: boolean; clients: { client: string }[] };
    expect([how.url, how.enabled, how.clients.map((c) => c.client)]).toEqual([`${svc.url}/mcp`, true, ['dify', 'claude-desktop', 'cursor', 'vscode']]);
    expect((await svc.admin().get(`/vault/keys/${off.id}/mcp`)).body.enabled).toBe(false);
    // Turned off later, the key is refused at once.
    expect((await svc.admin().patch(`/vault/keys/${on.id}`).send({ mcp: false })).body.mcp).toBe(false);
    await expect(mcpSession(svc.url, on.vault_key)).rejects.toMatchObject({ code: 403 });
  });

  test("a KEYBRAKE_CONFIG vendor's tool carries the config's description and arguments, and is priced by its rule", async () => {
    const key = await svc.issueKey({ vendor: 'acme', daily_usd_cap: 5, allowed_endpoints: ['*'] });
    const s = await mcpSession(svc.url, key.vault_key);
    const { tools } = await s.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['acme_charge']);
    expect(tools[0]).toMatchObject({ description: expect.stringContaining('Charges the card on file. amount is in cents.'), inputSchema: { required: ['amount', 'currency'], properties: { amount: { type: 'integer', description: 'Cents to charge.' } } } });
    const before = fake.received.length;
    expect((await s.call('acme_charge', { amount: 300, currency: 'usd' })).isError).toBe(false);
    expect(fake.received.slice(before).map((r) => [r.path, r.params.get('amount')])).toEqual([['/v1/charges', '300']]);
    const over = await s.call('acme_charge', { amount: 301, currency: 'usd' });
    expect(over).toMatchObject({ isError: true, text: expect.stringMatching(/^Spending cap reached/) });
    expect(fake.received.length).toBe(before + 1);
    await s.close();
  });

  describe("Dify's MCP client on the wire (dify.md §5)", () => {
    let key: { id: string; vault_key: string };
    beforeAll(async () => {
      key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 30, allowed_endpoints: ['POST /v1/payment_intents'] });
    });
    /** One POST as Dify sends it: both Accept types, JSON, the stored Authorization header, never MCP-Protocol-Version. */
    const post = (body: unknown, session?: string) =>
      fetch(`${svc.url}/mcp`, {
        method: 'POST',
        headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${key.vault_key}`, ...(session ? { 'mcp-session-id': session } : {}) },
        body: JSON.stringify(body),
      });

    test.each(['2025-06-18', '2025-03-26', '2024-11-05'])('initialize with id 0 and protocol %s: the same version back, and a session id', async (version) => {
      const res = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'Dify', version: '1.12.0' } } });
      expect(res.status).toBe(200);
      expect(res.headers.get('mcp-session-id')).toMatch(/^mcp_/);
      const body = (await res.json()) as { id: number; result: { protocolVersion: string; serverInfo: { name: string } } };
      expect([body.id, body.result.protocolVersion, body.result.serverInfo.name]).toEqual([0, version, 'keybrake']);
    });

    test('one session per tool call: initialize, initialized, tools/call (id 0 again), DELETE; with and without the session id', async () => {
      for (const echo of [true, false]) {
        const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'Dify', version: '1.12.0' } } });
        const session = echo ? (init.headers.get('mcp-session-id') ?? undefined) : undefined;
        expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status).toBe(202);
        const called = await post({ jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'stripe_create_payment_intent', arguments: { amount: 500, currency: 'usd' } } }, session);
        expect(called.status).toBe(200);
        const body = (await called.json()) as { id: number; result: { content: { text: string }[]; isError?: boolean } };
        expect(body.id).toBe(0);
        expect(body.result.isError ?? false).toBe(false);
        expect(JSON.parse(body.result.content[0]?.text ?? '{}')).toMatchObject({ amount: 500 });
        const closed = await fetch(`${svc.url}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${key.vault_key}`, ...(session ? { 'mcp-session-id': session } : {}) } });
        expect(closed.status).toBe(200);
      }
      const rows = await audit(key.id);
      expect(rows.map((r) => [r.channel, r.mcp_session === null ? 'none' : 'given'])).toEqual([
        ['mcp', 'given'],
        ['mcp', 'none'],
      ]);
    });

    test('a refusal reaches the model as the text of a result, not as an HTTP or protocol error', async () => {
      const called = await post({ jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'stripe_create_payment_intent', arguments: { amount: 99_999, currency: 'usd' } } });
      expect(called.status).toBe(200);
      const body = (await called.json()) as { result: { content: { text: string }[]; isError: boolean } };
      expect(body.result.isError).toBe(true);
      expect(body.result.content[0]?.text).toMatch(/^Spending cap reached/);
    });

    test('GET opens no stream (405); a body that is not JSON is a parse error (400)', async () => {
      const get = await fetch(`${svc.url}/mcp`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${key.vault_key}` } });
      expect(get.status).toBe(405);
      const bad = await fetch(`${svc.url}/mcp`, { method: 'POST', headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${key.vault_key}` }, body: '{not json' });
      expect([bad.status, ((await bad.json()) as { error: { code: number } }).error.code]).toEqual([400, -32700]);
    });
  });
});
