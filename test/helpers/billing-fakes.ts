// Fake vendors that keep their own books: each works out, independently of Keybrake's pricing code, what every
// request it receives moves or commits (in micro-USD), the way the real vendor would bill it. An operation a fake
// does not recognise as bounded is billed as UNBOUNDED, so that forwarding it fails any cap check. The adversarial
// suite compares these books with what Keybrake reserved and settled.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SegmentedMessage } from 'sms-segments-calculator';
import { BUILTIN_PRICES, byPrefix } from '../../service/vendors/prices';
import { onRequest } from './fake-stripe';

export const UNBOUNDED = 1e12;

export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** Form fields (repeated keys joined in order) or the JSON body. */
  params: Record<string, unknown>;
  billed: number;
}

export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Micro-USD this request moves or commits, as the vendor bills it. */
  billed?: number;
  /** Raw body text instead of JSON. */
  text?: string;
}

export interface BillingFake {
  url: string;
  secret: string;
  received: Seen[];
  billed(): number;
  /** Milliseconds to hold a request before answering it. */
  delay: ((r: Seen) => number) | undefined;
  /**
   * A lost answer: 'after' does what the request asks and never answers; 'before' never answers and never does it
   * (the request did not get through).
   */
  lose: ((r: Seen) => 'after' | 'before' | undefined) | undefined;
  /** Every request answered 503 while set (the vendor is down). */
  down: boolean;
  close(): Promise<void>;
}

function parse(contentType: string | undefined, body: string): Record<string, unknown> {
  if ((contentType ?? '').includes('json')) {
    try {
      return JSON.parse(body) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export async function startBillingFake(secret: string, answer: (r: Seen) => Answer): Promise<BillingFake> {
  const received: Seen[] = [];
  const fake: BillingFake = {
    url: '',
    secret,
    received,
    billed: () => received.reduce((a, r) => a + r.billed, 0),
    delay: undefined,
    lose: undefined,
    down: false,
    close: () => new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
  const server: Server = createServer((req, res) => {
    onRequest(req, (body, url) => {
      const r: Seen = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, params: parse(req.headers['content-type'], body), billed: 0 };
      received.push(r);
      if (fake.down) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'Service Unavailable' } }));
        return;
      }
      const lost = fake.lose?.(r);
      if (lost === 'after') r.billed = answer(r).billed ?? 0;
      if (lost) return;
      const reply = (): void => {
        const out = answer(r);
        r.billed = out.billed ?? 0;
        const text = out.text ?? JSON.stringify(out.body);
        res.writeHead(out.status, { 'content-type': out.text !== undefined ? 'application/xml' : 'application/json', ...(out.headers ?? {}) });
        res.end(text);
      };
      const ms = fake.delay?.(r) ?? 0;
      if (ms > 0) setTimeout(reply, ms);
      else reply();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

// --- Stripe -----------------------------------------------------------------------------------------------------

const usdMinor = (minor: number): number => minor * 10_000;
const num = (v: unknown): number | undefined => (v === undefined || v === '' ? undefined : Number(v));
const stripeError = (status: number, message: string): Answer => ({ status, body: { error: { type: 'invalid_request_error', message } } });

/** Stripe, in USD: objects live in memory; every write bills what Stripe would move or commit for it. */
export async function startStripeBooks(secret = 'sk_test_books_0123456789'): Promise<BillingFake & { objects: Map<string, Record<string, unknown>> }> {
  const objects = new Map<string, Record<string, unknown>>();
  let seq = 0;
  let current: Seen | undefined;
  const make = (prefix: string, obj: Record<string, unknown>): Record<string, unknown> => {
    const metadata: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(current?.params ?? {})) {
      const m = /^metadata\[(.+)\]$/.exec(k);
      if (m) metadata[m[1] as string] = v;
    }
    const o = { id: `${prefix}_${++seq}`, ...obj, created: Math.floor(Date.now() / 1000), metadata };
    objects.set(o.id, o);
    return o;
  };
  const ok = (body: unknown, billed = 0): Answer => ({ status: 200, body, billed });
  const fake = await startBillingFake(secret, (r) => {
    const p = r.params;
    if (r.headers.authorization !== `Bearer ${secret}`) return stripeError(401, `Invalid API Key provided: ${String(r.headers.authorization)}`);
    current = r;
    if (r.method === 'GET' && /^\/v1\/(payment_intents|charges|refunds|transfers|payouts|topups)$/.test(r.path)) {
      const type = ({ payment_intents: 'payment_intent', charges: 'charge', refunds: 'refund', transfers: 'transfers', payouts: 'payouts', topups: 'topups' } as Record<string, string>)[r.path.slice(4)];
      const gte = Number(r.query.get('created[gte]') ?? 0);
      const data = [...objects.values()].filter((o) => o.object === type && Number(o.created) >= gte).reverse();
      return ok({ object: 'list', data, has_more: false });
    }
    if (r.method === 'GET') {
      // A careless answer: an error that quotes the request's credentials, and an object with a client secret.
      if (r.path === '/v1/echo') return { status: 402, body: { error: { type: 'card_error', message: `Declined for ${String(r.headers.authorization)} (key ${secret})`, payment_intent: { id: 'pi_e', client_secret: 'pi_e_secret_zzz' } } } };
      const obj = objects.get(r.path.split('/')[3] ?? '');
      return obj ? ok(obj) : stripeError(404, `No such object: ${r.path}`);
    }
    // v1, collection(s), id, action: the first segment that looks like an object id becomes {id}.
    const seg = r.path.split('/').slice(1);
    const at = seg.findIndex((s, i) => i >= 2 && /^(pi|ch|in|tr|fee|cus|sub|si|tmr|re|po|tu|cs|acct|prod|price)_\w+$/.test(s));
    const obj = at === -1 ? undefined : objects.get(seg[at] ?? '');
    const path = '/' + seg.map((s, i) => (i === at ? '{id}' : s)).join('/');
    const amount = num(p.amount);
    switch (`${r.method} ${path}`) {
      case 'POST /v1/payment_intents': {
        const confirmed = p.confirm === 'true';
        const pi = make('pi', { object: 'payment_intent', amount, currency: p.currency, status: confirmed ? 'succeeded' : 'requires_confirmation', amount_received: confirmed ? amount : 0, client_secret: `pi_secret_${seq}` });
        return ok(pi, confirmed ? usdMinor(amount ?? 0) : 0);
      }
      case 'POST /v1/payment_intents/{id}':
        if (obj?.status === 'succeeded') return stripeError(400, 'This PaymentIntent has already succeeded.');
        if (amount !== undefined) obj!.amount = amount;
        if (p.currency !== undefined) obj!.currency = p.currency;
        return ok(obj);
      case 'POST /v1/payment_intents/{id}/confirm': {
        if (obj?.status === 'succeeded') return stripeError(400, 'This PaymentIntent has already succeeded.');
        Object.assign(obj!, { status: 'succeeded', amount_received: obj!.amount });
        return ok(obj, usdMinor(Number(obj!.amount)));
      }
      case 'POST /v1/payment_intents/{id}/capture': {
        const captured = num(p.amount_to_capture) ?? Number(obj!.amount_capturable ?? obj!.amount);
        Object.assign(obj!, { status: 'succeeded', amount_received: captured, amount_capturable: 0 });
        return ok(obj, usdMinor(captured));
      }
      case 'POST /v1/payment_intents/{id}/increment_authorization': {
        const before = Number(obj!.amount);
        obj!.amount = amount;
        return ok(obj, usdMinor(Math.max(0, (amount ?? 0) - before)));
      }
      case 'POST /v1/payment_intents/{id}/cancel':
        obj!.status = 'canceled';
        return ok(obj);
      case 'POST /v1/charges':
        return ok(make('ch', { object: 'charge', amount, currency: p.currency, amount_refunded: 0, captured: true }), usdMinor(amount ?? 0));
      case 'POST /v1/charges/{id}/capture':
        return ok(Object.assign(obj!, { captured: true, amount_captured: amount ?? obj!.amount }), usdMinor(amount ?? Number(obj!.amount)));
      case 'POST /v1/refunds':
      case 'POST /v1/charges/{id}/refunds':
      case 'POST /v1/charges/{id}/refund':
      case 'POST /v1/terminal/readers/{id}/refund_payment': {
        const target = path.startsWith('/v1/charges') ? obj : objects.get(String(p.charge ?? p.payment_intent ?? ''));
        if (!target) return stripeError(404, 'No such charge');
        const refundable = Number(target.amount_received ?? target.amount) - Number(target.amount_refunded ?? 0);
        const refunded = amount ?? refundable;
        target.amount_refunded = Number(target.amount_refunded ?? 0) + refunded;
        return ok(make('re', { object: 'refund', amount: refunded, currency: target.currency }), usdMinor(refunded));
      }
      case 'POST /v1/transfers':
      case 'POST /v1/payouts':
      case 'POST /v1/topups':
      case 'POST /v1/treasury/outbound_payments':
        return ok(make('tr', { object: seg[1], amount, currency: p.currency, amount_reversed: 0 }), usdMinor(amount ?? 0));
      case 'POST /v1/transfers/{id}/reversals': {
        const reversed = amount ?? Number(obj!.amount) - Number(obj!.amount_reversed);
        obj!.amount_reversed = Number(obj!.amount_reversed) + reversed;
        return ok(make('trr', { object: 'transfer_reversal', amount: reversed, currency: obj!.currency }), usdMinor(reversed));
      }
      case 'POST /v1/application_fees/{id}/refunds':
      case 'POST /v1/application_fees/{id}/refund': {
        const refunded = amount ?? Number(obj!.amount) - Number(obj!.amount_refunded ?? 0);
        obj!.amount_refunded = Number(obj!.amount_refunded ?? 0) + refunded;
        return ok(make('fr', { object: 'fee_refund', amount: refunded, currency: obj!.currency }), usdMinor(refunded));
      }
      case 'POST /v1/invoices/{id}/pay': {
        const due = Number(obj!.amount_remaining);
        Object.assign(obj!, { status: 'paid', amount_paid: due, amount_remaining: 0 });
        return ok(obj, usdMinor(due));
      }
      case 'POST /v1/customers/{id}/balance_transactions':
        return ok(make('cbtxn', { object: 'customer_balance_transaction', amount, currency: p.currency }), usdMinor(Math.abs(amount ?? 0)));
      case 'POST /v1/customers':
      case 'POST /v1/customers/{id}':
        return ok(obj ? Object.assign(obj, { email: p.email }) : make('cus', { object: 'customer', email: p.email }), usdMinor(Math.abs(num(p.balance) ?? 0)));
      case 'POST /v1/checkout/sessions':
        return checkout(p, objects, make);
      case 'POST /v1/terminal/readers/{id}/process_payment_intent': {
        const pi = objects.get(String(p.payment_intent));
        return ok({ id: seg[2], object: 'terminal.reader', action: { type: 'process_payment_intent' } }, usdMinor(Number(pi?.amount ?? 0)));
      }
      default:
        return { status: 200, body: { id: `obj_${++seq}`, object: 'unknown' }, billed: UNBOUNDED };
    }
  });
  return Object.assign(fake, { objects });
}

/** What a Checkout session can collect: every line item at the largest quantity the customer may pick, plus the dearest shipping option. */
function checkout(p: Record<string, unknown>, objects: Map<string, Record<string, unknown>>, make: (prefix: string, obj: Record<string, unknown>) => Record<string, unknown>): Answer {
  if (p.mode === 'subscription' || p['automatic_tax[enabled]'] === 'true') return { status: 200, body: make('cs', { object: 'checkout.session' }), billed: UNBOUNDED };
  let total = 0;
  for (let i = 0; p[`line_items[${i}][quantity]`] !== undefined || p[`line_items[${i}][price]`] !== undefined || p[`line_items[${i}][price_data][unit_amount]`] !== undefined; i++) {
    if (Object.keys(p).some((k) => k.startsWith(`line_items[${i}][tax_rates]`) || k.startsWith(`line_items[${i}][dynamic_tax_rates]`))) return { status: 200, body: make('cs', {}), billed: UNBOUNDED };
    const price = objects.get(String(p[`line_items[${i}][price]`]));
    const unit = price ? Number(price.unit_amount) : Number(p[`line_items[${i}][price_data][unit_amount]`]);
    let qty = Number(p[`line_items[${i}][quantity]`] ?? 1);
    if (p[`line_items[${i}][adjustable_quantity][enabled]`] === 'true') qty = Math.max(qty, Number(p[`line_items[${i}][adjustable_quantity][maximum]`] ?? 99));
    total += unit * qty;
  }
  let shipping = 0;
  for (let i = 0; p[`shipping_options[${i}][shipping_rate]`] !== undefined || p[`shipping_options[${i}][shipping_rate_data][fixed_amount][amount]`] !== undefined; i++) {
    const rate = objects.get(String(p[`shipping_options[${i}][shipping_rate]`]));
    const amount = rate ? Number((rate.fixed_amount as Record<string, unknown>).amount) : Number(p[`shipping_options[${i}][shipping_rate_data][fixed_amount][amount]`]);
    shipping = Math.max(shipping, amount);
  }
  return { status: 200, body: make('cs', { object: 'checkout.session', amount_total: total, currency: 'usd', url: 'https://checkout.test/x' }), billed: usdMinor(total + shipping) };
}

// --- Twilio -----------------------------------------------------------------------------------------------------

const PRICES = BUILTIN_PRICES.twilio;
const dearestVoice = Math.max(...Object.values(PRICES.voice_per_minute));

/** A call's legs as Twilio would bill them: the call, and every number, client or SIP address its TwiML dials. */
function callBill(p: Record<string, unknown>, remoteLegs: number): number {
  const limit = Number(p.TimeLimit ?? 14_400);
  const minutes = Math.ceil(limit / 60);
  const to = String(p.To);
  let perMinute = byPrefix(PRICES.voice_per_minute, to);
  if (p.Url !== undefined || p.ApplicationSid !== undefined) return Math.ceil(minutes * (perMinute + (remoteLegs - 1) * dearestVoice) * 1e6 - 1e-6);
  const twiml = String(p.Twiml ?? '');
  if (/<(Redirect|Gather|Record|Enqueue|Conference|Queue|Connect|Start|Stream|Pay|Refer)\b|\s(action|url)=/i.test(twiml)) return UNBOUNDED;
  for (const m of twiml.matchAll(/<Number[^>]*>([^<]*)<\/Number>/g)) perMinute += byPrefix(PRICES.voice_per_minute, (m[1] ?? '').trim());
  for (const _ of twiml.matchAll(/<(Client|Sip)\b/g)) perMinute += dearestVoice;
  for (const m of twiml.matchAll(/<Dial[^>]*>([^<]+)<\/Dial>/g)) perMinute += byPrefix(PRICES.voice_per_minute, (m[1] ?? '').trim());
  return Math.ceil(minutes * perMinute * 1e6 - 1e-6);
}

function smsBill(p: Record<string, unknown>): number {
  const to = String(p.To);
  if (p.MediaUrl !== undefined) return Math.ceil(byPrefix(PRICES.mms_per_message, to) * 1e6);
  // Twilio's own segment calculator is the oracle here, not Keybrake's.
  const segments = new SegmentedMessage(String(p.Body ?? '')).segmentsCount;
  return Math.ceil(segments * byPrefix(PRICES.sms_per_segment, to) * 1e6);
}

/** Twilio's 2010 API with its secrets; `remoteLegs` is what remote TwiML dials when a call runs a Url. */
export async function startTwilioBooks(sid = 'AC' + 'b'.repeat(32), token = 'twilio_token_0123456789', opts: { remoteLegs?: number } = {}): Promise<BillingFake & { sid: string }> {
  let seq = 0;
  const made: Record<string, unknown>[] = [];
  const fake = await startBillingFake(token, (r) => {
    const auth = `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;
    // A careless vendor: its errors echo the request's Authorization header and URL.
    if (r.headers.authorization !== auth) return { status: 401, body: { code: 20003, message: `Authenticate: ${String(r.headers.authorization)} for ${r.path}?${r.query}` } };
    const m = /^\/2010-04-01\/Accounts\/([^/.]+)(?:\/(.+?))?(\.json|\.xml)?$/.exec(r.path);
    const resource = m?.[2] ?? '';
    const json = m?.[3] !== '.xml' && (m?.[3] === '.json' || r.headers.accept === 'application/json');
    const reply = (obj: Record<string, unknown>, billed: number, status = 201): Answer =>
      json ? { status, body: obj, billed } : { status, body: null, text: `<TwilioResponse>${Object.entries(obj).map(([k, v]) => `<${k}>${String(v)}</${k}>`).join('')}</TwilioResponse>`, billed };
    if (r.method === 'GET' && (resource === 'Messages' || resource === 'Calls')) {
      const to = r.query.get('To');
      const list = made.filter((x) => x.kind === resource && (to === null || x.to === to));
      return { status: 200, body: { [resource.toLowerCase()]: list, page: 0 } };
    }
    if (r.method === 'GET') {
      if (resource === '') return reply({ sid, auth_token: token, AuthToken: token, status: 'active' }, 0, 200);
      if (resource === 'Echo') {
        const basic = Buffer.from(`${sid}:${token}`).toString('base64');
        const out = reply({ sid, note: `token ${token}, header Basic ${basic}, url ${encodeURIComponent(token)}`, auth_token: token, secret: 'SK_minted_secret_1' }, 0, 200);
        return { ...out, headers: { location: `https://elsewhere.example/?auth=${basic}&t=${token}` } };
      }
      return reply({ sid: `XX${++seq}`, uri: r.path }, 0, 200);
    }
    if (resource === 'Messages') {
      const msg = { sid: `SM${++seq}`, to: r.params.To, from: r.params.From, body: r.params.Body, num_segments: String(new SegmentedMessage(String(r.params.Body ?? '')).segmentsCount), status: 'queued', date_created: new Date().toUTCString(), price: null, price_unit: 'USD' };
      made.push({ ...msg, kind: 'Messages' });
      return reply(msg, smsBill(r.params));
    }
    if (resource === 'Calls') return reply({ sid: `CA${++seq}`, to: r.params.To, status: 'queued' }, callBill(r.params, opts.remoteLegs ?? 1));
    if (resource === 'Keys' || resource === 'SigningKeys') return reply({ sid: `SK${++seq}`, secret: `key_secret_${seq}` }, 0);
    if (resource === '' || r.path === '/2010-04-01/Accounts.json') return reply({ sid: `AC${++seq}`, auth_token: `sub_token_${seq}` }, 0);
    return reply({ sid: `XX${++seq}` }, UNBOUNDED);
  });
  return Object.assign(fake, { sid });
}

// --- Resend -----------------------------------------------------------------------------------------------------

/** Resend counts every To, Cc and Bcc address as an email; a string may hold several, comma-separated. */
function recipients(email: Record<string, unknown>): number {
  let n = 0;
  for (const field of ['to', 'cc', 'bcc']) {
    const v = email[field];
    const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
    for (const x of list) n += String(x).split(/[,;]/).filter((a) => a.trim() !== '').length;
  }
  return n;
}

export async function startResendBooks(key = 're_books_0123456789'): Promise<BillingFake> {
  let seq = 0;
  const per = BUILTIN_PRICES.resend.per_email;
  const sent: Record<string, unknown>[] = [];
  const keep = (e: Record<string, unknown>, id: string): void => void sent.unshift({ id, to: Array.isArray(e.to) ? e.to : [e.to], subject: e.subject, created_at: new Date().toISOString() });
  return startBillingFake(key, (r) => {
    if (r.method === 'GET' && r.path === '/emails') return { status: 200, body: { object: 'list', data: sent, has_more: false } };
    if (r.headers.authorization !== `Bearer ${key}`) return { status: 401, body: { statusCode: 401, name: 'invalid_api_key', message: `API key is invalid: ${String(r.headers.authorization)}` } };
    if (r.method === 'GET' && r.path === '/echo') return { status: 422, body: { statusCode: 422, name: 'validation_error', message: `Bad request with ${String(r.headers.authorization)}`, token: 're_leaked_token' } };
    if (r.method === 'GET') return { status: 200, body: { object: 'list', data: [] } };
    if (r.path === '/emails') {
      const id = `em_${++seq}`;
      keep(r.params, id);
      return { status: 200, body: { id }, billed: Math.ceil(recipients(r.params) * per * 1e6) };
    }
    if (r.path === '/emails/batch') {
      const emails = r.params as unknown as Record<string, unknown>[];
      return { status: 200, body: { data: emails.map(() => ({ id: `em_${++seq}` })) }, billed: Math.ceil(emails.reduce((a, e) => a + recipients(e), 0) * per * 1e6) };
    }
    if (r.path === '/broadcasts') return { status: 201, body: { id: `bc_${++seq}` }, billed: r.params.send === true ? UNBOUNDED : 0 };
    if (r.path === '/api-keys') return { status: 201, body: { id: `key_${++seq}`, token: `re_minted_${seq}` } };
    return { status: 200, body: { id: `x_${++seq}` }, billed: UNBOUNDED };
  });
}
