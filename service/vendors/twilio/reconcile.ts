// Finding out what became of a Twilio message or call whose answer was lost, with GETs only: Twilio lists messages
// and calls by their parameters (https://www.twilio.com/docs/messaging/api/message-resource#read-multiple-message-
// resources), so the one this call made is the one to the same number, from the same sender, created around its
// time (with the same text, for a message).
import { parseForm } from '../form';
import type { Claimed, PricingContext, ReconcileFinding, ReconcileRow, VendorGet } from '../types';

const WINDOW_MS = 10 * 60_000;

export async function reconcileTwilio(row: ReconcileRow, get: VendorGet, _ctx: PricingContext, claimed: Claimed): Promise<ReconcileFinding> {
  const m = /^(\/2010-04-01\/Accounts\/[^/]+)\/(Messages|Calls)(\.json|\.xml)?$/.exec(row.path);
  if (row.method !== 'POST' || !m) return { kind: 'manual', note: `Twilio offers no way to look up the outcome of ${row.method} ${row.path}` };
  const sent = row.requestBody ? (parseForm(row.requestBody) as Record<string, unknown>) : {};
  const to = sent.To;
  if (typeof to !== 'string' || to.startsWith('hmac:') || row.requestBody?.endsWith('…[truncated]')) {
    return { kind: 'manual', note: 'the audited request does not hold the recipient (redacted or truncated), so the call cannot be matched' };
  }
  const query = new URLSearchParams({ To: to, PageSize: '100' });
  if (typeof sent.From === 'string' && !sent.From.startsWith('hmac:')) query.set('From', sent.From);
  const res = await get(`${m[1]}/${m[2]}.json?${query}`);
  if (res.status !== 200) return { kind: 'unknown', note: `listing ${m[2]} answered ${res.status}` };
  const listed = ((res.body as Record<string, unknown>)[m[2] === 'Messages' ? 'messages' : 'calls'] ?? []) as Record<string, unknown>[];
  // A message or call another audit row already accounts for is not this one, however alike.
  const others = await claimed(listed.map((it) => String(it.sid)));
  const items = listed.filter((it) => !others.has(String(it.sid)));
  const found = items.find((it) => {
    const created = Date.parse(String(it.date_created ?? ''));
    if (!Number.isFinite(created) || created < row.ts - 60_000 || created > row.ts + WINDOW_MS) return false;
    return m[2] !== 'Messages' || typeof sent.Body !== 'string' || it.body === sent.Body;
  });
  if (!found) return { kind: 'not_done', note: `no ${m[2] === 'Messages' ? 'message' : 'call'} to ${to.slice(0, 4)}… was created around the call's time: Twilio never got it` };
  // Twilio reports a price (negative, in USD) once it knows it; until then the reservation stands.
  const price = Number(found.price);
  const micros = found.price_unit === 'USD' && Number.isFinite(price) && price !== 0 ? Math.ceil(Math.abs(price) * 1e6 - 1e-6) : row.reservedMicros;
  return { kind: 'done', micros, note: `Twilio made ${String(found.sid)} for this call`, objectId: String(found.sid), response: found };
}
