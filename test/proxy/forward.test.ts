// Forwarding (proxy/forward.ts) against a loopback server: the answer is read whole, only the adapter's response
// headers come back, and an answer past the size limit is refused as a call that may have taken effect.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Upstreams, UpstreamError } from '../../service/proxy/forward';
import { stripe } from '../../service/vendors/stripe';

describe('forwarding', () => {
  let server: Server;
  let upstreams: Upstreams;
  let vendor: typeof stripe;
  const seen: { method?: string; url?: string; auth?: string; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
        const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? 10);
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_1', 'x-internal': 'no' });
        // In several writes, so that the answer arrives in more than one chunk.
        const text = JSON.stringify({ pad: 'x'.repeat(size) });
        for (let i = 0; i < text.length; i += 1000) res.write(text.slice(i, i + 1000));
        res.end();
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    vendor = { ...stripe, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/base/` };
    upstreams = new Upstreams({ connectTimeoutMs: 1_000, timeoutMs: 2_000, maxResponseBytes: 4_096 });
  });
  afterAll(async () => {
    await upstreams.close();
    await new Promise((ok) => server.close(ok));
  });

  test('sends the request under the base path and reads the whole answer', async () => {
    const res = await upstreams.forward(vendor, { method: 'POST', pathAndQuery: '/v1/charges?size=3000', headers: { authorization: 'Bearer sk_test_x' }, body: 'amount=100' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).pad).toHaveLength(3000);
    expect(res.headers).toEqual({ 'request-id': 'req_1', 'content-type': 'application/json' });
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/base/v1/charges?size=3000', auth: 'Bearer sk_test_x', body: 'amount=100' });
  });

  test('an answer past the limit is refused as upstream_unreachable, and the call may have taken effect', async () => {
    const err = (await upstreams.forward(vendor, { method: 'GET', pathAndQuery: '/v1/charges?size=20000', headers: {}, body: undefined }).catch((e: unknown) => e)) as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect([err.code, err.mayHaveActed]).toEqual(['upstream_unreachable', true]);
    expect(err.message).toMatch(/larger than 4096 bytes/);
    // The pool is still usable afterwards.
    const ok = await upstreams.forward(vendor, { method: 'GET', pathAndQuery: '/v1/charges?size=10', headers: {}, body: undefined });
    expect(ok.status).toBe(200);
  });

  test('a vendor that is not listening was never reached', async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((ok) => closed.close(ok));
    const err = (await upstreams.forward({ ...vendor, baseUrl: `http://127.0.0.1:${port}` }, { method: 'GET', pathAndQuery: '/v1/x', headers: {}, body: undefined }).catch((e: unknown) => e)) as UpstreamError;
    expect([err.code, err.mayHaveActed]).toEqual(['upstream_unreachable', false]);
  });
});
