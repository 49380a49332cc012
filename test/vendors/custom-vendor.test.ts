// A vendor described only in KEYBRAKE_CONFIG is proxied, priced, capped and audited like a built-in one.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, startTestService, type TestService } from '../helpers/service';
import { describeEachStore } from '../helpers/stores';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

describeEachStore('user-defined vendor', (storeName) => {
  let upstream: Server;
  const seen: Seen[] = [];
  let svc: TestService;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
        const ok = new URL(req.url ?? '/', 'http://x').searchParams.get('api_key') === 'acme-secret-42';
        res.writeHead(ok ? 201 : 401, { 'content-type': 'application/json' });
        res.end(JSON.stringify(ok ? { id: `lbl_${seen.length}` } : { error: 'bad key' }));
      });
    });
    await new Promise<void>((ok) => upstream.listen(0, '127.0.0.1', () => ok()));
    const dir = mkdtempSync(join(tmpdir(), 'kb-acme-'));
    const config = join(dir, 'keybrake.yaml');
    writeFileSync(
      config,
      [
        'vendors:',
        '  acme:',
        '    name: Acme Shipping',
        `    base_url: http://127.0.0.1:${(upstream.address() as AddressInfo).port}/api`,
        '    auth: { style: query, query_param: api_key, secret_env: ACME_API_KEY }',
        '    body: json',
        '    endpoints:',
        '      - match: POST /v1/labels',
        '        price: { fixed_usd: 0.25 }',
        '      - match: POST /v1/orders',
        '        price: { amount_field: total, currency_field: currency, units: major }',
        '      - match: POST /v1/broadcasts',
        '        price: { count_field: recipients, unit_usd: 0.01 }',
        '',
      ].join('\n'),
    );
    svc = await startTestService(storeName, undefined, { KEYBRAKE_CONFIG: config, ACME_API_KEY: 'acme-secret-42' });
  });
  afterAll(async () => {
    await svc.close();
    await new Promise((ok) => upstream.close(ok));
  });

  test('priced per rule, capped, audited, with the secret in the query and nowhere else', async () => {
    const key = await svc.issueKey({ vendor: 'acme', daily_usd_cap: 1, allowed_endpoints: ['POST /v1/**'] });
    const label = await call(svc.url, '/acme/v1/labels', { key: key.vault_key, json: { to: 'Berlin' } });
    expect([label.status, label.body.id]).toEqual([201, 'lbl_1']);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/labels?api_key=acme-secret-42', body: '{"to":"Berlin"}' });
    expect(seen[0]!.headers.authorization).toBeUndefined();

    expect((await call(svc.url, '/acme/v1/broadcasts', { key: key.vault_key, json: { recipients: ['a', 'b', 'c'] } })).status).toBe(201);
    const order = await call(svc.url, '/acme/v1/orders', { key: key.vault_key, json: { total: '0.75', currency: 'usd' } });
    expect([order.status, order.body.error?.code]).toEqual([429, 'daily_cap_exceeded']);
    expect((await call(svc.url, '/acme/v1/orders', { key: key.vault_key, json: { total: '0.72', currency: 'usd' } })).status).toBe(201);
    const unpriced = await call(svc.url, '/acme/v1/refunds', { key: key.vault_key, json: { order: 'o_1' } });
    expect([unpriced.status, unpriced.body.error?.code]).toEqual([403, 'cost_unknown']);
    expect(seen.length).toBe(3);

    const shown = await svc.admin().get(`/vault/keys/${key.id}`);
    expect(shown.body.spent_today_usd).toBe(1);
    const rows = (await (await svc.db()).knex('audit_log').where({ key_id: key.id }).orderBy('ts').orderBy('id')) as { code: string | null; estimated_micros: number; object_id: string | null }[];
    expect(rows.map((r) => [r.code, r.estimated_micros, r.object_id])).toEqual([
      [null, 250_000, 'lbl_1'],
      [null, 30_000, 'lbl_2'],
      ['daily_cap_exceeded', 750_000, null],
      [null, 720_000, 'lbl_3'],
      ['cost_unknown', 0, null],
    ]);
    expect(JSON.stringify(await (await svc.db()).knex('audit_log').select())).not.toContain('acme-secret-42');
  });

  test('the vendor is listed, and its secret can be replaced through the API', async () => {
    const vendors = await svc.admin().get('/vendors');
    expect((vendors.body.data as { id: string; credentials: string }[]).find((v) => v.id === 'acme')).toMatchObject({ credentials: 'env' });
    const bad = await svc.admin().put('/vendors/acme/credentials').send({ api_key: 'x' });
    expect([bad.status, bad.body.error.param]).toEqual([400, 'api_key']);
    await svc.admin().put('/vendors/acme/credentials').send({ secret: 'rotated' }).expect(200);
    const key = await svc.issueKey({ vendor: 'acme', daily_usd_cap: 1, allowed_endpoints: ['POST /v1/labels'] });
    const res = await call(svc.url, '/acme/v1/labels', { key: key.vault_key, json: {} });
    expect(res.status).toBe(401);
    expect(seen[seen.length - 1]!.url).toBe('/api/v1/labels?api_key=rotated');
    expect((await svc.admin().get(`/vault/keys/${key.id}`)).body.spent_today_usd).toBe(0);
  });
});
