// A loopback fake of the Stripe endpoints the proxy is tested against. It answers like Stripe (form bodies,
// bearer secret key, Stripe-shaped errors) and records exactly what it received.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
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
  seed(obj: Record<string, unknown>): void;
  /** Replace the next answers, e.g. to fail or stall. */
  override: ((r: Received) => { status: number; body: unknown; delayMs?: number; headers?: Record<string, string> } | 'hang' | 'reset' | undefined) | undefined;
  close(): Promise<void>;
}

function stripeError(status: number, type: string, message: string): { status: number; body: unknown } {
  return { status, body: { error: { type, message } } };
}

/** Reads a request's body, then hands it on with the parsed URL: how every fake vendor here starts. */
export function onRequest(req: IncomingMessage, then: (body: string, url: URL) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => then(Buffer.concat(chunks).toString('utf8'), new URL(req.url ?? '/', 'http://fake')));
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
    seed: () => undefined,
    close: () => new Promise((ok) => server.close(() => ok())),
  };

  /** Seeds objects the fake should know (prices, invoices, payment intents made elsewhere). */
  fake.seed = (obj: Record<string, unknown>) => objects.set(String(obj.id), obj);
  const refund = (obj: Record<string, unknown>): { status: number; body: unknown } => {
    const amount = Number(r_amount ?? Number(obj.amount_received ?? obj.amount) - Number(obj.amount_refunded ?? 0));
    obj.amount_refunded = Number(obj.amount_refunded ?? 0) + amount;
    return { status: 200, body: { id: `re_${++seq}`, object: 'refund', amount, currency: obj.currency } };
  };
  let r_amount: string | null = null;
  const answer = (r: Received): { status: number; body: unknown } => {
    r_amount = r.params.get('amount');
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
    const simple = /^\/v1\/(transfers|payouts|topups)$/.exec(r.path);
    if (r.method === 'POST' && simple) return create(simple[1] === 'transfers' ? 'tr' : simple[1] === 'payouts' ? 'po' : 'tu', simple[1]!.slice(0, -1));
    const act = /^\/v1\/(payment_intents|charges|invoices)\/([A-Za-z0-9_]+)\/(confirm|capture|pay|refunds)$/.exec(r.path);
    if (r.method === 'POST' && act) {
      const obj = objects.get(act[2] as string);
      if (!obj) return stripeError(404, 'invalid_request_error', `No such object: '${act[2]}'`);
      if (act[3] === 'confirm') Object.assign(obj, { status: 'succeeded', amount_received: obj.amount });
      if (act[3] === 'capture') Object.assign(obj, { status: 'succeeded', amount_received: Number(r.params.get('amount_to_capture') ?? r.params.get('amount') ?? obj.amount) });
      if (act[3] === 'pay') Object.assign(obj, { status: 'paid', amount_paid: obj.amount_remaining, amount_remaining: 0 });
      if (act[3] === 'refunds') return refund(obj);
      return { status: 200, body: obj };
    }
    if (r.method === 'POST' && r.path === '/v1/refunds') {
      const obj = objects.get(r.params.get('charge') ?? r.params.get('payment_intent') ?? '');
      return obj ? refund(obj) : stripeError(404, 'invalid_request_error', 'No such charge');
    }
    if (r.method === 'POST' && r.path === '/v1/checkout/sessions') {
      let total = 0;
      let currency = '';
      for (let i = 0; r.params.has(`line_items[${i}][quantity]`) || r.params.has(`line_items[${i}][price]`) || r.params.has(`line_items[${i}][price_data][unit_amount]`); i++) {
        const priceId = r.params.get(`line_items[${i}][price]`);
        const price = priceId ? objects.get(priceId) : undefined;
        const unit = price ? Number(price.unit_amount) : Number(r.params.get(`line_items[${i}][price_data][unit_amount]`));
        currency = price ? String(price.currency) : (r.params.get(`line_items[${i}][price_data][currency]`) ?? '');
        total += unit * Number(r.params.get(`line_items[${i}][quantity]`) ?? 1);
      }
      const session = { id: `cs_${++seq}`, object: 'checkout.session', amount_total: total, currency, url: 'https://checkout.stripe.test/x' };
      return { status: 200, body: session };
    }
    if (r.method === 'POST' && r.path === '/v1/customers') {
      const obj = { id: `cus_${++seq}`, object: 'customer', email: r.params.get('email') };
      objects.set(obj.id, obj);
      return { status: 200, body: obj };
    }
    const m = /^\/v1\/(payment_intents|charges|customers|invoices|prices)\/([A-Za-z0-9_]+)$/.exec(r.path);
    if (r.method === 'GET' && m) {
      const obj = objects.get(m[2] as string);
      return obj ? { status: 200, body: obj } : stripeError(404, 'invalid_request_error', `No such object: '${m[2]}'`);
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${r.method}: ${r.path}).`);
  };

  const server: Server = createServer((req, res) => {
    onRequest(req, (body, url) => {
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
