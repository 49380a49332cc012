// A loopback fake of the Stripe endpoints the proxy is tested against. It answers like Stripe (form bodies,
// bearer secret key, Stripe-shaped errors) and records exactly what it received.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  params: URLSearchParams;
}

export interface FakeStripe {
  url: string;
  secret: string;
  received: Received[];
  /** Sum of the amounts (minor units) of the payment intents and charges it accepted. */
  acceptedMinor(): number;
  /** Replace the next answers, e.g. to fail or stall. */
  override: ((r: Received) => { status: number; body: unknown; delayMs?: number; headers?: Record<string, string> } | 'hang' | 'reset' | undefined) | undefined;
  close(): Promise<void>;
}

function stripeError(status: number, type: string, message: string): { status: number; body: unknown } {
  return { status, body: { error: { type, message } } };
}

export async function startFakeStripe(secret = 'sk_test_fake_0123456789'): Promise<FakeStripe> {
  const received: Received[] = [];
  const objects = new Map<string, Record<string, unknown>>();
  let accepted = 0;
  let seq = 0;
  const fake: FakeStripe = {
    url: '',
    secret,
    received,
    acceptedMinor: () => accepted,
    override: undefined,
    close: () => new Promise((ok) => server.close(() => ok())),
  };

  const answer = (r: Received): { status: number; body: unknown } => {
    if (r.headers.authorization !== `Bearer ${secret}`) return stripeError(401, 'invalid_request_error', 'Invalid API Key provided');
    const create = (prefix: string, object: string): { status: number; body: unknown } => {
      const amount = Number(r.params.get('amount'));
      const currency = r.params.get('currency') ?? '';
      if (!Number.isInteger(amount) || amount <= 0) return stripeError(400, 'invalid_request_error', 'Missing required param: amount.');
      if (r.params.get('source') === 'tok_chargeDeclined') return stripeError(402, 'card_error', 'Your card was declined.');
      const obj = { id: `${prefix}_${++seq}`, object, amount, currency, status: object === 'charge' ? 'succeeded' : 'requires_payment_method', client_secret: `${prefix}_${seq}_secret_abc` };
      objects.set(obj.id, obj);
      accepted += amount;
      return { status: 200, body: obj };
    };
    if (r.method === 'POST' && r.path === '/v1/payment_intents') return create('pi', 'payment_intent');
    if (r.method === 'POST' && r.path === '/v1/charges') return create('ch', 'charge');
    if (r.method === 'POST' && r.path === '/v1/customers') {
      const obj = { id: `cus_${++seq}`, object: 'customer', email: r.params.get('email') };
      objects.set(obj.id, obj);
      return { status: 200, body: obj };
    }
    const m = /^\/v1\/(payment_intents|charges|customers)\/([A-Za-z0-9_]+)$/.exec(r.path);
    if (r.method === 'GET' && m) {
      const obj = objects.get(m[2] as string);
      return obj ? { status: 200, body: obj } : stripeError(404, 'invalid_request_error', `No such object: '${m[2]}'`);
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${r.method}: ${r.path}).`);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://fake');
      const r: Received = {
        method: req.method ?? 'GET',
        path: url.pathname,
        headers: req.headers,
        body,
        params: new URLSearchParams(req.method === 'GET' ? url.search : body),
      };
      received.push(r);
      const special = fake.override?.(r);
      if (special === 'hang') return;
      if (special === 'reset') return req.socket.destroy();
      const out: { status: number; body: unknown; headers?: Record<string, string> } = special ?? answer(r);
      const write = (): void => {
        res.writeHead(out.status, { 'content-type': 'application/json', 'request-id': `req_${received.length}`, 'x-internal-secret-header': 'must-not-pass', ...(out.headers ?? {}) });
        res.end(JSON.stringify(out.body));
      };
      if (special && special.delayMs) setTimeout(write, special.delayMs);
      else write();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
