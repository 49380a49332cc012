// The baseline: a bare pass-through proxy with the same undici pool settings as Keybrake and nothing else — no
// key, no policy, no database. /stripe/... goes to the upstream given as argv[2]. Prints its URL on stdout.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const upstream = new Pool(process.argv[2] as string, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    upstream
      .request({
        method: req.method as 'GET' | 'POST',
        path: (req.url ?? '/').replace(/^\/stripe/, ''),
        headers: { authorization: 'Bearer sk_test_bench', ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        body,
      })
      .then(async (r) => {
        const out = Buffer.from(await r.body.arrayBuffer());
        res.writeHead(r.statusCode, { 'content-type': 'application/json', 'content-length': out.length });
        res.end(out);
      })
      .catch(() => {
        res.writeHead(502).end();
      });
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
