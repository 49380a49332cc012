// Alert events (design §6): cap.threshold (each threshold once per window), cap.exceeded (once per window),
// key.revoked and key.expired (once per key). An event is inserted once, by its key, together with one outbox row
// per target; the worker delivers the outbox, so a restart or a failing receiver loses nothing.
import type { Knex } from 'knex';
import { newId } from '../crypto';
import type { KeyRecord } from '../policy/decide';
import { rowsOf, type Db } from '../store/db';
import { microsToUsd } from '../vendors/currency';

export const EVENT_TYPES = ['cap.threshold', 'cap.exceeded', 'key.revoked', 'key.expired'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface AlertEvent {
  type: EventType;
  /** Makes the event happen once: e.g. `cap.threshold:vk_1:2026-11-27:0.8`. */
  eventKey: string;
  keyId: string | null;
  data: Record<string, unknown>;
  /** The key's own webhook, besides the global ones. */
  keyWebhook?: string | undefined;
}

export interface GlobalTarget {
  url: string;
  events?: string[] | undefined;
}

export const DEFAULT_THRESHOLDS = [0.8];

function targets(event: AlertEvent, globals: readonly GlobalTarget[]): string[] {
  const urls = globals.filter((t) => !t.events || t.events.includes(event.type)).map((t) => t.url);
  if (event.keyWebhook) urls.push(event.keyWebhook);
  return [...new Set(urls)];
}

/** Inserts events that have not happened yet and queues their deliveries, in the caller's transaction if given. */
export async function enqueue(q: Knex | Knex.Transaction, dialect: Db['dialect'], workspaceId: string, events: AlertEvent[], globals: readonly GlobalTarget[], now: number): Promise<number> {
  let queued = 0;
  for (const event of events) {
    const urls = targets(event, globals);
    if (urls.length === 0) continue;
    const id = newId('evt');
    const payload = JSON.stringify({ id, type: event.type, created_at: new Date(now).toISOString(), data: event.data });
    const inserted = await q.raw(
      `INSERT INTO webhook_events (id, workspace_id, event_key, type, key_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (event_key) DO NOTHING RETURNING id`,
      [id, workspaceId, event.eventKey.slice(0, 255), event.type, event.keyId, payload, now],
    );
    if (rowsOf(dialect, inserted).length === 0) continue;
    for (const url of urls) {
      await q('webhook_outbox').insert({ id: newId('whd'), event_id: id, workspace_id: workspaceId, url, status: 'pending', attempts: 0, next_attempt_at: now, created_at: now });
      queued++;
    }
  }
  return queued;
}

const keyData = (key: KeyRecord): Record<string, unknown> => ({ key_id: key.id, label: key.label, vendor: key.vendor });

export interface CapState {
  kind: 'daily' | 'total' | 'budget';
  subjectId: string;
  windowStart: string;
  capMicros: number;
  spentMicros: number;
  resetsAt: number | null;
}

/** What every cap event says about the cap: which one, its size, the spend, the window. */
function capData(key: KeyRecord, cap: CapState): Record<string, unknown> {
  return {
    ...keyData(key),
    cap: cap.kind,
    ...(cap.kind === 'budget' ? { budget_id: cap.subjectId } : {}),
    cap_usd: microsToUsd(cap.capMicros),
    spent_usd: microsToUsd(cap.spentMicros),
    window: cap.windowStart,
    resets_at: cap.resetsAt === null ? null : new Date(cap.resetsAt).toISOString(),
  };
}

/** cap.threshold events for every threshold the spend has reached in its window. */
export function thresholdEvents(key: KeyRecord, caps: CapState[]): AlertEvent[] {
  const thresholds = key.policy.alert_thresholds ?? DEFAULT_THRESHOLDS;
  const events: AlertEvent[] = [];
  for (const cap of caps) {
    for (const t of thresholds) {
      if (cap.spentMicros < cap.capMicros * t) continue;
      events.push({
        type: 'cap.threshold',
        eventKey: `cap.threshold:${cap.subjectId}:${cap.windowStart}:${t}`,
        keyId: key.id,
        keyWebhook: key.policy.webhook_url,
        data: { ...capData(key, cap), threshold: t },
      });
    }
  }
  return events;
}

export function exceededEvent(key: KeyRecord, cap: CapState, estimateMicros: number): AlertEvent {
  return {
    type: 'cap.exceeded',
    eventKey: `cap.exceeded:${cap.subjectId}:${cap.windowStart}`,
    keyId: key.id,
    keyWebhook: key.policy.webhook_url,
    data: { ...capData(key, cap), refused_usd: microsToUsd(estimateMicros) },
  };
}

export function keyEvent(type: 'key.revoked' | 'key.expired', key: KeyRecord, at: number): AlertEvent {
  return { type, eventKey: `${type}:${key.id}`, keyId: key.id, keyWebhook: key.policy.webhook_url, data: { ...keyData(key), at: new Date(at).toISOString() } };
}

/** A Slack incoming webhook takes `{text}`; everything else gets the event itself. */
export function bodyFor(url: string, payload: string): string {
  if (!/^https:\/\/hooks\.slack\.com\//.test(url)) return payload;
  const e = JSON.parse(payload) as { type: string; data: Record<string, unknown> };
  const d = e.data;
  const who = `key ${String(d.label || d.key_id)} (${String(d.key_id)}, ${String(d.vendor)})`;
  const money = (v: unknown): string => `$${Number(v).toFixed(2)}`;
  const text =
    e.type === 'cap.threshold'
      ? `Keybrake: ${who} reached ${Math.round(Number(d.threshold) * 100)}% of its ${String(d.cap)} cap: ${money(d.spent_usd)} of ${money(d.cap_usd)}.`
      : e.type === 'cap.exceeded'
        ? `Keybrake: ${who} hit its ${String(d.cap)} cap of ${money(d.cap_usd)}; a ${money(d.refused_usd)} call was refused.`
        : `Keybrake: ${who} ${e.type === 'key.revoked' ? 'was revoked' : 'expired'}.`;
  return JSON.stringify({ text });
}

/** Expired keys not yet announced (at most a week back, so an old database does not flood receivers). */
export async function expiredKeyIds(db: Db, now: number): Promise<string[]> {
  const rows = (await db
    .knex('vault_keys as k')
    .leftJoin('webhook_events as e', function join() {
      this.on('e.key_id', '=', 'k.id').andOn('e.type', '=', db.knex.raw('?', ['key.expired']));
    })
    .whereNull('e.id')
    .whereNull('k.revoked_at')
    .where('k.expires_at', '<=', now)
    .where('k.expires_at', '>', now - 7 * 86_400_000)
    .limit(200)
    .select('k.id')) as { id: string }[];
  return rows.map((r) => r.id);
}
