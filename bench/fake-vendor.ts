// The benchmark's vendor: a minimal Stripe-like server on loopback that answers at once and counts what it
// accepted, so that spend can be checked against it afterwards. Prints its URL on stdout.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let acceptedMinor = 0;
let charges = 0;
let reads = 0;
let seq = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'request-id': `req_${++seq}` });
      res.end(text);
    };
    const path = (req.url ?? '').split('?')[0];
    if (path === '/__stats') return send(200, { acceptedMinor, charges, reads });
    if (req.method === 'POST' && path === '/v1/charges') {
      const amount = Number(new URLSearchParams(Buffer.concat(chunks).toString()).get('amount'));
      acceptedMinor += amount;
      charges++;
      return send(200, { id: `ch_${seq}`, object: 'charge', amount, currency: 'usd', status: 'succeeded' });
    }
    if (req.method === 'GET' && path?.startsWith('/v1/customers/')) {
      reads++;
      return send(200, { id: path.slice('/v1/customers/'.length), object: 'customer', email: 'bench@example.com' });
    }
    send(404, { error: { type: 'invalid_request_error', message: 'not found' } });
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
