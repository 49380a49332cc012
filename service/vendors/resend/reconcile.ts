// Finding out what became of a Resend send whose answer was lost, with GETs only: Resend lists sent emails
// (`GET /emails`, resend.yaml), so the one this call made is one to the same recipients with the same subject,
// created around its time. A batch is found by its first email.
import type { Claimed, PricingContext, ReconcileFinding, ReconcileRow, VendorGet } from '../types';

const WINDOW_MS = 10 * 60_000;

type Email = Record<string, unknown>;

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);

export async function reconcileResend(row: ReconcileRow, get: VendorGet, _ctx: PricingContext, claimed: Claimed): Promise<ReconcileFinding> {
  if (row.method !== 'POST' || (row.path !== '/emails' && row.path !== '/emails/batch')) return { kind: 'manual', note: `Resend offers no way to look up the outcome of ${row.method} ${row.path}` };
  let sent: Email | undefined;
  try {
    const body = JSON.parse(row.requestBody ?? '') as Email | Email[];
    sent = Array.isArray(body) ? body[0] : body;
  } catch {
    sent = undefined;
  }
  const to = list(sent?.to);
  if (!sent || to.length === 0 || to.some((t) => t.startsWith('hmac:'))) return { kind: 'manual', note: 'the audited request does not hold the recipients (redacted or truncated), so the email cannot be matched' };
  let after = '';
  for (let page = 0; page < 3; page++) {
    const res = await get(`/emails?limit=100${after}`);
    if (res.status === 404 || res.status === 405) return { kind: 'manual', note: 'this Resend account cannot list sent emails' };
    if (res.status !== 200) return { kind: 'unknown', note: `listing emails answered ${res.status}` };
    const data = ((res.body as { data?: Email[] }).data ?? []) as Email[];
    // An email another audit row already accounts for is not this one, however alike.
    const others = await claimed(data.map((e) => String(e.id)));
    const found = data.find((e) => {
      if (others.has(String(e.id))) return false;
      const created = Date.parse(String(e.created_at ?? ''));
      return Number.isFinite(created) && created >= row.ts - 60_000 && created <= row.ts + WINDOW_MS && e.subject === sent?.subject && list(e.to).join(',') === to.join(',');
    });
    if (found) return { kind: 'done', micros: row.reservedMicros, note: `Resend sent ${String(found.id)} for this call`, objectId: String(found.id), response: found };
    const oldest = Date.parse(String(data[data.length - 1]?.created_at ?? ''));
    if (data.length === 0 || !(res.body as { has_more?: boolean }).has_more || oldest < row.ts - 60_000) return { kind: 'not_done', note: 'no email to these recipients with this subject was sent around the call\'s time: Resend never got it' };
    after = `&after=${String(data[data.length - 1]?.id ?? '')}`;
  }
  return { kind: 'unknown', note: 'too many emails sent since the call; asking again later' };
}
