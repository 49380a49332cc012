// Table-driven tests of the body and path codecs: parse → canonical tree → encode.
import { canonicalPath } from '../../service/proxy/canonical';
import { encodeForm, parseForm } from '../../service/vendors/form';
import { parseStrictJson, toFormTree } from '../../service/proxy/strict-json';
import { maskCardNumbers, Redactor } from '../../service/proxy/redact';

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('form codec', () => {
  test.each([
    ['amount=2000&currency=usd', { amount: '2000', currency: 'usd' }, 'amount=2000&currency=usd'],
    ['metadata[order]=42&metadata[note]=a+b%20c', { metadata: { order: '42', note: 'a b c' } }, 'metadata[order]=42&metadata[note]=a%20b%20c'],
    ['expand[]=a&expand[]=b', { expand: ['a', 'b'] }, 'expand[0]=a&expand[1]=b'],
    ['expand[0]=a&expand[1]=b', { expand: ['a', 'b'] }, 'expand[0]=a&expand[1]=b'],
    ['items[0][price]=p_1&items[0][quantity]=2', { items: [{ price: 'p_1', quantity: '2' }] }, 'items[0][price]=p_1&items[0][quantity]=2'],
    ['metadata[123]=x', { metadata: { '123': 'x' } }, 'metadata[123]=x'],
    ['description=', { description: '' }, 'description='],
    ['a=1&&b=2', { a: '1', b: '2' }, 'a=1&b=2'],
    ['email=a%40b.com', { email: 'a@b.com' }, 'email=a%40b.com'],
  ])('%s', (input, tree, encoded) => {
    const parsed = parseForm(input);
    expect(plain(parsed)).toEqual(tree);
    expect(encodeForm(parsed)).toBe(encoded);
    expect(plain(parseForm(encodeForm(parsed)))).toEqual(tree);
  });

  test.each([
    ['amount=1&amount=100000', /duplicate parameter amount/],
    ['metadata[a]=1&metadata[a]=2', /duplicate parameter metadata\[a\]/],
    ['expand[0]=a&expand[0]=b', /duplicate parameter expand\[0\]/],
    ['amount=1&amount[x]=2', /conflicts with a plain value/],
    ['amount[x]=2&amount=1', /conflicts with nested parameters/],
    ['expand[]=a&expand[0]=b', /mixes \[\] and \[0\]/],
    ['a[b=1', /unbalanced brackets/],
    ['__proto__[x]=1', /not allowed/],
    ['a=%E0%A4%A', /not valid percent-encoding/],
  ])('refuses %s', (input, message) => {
    expect(() => parseForm(input)).toThrow(message);
  });
});

describe('strict JSON', () => {
  test.each([
    ['{"amount":2000,"currency":"usd","confirm":true,"metadata":{"a":null}}', { amount: 2000, currency: 'usd', confirm: true, metadata: { a: null } }, { amount: '2000', currency: 'usd', confirm: 'true', metadata: { a: '' } }],
    ['{"expand":["a","b"],"n":1.5,"e":1e3}', { expand: ['a', 'b'], n: 1.5, e: 1000 }, { expand: ['a', 'b'], n: '1.5', e: '1000' }],
    [' {"s":"caf\\u00e9 \\"q\\""} ', { s: 'café "q"' }, { s: 'café "q"' }],
  ])('%s keeps its types, and becomes text for a form vendor', (input, typed, form) => {
    expect(plain(parseStrictJson(input))).toEqual(typed);
    expect(plain(toFormTree(parseStrictJson(input)))).toEqual(form);
  });

  test.each([
    ['{"amount":1,"amount":2}', /duplicate key "amount"/],
    ['{"m":{"a":1,"a":2}}', /duplicate key "m.a"/],
    ['{"amount":9007199254740993}', /too large to be exact/],
    ['{"amount":1e999}', /out of range/],
    ['{"amount":01}', /unexpected text|expected/],
    ['{"a":1,}', /expected a string/],
    ['{"a":1} x', /unexpected text/],
    ['{"__proto__":{}}', /not allowed/],
    ['[' .repeat(40) + ']'.repeat(40), /nested too deeply/],
  ])('refuses %s', (input, message) => {
    expect(() => parseStrictJson(input)).toThrow(message);
  });
});

describe('canonical paths', () => {
  test.each([
    ['/v1/payment_intents', ['v1', 'payment_intents'], '/v1/payment_intents'],
    ['/v1/payment%5Fintents', ['v1', 'payment_intents'], '/v1/payment_intents'],
    ['/2010-04-01/Accounts/AC1/Messages.json', ['2010-04-01', 'Accounts', 'AC1', 'Messages.json'], '/2010-04-01/Accounts/AC1/Messages.json'],
  ])('%s', (raw, segments, path) => {
    expect(canonicalPath(raw)).toEqual({ segments, path });
  });

  test.each([
    ['/v1/%2e%2e/x', /"\." or "\.\."/],
    ['/v1/../x', /"\." or "\.\."/],
    ['/v1/./x', /"\." or "\.\."/],
    ['/v1/a%2fb', /encoded/],
    ['/v1/a%5Cb', /encoded/],
    ['/v1/a%252e', /encoded/],
    ['/v1/a%00', /encoded/],
    ['//v1/x', /empty segment/],
    ['/v1/x/', /empty segment/],
    ['/v1/x;y', /";"/],
    ['/v1/a\\b', /"\\"/],
    ['/v1/%zz', /invalid percent-encoding/],
  ])('refuses %s', (raw, message) => {
    expect(() => canonicalPath(raw)).toThrow(message);
  });
});

describe('repeatable form fields (Twilio)', () => {
  test('repeat as arrays and encode as repeated keys; other fields still may not repeat', () => {
    const tree = parseForm('To=%2B15551234567&MediaUrl=https%3A%2F%2Fa&MediaUrl=https%3A%2F%2Fb', ['MediaUrl']);
    expect(plain(tree)).toEqual({ To: '+15551234567', MediaUrl: ['https://a', 'https://b'] });
    expect(encodeForm(tree, ['MediaUrl'])).toBe('To=%2B15551234567&MediaUrl=https%3A%2F%2Fa&MediaUrl=https%3A%2F%2Fb');
    expect(() => parseForm('To=1&To=2', ['MediaUrl'])).toThrow(/duplicate parameter To/);
  });
});

describe('redaction', () => {
  test('masks card numbers and secret fields, keeps the rest', () => {
    const tree = parseForm('card[number]=4242424242424242&card[cvc]=123&description=card+4000+0566+5566+5556+for+bob&amount=2000');
    expect(plain(new Redactor(Buffer.alloc(32)).tree(tree))).toEqual({
      card: { number: '[redacted]', cvc: '[redacted]' },
      description: 'card [card ••••5556] for bob',
      amount: '2000',
    });
    // The caller's tree is what was forwarded: it is copied where redacted, never changed.
    expect(plain(tree)).toEqual({ card: { number: '4242424242424242', cvc: '123' }, description: 'card 4000 0566 5566 5556 for bob', amount: '2000' });
  });

  test('a tree with nothing to redact comes back as itself, so the forwarded bytes can be audited as they are', () => {
    const r = new Redactor(Buffer.alloc(32), ['receipt_email']);
    const clean = parseForm('amount=2000&currency=usd&metadata[order]=42&expand[]=customer');
    expect(r.tree(clean)).toBe(clean);
    const nested = parseForm('amount=2000&items[0][price]=p_1&items[1][token]=tok_secret');
    const out = r.tree(nested) as { items: { token?: string }[] };
    expect(out).not.toBe(nested);
    expect(out.items[1]?.token).toBe('[redacted]');
    expect((nested as { items: { token?: string }[] }).items[1]?.token).toBe('tok_secret');
    expect(out.items[0]).toBe((nested as { items: unknown[] }).items[0]);
  });

  test('configured fields become an HMAC that POST /audit/hash reproduces', () => {
    const r = new Redactor(Buffer.alloc(32, 7), ['receipt_email', 'customer']);
    const out = r.tree({ receipt_email: 'ann@example.com', customer: 'cus_1', amount: 100, metadata: { customer: 'cus_1' } }) as Record<string, unknown>;
    expect(out.receipt_email).toBe(r.hash('ann@example.com'));
    expect(out.receipt_email).toMatch(/^hmac:[0-9a-f]{64}$/);
    expect((out.metadata as Record<string, unknown>).customer).toBe(r.hash('cus_1'));
    expect(out.amount).toBe(100);
    expect(new Redactor(Buffer.alloc(32, 8)).hash('ann@example.com')).not.toBe(r.hash('ann@example.com'));
  });

  test('leaves digit runs that fail the Luhn check', () => {
    expect(maskCardNumbers('order 1234567890123')).toBe('order 1234567890123');
  });
});
