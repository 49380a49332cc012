// Alert events (design §6): cap.threshold (each threshold once per window), cap.exceeded (once per window),
// key.revoked and key.expired (once per key). An event is inserted once, by its key, together with one outbox row
// per target (store/outbox.ts); the worker delivers the outbox, so a restart or a failing receiver loses nothing.
// This module only says what the events are; it reads and writes nothing.
import { newId } from '../crypto';
import type { ApprovalRecord } from '../policy/approvals';
import type { KeyRecord } from '../policy/keys';
import type { CapCheck, Limits } from '../policy/limits';
import { resetsAt } from '../policy/limits';
import { MAILTO, type AlertRows, type ThresholdRows } from '../store/outbox';
import { SPENT_PLACEHOLDER } from '../store/steps';
import { formatUsd, microsToUsd } from '../vendors/currency';

export const EVENT_TYPES = ['cap.threshold', 'cap.exceeded', 'key.revoked', 'key.expired', 'approval.requested'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface AlertEvent {
  type: EventType;
  /** Makes the event happen once: e.g. `cap.threshold:vk_1:2026-11-27:0.8`. */
  eventKey: string;
  keyId: string | null;
  data: Record<string, unknown>;
  /** The key's own targets (its webhook_url, and its alert_emails as mailto:), besides the global ones. */
  keyTargets?: readonly string[] | undefined;
}

export interface GlobalTarget {
  url: string;
  events?: string[] | undefined;
}

export const DEFAULT_THRESHOLDS = [0.8];

function targets(event: AlertEvent, globals: readonly GlobalTarget[]): string[] {
  const urls = globals.filter((t) => !t.events || t.events.includes(event.type)).map((t) => t.url);
  urls.push(...(event.keyTargets ?? []));
  return [...new Set(urls)];
}

/**
 * The rows that record events: each event once (by its key), with one delivery per target. Written in the
 * transaction of whatever raised them (store/ledger.ts).
 */
export function alertRows(workspaceId: string, events: readonly AlertEvent[], globals: readonly GlobalTarget[], now: number): AlertRows {
  const rows: AlertRows = { events: [], deliveries: [] };
  for (const event of events) {
    const urls = targets(event, globals);
    if (urls.length === 0) continue;
    const id = newId('evt');
    const payload = JSON.stringify({ id, type: event.type, created_at: new Date(now).toISOString(), data: event.data });
    rows.events.push({ id, workspaceId, eventKey: event.eventKey.slice(0, 255), type: event.type, keyId: event.keyId, payload, createdAt: now });
    for (const url of urls) rows.deliveries.push({ id: newId('whd'), eventId: id, workspaceId, url, createdAt: now });
  }
  return rows;
}

/** Where a key's own alerts go: its webhook and its alert_emails. */
export function keyTargets(key: KeyRecord): string[] {
  return [...(key.policy.webhook_url ? [key.policy.webhook_url] : []), ...(key.policy.alert_emails ?? []).map((a) => `${MAILTO}${a}`)];
}

const keyData = (key: KeyRecord): Record<string, unknown> => ({ key_id: key.id, label: key.label, vendor: key.vendor });

export interface CapState extends CapCheck {
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

/**
 * The cap.threshold events a reservation may raise: one for each cap and threshold, written with the reservation
 * when it takes the cap's spend to the threshold (each once per window, by its key), the spend then filled into
 * its payload (store/steps.ts).
 */
export function thresholdCandidates(key: KeyRecord, limits: Limits, globals: readonly GlobalTarget[], now: number): ThresholdRows {
  const thresholds = key.policy.alert_thresholds ?? DEFAULT_THRESHOLDS;
  const rows: ThresholdRows = { events: [], deliveries: [] };
  for (const cap of limits.caps) {
    const state: CapState = { ...cap, spentMicros: 0, resetsAt: resetsAt(limits, cap.kind) };
    for (const t of thresholds) {
      const event: AlertEvent = {
        type: 'cap.threshold',
        eventKey: `cap.threshold:${cap.subjectId}:${cap.windowStart}:${t}`,
        keyId: key.id,
        keyTargets: keyTargets(key),
        data: { ...capData(key, state), spent_usd: SPENT_PLACEHOLDER, threshold: t },
      };
      const one = alertRows(key.workspaceId, [event], globals, now);
      for (const e of one.events) rows.events.push({ ...e, subjectId: cap.subjectId, windowStart: cap.windowStart, minSpentMicros: Math.ceil(cap.capMicros * t) });
      rows.deliveries.push(...one.deliveries);
    }
  }
  return rows;
}

export function exceededEvent(key: KeyRecord, cap: CapState, estimateMicros: number): AlertEvent {
  return {
    type: 'cap.exceeded',
    eventKey: `cap.exceeded:${cap.subjectId}:${cap.windowStart}`,
    keyId: key.id,
    keyTargets: keyTargets(key),
    data: { ...capData(key, cap), refused_usd: microsToUsd(estimateMicros) },
  };
}

export function keyEvent(type: 'key.revoked' | 'key.expired', key: KeyRecord, at: number): AlertEvent {
  return { type, eventKey: `${type}:${key.id}`, keyId: key.id, keyTargets: keyTargets(key), data: { ...keyData(key), at: new Date(at).toISOString() } };
}

/** Where a person decides an approval: signed single-use links to Keybrake's confirmation page, and the console. */
export interface ApprovalLinks {
  approveUrl: string;
  denyUrl: string;
  consoleUrl: string;
}

/** approval.requested: what waits, for how much, and the links that decide it (once, until it expires). */
export function approvalEvent(key: KeyRecord, a: ApprovalRecord, why: string, links: ApprovalLinks): AlertEvent {
  return {
    type: 'approval.requested',
    eventKey: `approval.requested:${a.id}`,
    keyId: key.id,
    keyTargets: keyTargets(key),
    data: {
      ...keyData(key),
      approval_id: a.id,
      endpoint: `${a.method} ${a.path}`,
      amount_usd: microsToUsd(a.amountMicros),
      priced: a.basis,
      why,
      expires_at: new Date(a.expiresAt).toISOString(),
      approve_url: links.approveUrl,
      deny_url: links.denyUrl,
      console_url: links.consoleUrl,
    },
  };
}

/** An event in one sentence, for Slack and for a mail's subject. */
export function alertText(e: { type: string; data: Record<string, unknown> }): string {
  const d = e.data;
  const who = `key ${String(d.label || d.key_id)} (${String(d.key_id)}, ${String(d.vendor)})`;
  const money = (v: unknown): string => formatUsd(Number(v));
  const text =
    e.type === 'approval.requested'
      ? `Keybrake: ${who} asks a person to approve ${String(d.endpoint)} for ${money(d.amount_usd)} (${String(d.why)}).`
      : e.type === 'cap.threshold'
      ? `Keybrake: ${who} reached ${Math.round(Number(d.threshold) * 100)}% of its ${String(d.cap)} cap: ${money(d.spent_usd)} of ${money(d.cap_usd)}.`
      : e.type === 'cap.exceeded'
        ? `Keybrake: ${who} hit its ${String(d.cap)} cap of ${money(d.cap_usd)}; a ${money(d.refused_usd)} call was refused.`
        : `Keybrake: ${who} ${e.type === 'key.revoked' ? 'was revoked' : 'expired'}.`;
  return text;
}

/** A Slack incoming webhook takes `{text}`; everything else gets the event itself. */
export function bodyFor(url: string, payload: string): string {
  if (!/^https:\/\/hooks\.slack\.com\//.test(url)) return payload;
  const e = JSON.parse(payload) as { type: string; data: Record<string, unknown> };
  const d = e.data;
  const links = e.type === 'approval.requested' ? ` Approve: ${String(d.approve_url)} · Deny: ${String(d.deny_url)} · until ${String(d.expires_at)}.` : '';
  return JSON.stringify({ text: alertText(e) + links });
}
