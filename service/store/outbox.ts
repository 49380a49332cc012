// The webhook outbox's tables (design §6): an alert event is inserted once, by its key, with one delivery row per
// target (written by the RECORD program, steps.ts, in the transaction of whatever raised it); the delivery worker
// claims due rows with a conditional UPDATE (so several instances never send the same row at once) and records
// every attempt.
import { newId } from '../crypto';
import type { Db } from './db';

/** A delivery target that is a mail recipient (`mailto:ops@example.com`; alerts/email.ts sends it). */
export const MAILTO = 'mailto:';

export interface EventRow {
  id: string;
  workspaceId: string;
  /** Makes the event happen once: e.g. `cap.threshold:vk_1:2026-11-27:0.8`. */
  eventKey: string;
  type: string;
  keyId: string | null;
  payload: string;
  createdAt: number;
}

export interface DeliveryRow {
  id: string;
  eventId: string;
  workspaceId: string;
  url: string;
  createdAt: number;
}

/** Events and their deliveries, as the RECORD program writes them. */
export interface AlertRows {
  events: EventRow[];
  deliveries: DeliveryRow[];
}

/**
 * A cap.threshold event a reservation may raise: written with it when the spend row reaches `minSpentMicros`, the
 * payload's spend (SPENT_PLACEHOLDER in steps.ts) filled in from the row.
 */
export interface ThresholdRow extends EventRow {
  subjectId: string;
  windowStart: string;
  minSpentMicros: number;
}

export interface ThresholdRows {
  events: ThresholdRow[];
  deliveries: DeliveryRow[];
}

export interface OutboxRow {
  id: string;
  event_id: string;
  workspace_id: string;
  url: string;
  attempts: number;
  next_attempt_at: number;
}

/** Up to `limit` deliveries that are due, each claimed for `leaseMs` (one claimed by another instance is skipped). */
export async function claimDue(db: Db, now: number, leaseMs: number, limit: number): Promise<OutboxRow[]> {
  const due = (await db.knex('webhook_outbox').where('status', 'pending').where('next_attempt_at', '<=', now).orderBy('next_attempt_at').limit(limit)) as OutboxRow[];
  const claimed: OutboxRow[] = [];
  for (const row of due) {
    const n = await db.knex('webhook_outbox').where({ id: row.id, status: 'pending', next_attempt_at: row.next_attempt_at }).update({ next_attempt_at: now + leaseMs });
    if (n === 1) claimed.push({ ...row, attempts: Number(row.attempts), next_attempt_at: Number(row.next_attempt_at) });
  }
  return claimed;
}

export async function eventPayload(db: Db, eventId: string): Promise<string | undefined> {
  const row = (await db.knex('webhook_events').where({ id: eventId }).first('payload')) as { payload: string } | undefined;
  return row?.payload;
}

export interface Attempt {
  startedAt: number;
  endedAt: number;
  status: number | null;
  error: string | null;
  /** Delivered; otherwise retried at `retryAt`, or failed for good when that is null. */
  ok: boolean;
  retryAt: number | null;
}

/** Records one delivery attempt and what it made of the row, together. */
export async function recordAttempt(db: Db, row: OutboxRow, a: Attempt): Promise<void> {
  const attempts = row.attempts + 1;
  await db.knex.transaction(async (trx) => {
    await trx('webhook_attempts').insert({ id: newId('wha'), outbox_id: row.id, at: a.startedAt, status: a.status, error: a.error, duration_ms: a.endedAt - a.startedAt });
    await trx('webhook_outbox')
      .where({ id: row.id })
      .update(
        a.ok
          ? { status: 'delivered', attempts, last_status: a.status, last_error: null, delivered_at: a.endedAt }
          : { status: a.retryAt === null ? 'failed' : 'pending', attempts, last_status: a.status, last_error: a.error ?? `HTTP ${a.status}`, ...(a.retryAt === null ? {} : { next_attempt_at: a.retryAt }) },
      );
  });
}

/** Expired keys not yet announced (at most a week back, so an old database does not flood receivers): workspace and id. */
export async function expiredKeys(db: Db, now: number): Promise<{ id: string; workspace_id: string }[]> {
  return (await db
    .knex('vault_keys as k')
    .leftJoin('webhook_events as e', function join() {
      this.on('e.key_id', '=', 'k.id').andOn('e.type', '=', db.knex.raw('?', ['key.expired']));
    })
    .whereNull('e.id')
    .whereNull('k.revoked_at')
    .where('k.expires_at', '<=', now)
    .where('k.expires_at', '>', now - 7 * 86_400_000)
    .limit(200)
    .select('k.id', 'k.workspace_id')) as { id: string; workspace_id: string }[];
}

/** A workspace's deliveries, newest first, with their events and every attempt (GET /webhooks/deliveries). */
export async function deliveries(
  db: Db,
  workspaceId: string,
  q: { status?: string | undefined; type?: string | undefined; key_id?: string | undefined; channel?: 'webhook' | 'email' | undefined; limit: number },
): Promise<{ rows: Record<string, unknown>[]; attempts: Record<string, unknown>[] }> {
  const rows = (await db
    .knex('webhook_outbox as o')
    .join('webhook_events as e', 'e.id', 'o.event_id')
    .where('o.workspace_id', workspaceId)
    .modify((b) => {
      if (q.status) b.where('o.status', q.status);
      if (q.type) b.where('e.type', q.type);
      if (q.key_id) b.where('e.key_id', q.key_id);
      if (q.channel === 'email') b.where('o.url', 'like', `${MAILTO}%`);
      else if (q.channel === 'webhook') b.whereNot('o.url', 'like', `${MAILTO}%`);
    })
    .orderBy([{ column: 'o.created_at', order: 'desc' }, { column: 'o.id', order: 'desc' }])
    .limit(q.limit)
    .select('o.*', 'e.type', 'e.key_id', 'e.payload')) as Record<string, unknown>[];
  const attempts = (await db.knex('webhook_attempts').whereIn('outbox_id', rows.map((r) => String(r.id))).orderBy('at')) as Record<string, unknown>[];
  return { rows, attempts };
}
