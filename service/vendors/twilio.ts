// Twilio's REST API (https://www.twilio.com/docs/usage/api): form bodies with repeated keys for lists, Basic auth
// with the Account SID, which also appears in every path. Callers need not know the SID: whatever they put in
// the path (the generated tools write `self`) is replaced by the real one.
import { pattern } from '../policy/endpoints';
import { byPrefix } from './prices';
import { countSegments } from './sms-segments';
import type { CanonicalRequest, JsonValue, PriceResult, PricingContext, VendorAdapter, VendorRoute } from './types';

const E164 = /^\+[1-9]\d{6,14}$/;

function destination(to: JsonValue | undefined): string | { error: string } {
  if (typeof to !== 'string') return { error: 'To must be one phone number' };
  if (to.startsWith('whatsapp:') || to.startsWith('messenger:')) return { error: `${to.split(':')[0]} messages are priced differently and are not supported yet` };
  if (!E164.test(to)) return { error: `To must be an E.164 phone number such as +15558675310, not ${to.slice(0, 20)}` };
  return to;
}

const usd = (x: number): number => Math.ceil(x * 1e6);

export function priceMessage(req: CanonicalRequest, ctx: PricingContext): PriceResult {
  const to = destination(req.body.To);
  if (typeof to !== 'string') return { kind: 'unknown', reason: to.error };
  const prices = ctx.prices.twilio;
  if (req.body.ContentSid !== undefined) return { kind: 'unknown', reason: 'ContentSid template messages are not priced yet' };
  const media = req.body.MediaUrl;
  const mediaCount = Array.isArray(media) ? media.length : typeof media === 'string' && media !== '' ? 1 : 0;
  if (mediaCount > 0 || req.body.SendAsMms === 'true') {
    const each = byPrefix(prices.mms_per_message, to);
    return { kind: 'priced', micros: usd(each), basis: `1 MMS to ${to.slice(0, 4)}… × $${each}` };
  }
  const body = req.body.Body;
  if (typeof body !== 'string' || body === '') return { kind: 'unknown', reason: 'a message needs a Body (or MediaUrl)' };
  if (body.length > 1600) return { kind: 'unknown', reason: 'Body is longer than Twilio\'s 1,600 characters' };
  const { encoding, segments } = countSegments(body);
  const each = byPrefix(prices.sms_per_segment, to);
  return { kind: 'priced', micros: usd(segments * each), basis: `${segments} ${encoding} segment${segments === 1 ? '' : 's'} × $${each}` };
}

/** Calls bill per started minute: TimeLimit bounds the call, so it is injected, or capped, before pricing. */
export function prepareCall(req: CanonicalRequest, maxSeconds: number): CanonicalRequest | string {
  const given = req.body.TimeLimit;
  if (given !== undefined && (typeof given !== 'string' || !/^[1-9]\d{0,5}$/.test(given))) return 'TimeLimit must be a whole number of seconds';
  const limit = given === undefined ? maxSeconds : Math.min(Number(given), maxSeconds);
  return { ...req, body: { ...req.body, TimeLimit: String(limit) } };
}

export function priceCall(req: CanonicalRequest, ctx: PricingContext): PriceResult {
  const to = destination(req.body.To);
  if (typeof to !== 'string') return { kind: 'unknown', reason: to.error };
  const minutes = Math.ceil(Number(req.body.TimeLimit) / 60);
  const each = byPrefix(ctx.prices.twilio.voice_per_minute, to);
  return { kind: 'priced', micros: usd(minutes * each), basis: `up to ${minutes} min × $${each}` };
}

const ACCOUNT = '/2010-04-01/Accounts/{AccountSid}';
const routes: VendorRoute[] = [
  { method: 'POST', pattern: pattern(`POST ${ACCOUNT}/Messages.json`), moneyMoving: true, price: priceMessage },
  {
    method: 'POST',
    pattern: pattern(`POST ${ACCOUNT}/Calls.json`),
    moneyMoving: true,
    prepare: (req, policy, ctx) => prepareCall(req, policy.max_call_seconds ?? ctx.prices.twilio.max_call_seconds),
    price: priceCall,
  },
  // Buying numbers, conferences' outbound legs and the like cost money that the request does not state.
  { method: 'POST', pattern: pattern(`POST ${ACCOUNT}/IncomingPhoneNumbers.json`), moneyMoving: true },
  { method: 'POST', pattern: pattern(`POST ${ACCOUNT}/IncomingPhoneNumbers/**`), moneyMoving: true },
  { method: 'POST', pattern: pattern(`POST ${ACCOUNT}/Conferences/**`), moneyMoving: true },
  { method: 'POST', pattern: pattern(`POST ${ACCOUNT}/Calls/**`), moneyMoving: true },
];

export const twilio: VendorAdapter = {
  id: 'twilio',
  name: 'Twilio',
  baseUrl: 'https://api.twilio.com',
  credentialFields: ['account_sid', 'auth_token'],
  injectAuth(headers, credentials) {
    headers.authorization = `Basic ${Buffer.from(`${credentials.account_sid ?? ''}:${credentials.auth_token ?? ''}`).toString('base64')}`;
  },
  rewritePath(path, credentials) {
    return path.replace(/^\/2010-04-01\/Accounts\/[^/]+/, `/2010-04-01/Accounts/${encodeURIComponent(credentials.account_sid ?? '')}`);
  },
  bodyEncoding: 'form',
  repeatableFields: ['MediaUrl', 'StatusCallbackEvent'],
  requestHeaders: ['accept', 'user-agent', 'i-twilio-idempotency-token'],
  responseHeaders: ['twilio-request-id', 'twilio-concurrent-requests', 'retry-after'],
  queryOnWrite: false,
  routes,
  fieldTypes: { To: 'string', From: 'string', Body: 'string', MessagingServiceSid: 'string', TimeLimit: 'number', Timeout: 'number' },
  // Twilio's 4xx (validation, auth, 429) create no message or call; 5xx may have.
  releasesReservation: (status) => status >= 400 && status < 500,
  objectId(response) {
    const sid = (response as { sid?: unknown } | null)?.sid;
    return typeof sid === 'string' ? sid.slice(0, 255) : undefined;
  },
};
