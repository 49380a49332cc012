// Class 4: estimates round up to the ledger's unit (a part of a cent never goes uncounted). Class 5: vendors
// described in YAML: a priced field cannot be moved into a write's query string, a caller cannot send the secret's
// own parameter, and a secret injected into the query (or a header) never comes back to the caller or the audit.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../service/config-file';
import { call } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';
import { attempt, expectNoSecretLeaked, form, useWorld } from './harness';

const SECRETS = { query: 'acme-query-secret-1234', basicUser: 'acme-user', basic: 'acme-basic-secret-5678', header: 'acme header secret <&"> 9' };

/** Decimal text to micro-dollars, exactly, rounding the seventh decimal up (the vendor's own books). */
const exactMicros = (text: string): number => {
  const [int = '0', frac = ''] = text.split('.');
  return Number(int) * 1e6 + Number(frac.slice(0, 6).padEnd(6, '0')) + (/[1-9]/.test(frac.slice(6)) ? 1 : 0);
};

interface AcmeSeen {
  method: string;
  url: string;
  body: string;
  billed: number;
}

/** One Acme server for the three auth styles; careless: it echoes what it was sent. */
function startAcme(seen: AcmeSeen[]): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const url = new URL(req.url ?? '/', 'http://acme');
      const json = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      let billed = 0;
      if (req.method === 'POST' && url.pathname.endsWith('/v1/orders')) billed = exactMicros(String(url.searchParams.get('total') ?? json.total));
      if (req.method === 'POST' && url.pathname.endsWith('/v1/tips')) billed = exactMicros(String(json.tip));
      if (req.method === 'POST' && url.pathname.endsWith('/v1/units')) billed = Math.ceil(Number(json.n)) * 10_000;
      seen.push({ method: req.method ?? '', url: req.url ?? '', body, billed });
      const auth = String(req.headers.authorization ?? req.headers['x-api-key'] ?? '');
      if (url.pathname.endsWith('/v1/echo')) {
        res.writeHead(302, { location: `https://acme.example/cb?${url.search.slice(1)}&auth=${encodeURIComponent(auth)}`, 'content-type': 'application/xml' });
        res.end(`<echo><url>${(req.url ?? '').replace(/&/g, '&amp;')}</url><auth>${auth.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')}</auth><b64>${Buffer.from(auth.replace(/^Basic /, '')).toString('base64')}</b64></echo>`);
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json', 'x-request-id': `req ${auth}` });
      res.end(JSON.stringify({ id: `ord_${seen.length}`, received_url: req.url, auth, auth_encoded: encodeURIComponent(auth), token: 'acme-session-token-abc', json_escaped: JSON.stringify(auth) }));
    });
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

function configFor(port: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'kb-adv-yaml-'));
  const file = join(dir, 'keybrake.yaml');
  const vendor = (id: string, auth: string, base: string): string[] => [
    `  ${id}:`,
    `    base_url: http://127.0.0.1:${port}/${base}`,
    `    auth: ${auth}`,
    '    endpoints:',
    '      - match: POST /v1/orders',
    '        price: { amount_field: total, currency: usd, units: major }',
    '        query: [dry_run]',
    '      - match: POST /v1/tips',
    '        price: { amount_field: tip, currency: usd, units: major }',
    '      - match: POST /v1/units',
    '        price: { count_field: n, unit_usd: 0.01 }',
    '      - match: GET /v1/echo',
    '        price: { fixed_usd: 0 }',
  ];
  writeFileSync(
    file,
    [
      'vendors:',
      ...vendor('acmeq', '{ style: query, query_param: api_key, secret_env: ACME_Q }', 'q'),
      ...vendor('acmeb', '{ style: basic, username_env: ACME_B_USER, secret_env: ACME_B }', 'b'),
      ...vendor('acmeh', '{ style: header, header: X-Api-Key, secret_env: ACME_H }', 'h'),
      '',
    ].join('\n'),
  );
  return file;
}

describeEachStore('adversarial: rounding, and vendors described in YAML', (storeName) => {
  const seen: AcmeSeen[] = [];
  let acme: Server;
  const env: Record<string, string> = { ACME_Q: SECRETS.query, ACME_B_USER: SECRETS.basicUser, ACME_B: SECRETS.basic, ACME_H: SECRETS.header };
  beforeAll(async () => {
    acme = await startAcme(seen);
    env.KEYBRAKE_CONFIG = configFor((acme.address() as AddressInfo).port);
  });
  afterAll(() => new Promise<void>((ok) => acme.close(() => ok())));
  const world = useWorld(storeName, env);

  /** A YAML-vendor attempt: the books are Acme's. */
  async function acmeAttempt(vendor: string, cap: number, run: (c: (path: string, o?: Parameters<typeof call>[2]) => ReturnType<typeof call>) => Promise<void>): Promise<{ billed: number; counted: number }> {
    const key = await world.svc.issueKey({ vendor, daily_usd_cap: cap, allowed_endpoints: ['*'], dedupe_window: 'off' });
    const before = seen.length;
    await run(async (path, o = {}) => {
      const reply = await call(world.svc.url, `/${vendor}${path}`, { key: key.vault_key, ...o });
      const headers: string[] = [];
      reply.headers.forEach((v, k) => headers.push(`${k}: ${v}`));
      world.answers.push(headers.join('\n') + '\n' + JSON.stringify(reply.body));
      return reply;
    });
    const billed = seen.slice(before).reduce((a, s) => a + s.billed, 0);
    const counted = Math.round(Number((await world.svc.admin().get(`/vault/keys/${key.id}`)).body.spent_today_usd) * 1e6);
    expect({ ok: billed <= counted, billed, counted }).toEqual({ ok: true, billed, counted });
    expect(billed).toBeLessThanOrEqual(cap * 1e6);
    return { billed, counted };
  }

  test.each([
    ['0.07', 70_000],
    ['19.99', 19_990_000],
    ['0.0000001', 1],
    ['0.0000019', 2],
    ['1.005', 1_005_000],
  ])('a major-unit amount of %s USD counts %d micro-dollars, never less', async (tip, micros) => {
    const { counted } = await acmeAttempt('acmeq', 100, async (c) => {
      expect((await c('/v1/tips', { json: { tip } })).status).toBe(201);
    });
    expect(counted).toBe(micros);
  });

  test('a JSON number is priced as written, not through binary floating point', async () => {
    const { counted } = await acmeAttempt('acmeq', 100, async (c) => void (await c('/v1/tips', { json: { tip: 0.07 } })));
    expect(counted).toBe(70_000);
  });

  test('a fractional count is a whole unit started', async () => {
    const { counted } = await acmeAttempt('acmeq', 100, async (c) => void (await c('/v1/units', { json: { n: 2.5 } })));
    expect(counted).toBe(30_000);
  });

  test('one cent of a currency worth a fraction of a micro-dollar per unit still counts', async () => {
    const { counted } = await attempt(world, 'stripe', 10, async (a) => {
      expect((await a.call('/stripe/v1/payment_intents', { form: form({ amount: 1, currency: 'idr' }) })).status).toBe(200);
    });
    expect(counted).toBeGreaterThanOrEqual(1);
  });

  test('a priced field in a write\'s query string is refused; a declared query parameter passes', async () => {
    const before = seen.length;
    await acmeAttempt('acmeq', 50, async (c) => {
      const moved = await c('/v1/orders?total=100000', { json: { total: 1 } });
      expect([moved.status, moved.body.error?.code]).toEqual([400, 'bad_request']);
      expect(String(moved.body.error?.message)).toMatch(/query parameters are not accepted on POST for acmeq here \(only dry_run\)/);
      expect((await c('/v1/orders?dry_run=1', { json: { total: 5 } })).status).toBe(201);
    });
    expect(seen.length - before).toBe(1);
  });

  test('a caller may not send the parameter the secret goes in', async () => {
    await acmeAttempt('acmeq', 50, async (c) => {
      const res = await c('/v1/echo?api_key=mine');
      expect([res.status, res.body.error?.code]).toEqual([400, 'bad_request']);
    });
  });

  test('a config that lets a priced field into the query string does not start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kb-adv-bad-'));
    const file = join(dir, 'k.yaml');
    writeFileSync(file, 'vendors:\n  bad:\n    base_url: http://127.0.0.1:1\n    auth: { style: bearer }\n    endpoints:\n      - match: POST /x\n        price: { amount_field: total, currency: usd, units: major }\n        query: [total]\n');
    expect(loadConfigFile(file, [])).toMatch(/vendors\.bad\.endpoints\.0\.query: expected no priced field in the query string/);
  });

  test.each(['acmeq', 'acmeb', 'acmeh'])('%s: a vendor that echoes its URL, its headers and its auth, in JSON, XML, a Location and base64, is scrubbed', async (vendor) => {
    await acmeAttempt(vendor, 50, async (c) => {
      const echoed = await c('/v1/echo');
      expect(echoed.status).toBe(302);
      expect(echoed.headers.get('x-keybrake-scrubbed')).toMatch(/secrets/);
      expect(echoed.headers.get('location')).toBeNull(); // a redirect's target is never passed on
      const order = await c('/v1/orders', { json: { total: 2 } });
      expect(order.status).toBe(201);
      expect(order.body.token).toBe('[scrubbed by Keybrake]');
    });
    const rows = JSON.stringify(await (await world.svc.db()).knex('audit_log').where({ vendor }).select('response_body', 'path', 'request_body'));
    expect(rows).toContain('[scrubbed by Keybrake]');
  });

  test('no secret of any vendor reached a caller, the audit or the log', async () => {
    world.secrets.push(SECRETS.query, SECRETS.basic, SECRETS.header, Buffer.from(`${SECRETS.basicUser}:${SECRETS.basic}`).toString('base64'), encodeURIComponent(SECRETS.header));
    await expectNoSecretLeaked(world);
  });
});
