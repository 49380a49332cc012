// Twilio prices per message segment and per call minute, by destination (https://www.twilio.com/en-us/pricing).
// Estimates are upper bounds: the dearest price that can apply, every leg a call's TwiML can dial, rounded up.
import { byPrefix, dearest } from '../prices';
import { countSegments } from '../sms-segments';
import type { CanonicalRequest, JsonValue, KeyPolicy, PriceResult, PricingContext } from '../types';
import { boundTwiml, type Leg } from './twiml';

const E164 = /^\+[1-9]\d{6,14}$/;

function destination(to: JsonValue | undefined): string | { error: string } {
  if (typeof to !== 'string') return { error: 'To must be one phone number' };
  if (to.startsWith('whatsapp:') || to.startsWith('messenger:')) return { error: `${to.split(':')[0]} messages are priced differently and are not supported yet` };
  if (!E164.test(to)) return { error: `To must be an E.164 phone number such as +15558675310, not ${to.slice(0, 20)}` };
  return to;
}

const usd = (x: number): number => Math.ceil(x * 1e6 - 1e-6);
const unknown = (reason: string): PriceResult => ({ kind: 'unknown', reason });

export function priceMessage(req: CanonicalRequest, ctx: PricingContext): PriceResult {
  const to = destination(req.body.To);
  if (typeof to !== 'string') return unknown(to.error);
  const prices = ctx.prices.twilio;
  if (req.body.ContentSid !== undefined) return unknown('ContentSid template messages are not priced yet');
  const media = req.body.MediaUrl;
  const mediaCount = Array.isArray(media) ? media.length : typeof media === 'string' && media !== '' ? 1 : 0;
  if (mediaCount > 0 || req.body.SendAsMms === 'true') {
    const each = byPrefix(prices.mms_per_message, to);
    return { kind: 'priced', micros: usd(each), basis: `1 MMS to ${to.slice(0, 4)}… × $${each}` };
  }
  const body = req.body.Body;
  if (typeof body !== 'string' || body === '') return unknown('a message needs a Body (or MediaUrl)');
  if (body.length > 1600) return unknown('Body is longer than Twilio\'s 1,600 characters');
  const { encoding, segments } = countSegments(body);
  const each = byPrefix(prices.sms_per_segment, to);
  return { kind: 'priced', micros: usd(segments * each), basis: `${segments} ${encoding} segment${segments === 1 ? '' : 's'} × $${each}` };
}

/**
 * What Twilio's answer says a message costs: its segments (or its media) at the destination's price. Twilio bills
 * later, at prices Keybrake only estimates, so a report below the reservation keeps the reservation; one above it
 * (more segments than counted) is counted.
 */
export function settleMessage(response: unknown, ctx: PricingContext, reserved: number): number | undefined {
  const r = response as { to?: unknown; num_segments?: unknown; num_media?: unknown } | null;
  if (typeof r?.to !== 'string' || !E164.test(r.to)) return undefined;
  const media = Number(r.num_media ?? 0);
  if (Number.isInteger(media) && media > 0) return Math.max(reserved, usd(byPrefix(ctx.prices.twilio.mms_per_message, r.to)));
  const segments = Number(r.num_segments);
  // A Messaging Service's message reports 0 segments until a sender is chosen: the estimate stands.
  if (!Number.isInteger(segments) || segments <= 0) return undefined;
  return Math.max(reserved, usd(segments * byPrefix(ctx.prices.twilio.sms_per_segment, r.to)));
}

/** Calls bill per started minute: TimeLimit bounds the call, so it is injected, or capped, before pricing. */
export function prepareCall(req: CanonicalRequest, maxSeconds: number): CanonicalRequest | string {
  const given = req.body.TimeLimit;
  if (given !== undefined && (typeof given !== 'string' || !/^[1-9]\d{0,5}$/.test(given))) return 'TimeLimit must be a whole number of seconds';
  const limit = given === undefined ? maxSeconds : Math.min(Number(given), maxSeconds);
  return { ...req, body: { ...req.body, TimeLimit: String(limit) } };
}

/** The legs a call can have, or why they cannot be known from the request. */
function legsOf(req: CanonicalRequest): Leg[] | string {
  const { Twiml: twiml, Url: url, ApplicationSid: app, FallbackUrl: fallback } = req.body;
  if (url !== undefined || app !== undefined || fallback !== undefined) return 'the call runs TwiML from a URL or an application, which Keybrake cannot read';
  if (typeof twiml !== 'string' || twiml.trim() === '') return 'a call needs Twiml, Url or ApplicationSid';
  const bound = boundTwiml(twiml);
  return 'unbounded' in bound ? bound.unbounded : bound.legs;
}

/**
 * A call's bound: every leg (the call itself and each one its TwiML dials) for the whole TimeLimit, each at the
 * price of its destination (a client or SIP address at the dearest price), plus recording and machine detection.
 */
export function priceCall(req: CanonicalRequest, ctx: PricingContext, policy: KeyPolicy): PriceResult {
  const to = destination(req.body.To);
  if (typeof to !== 'string') return unknown(to.error);
  const table = ctx.prices.twilio;
  const minutes = Math.ceil(Number(req.body.TimeLimit) / 60);
  const legs = legsOf(req);
  let perMinute: number;
  let basis: string;
  if (typeof legs === 'string') {
    const opted = policy.max_call_legs;
    if (opted === undefined) return unknown(`${legs}; a key may allow such calls with max_call_legs, which prices them as that many legs at the dearest rate`);
    perMinute = opted * dearest(table.voice_per_minute);
    basis = `${opted} legs (max_call_legs) × up to ${minutes} min × $${dearest(table.voice_per_minute)}`;
  } else {
    const prices = [byPrefix(table.voice_per_minute, to), ...legs.map((l) => (l.kind === 'number' && E164.test(l.to) ? byPrefix(table.voice_per_minute, l.to) : dearest(table.voice_per_minute)))];
    perMinute = prices.reduce((a, b) => a + b, 0);
    basis = `${prices.length} leg${prices.length === 1 ? '' : 's'} × up to ${minutes} min ($${Number(perMinute.toFixed(6))}/min)`;
  }
  let total = minutes * perMinute;
  if (req.body.Record === 'true') {
    total += minutes * table.voice_recording_per_minute;
    basis += ', recorded';
  }
  if (req.body.MachineDetection !== undefined || req.body.AsyncAmd === 'true') {
    total += table.machine_detection_per_call;
    basis += ', machine detection';
  }
  return { kind: 'priced', micros: usd(total), basis };
}
