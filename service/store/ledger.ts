// The money path's API (design §5): spend is reserved by conditional statements in the same transaction as the
// audit row and the alert events it raises, never read-check-written in application code. A key may reserve
// against several caps at once (its day, its lifetime, a shared budget's day) and a rate window; all of them take
// the call or none does. A crash after the reservation over-counts; it never under-counts.
// What each operation writes is described once, in steps.ts; executor.ts runs it on either database.
import type { CapCheck, RateCheck } from '../policy/limits';
import type { DedupeRow, Refusal } from '../policy/refusals';
import { auditValues, type AuditEntry, type AuditOutcome } from './audit';
import { perDb, type Db } from './db';
import { moneyPath, type Call, type Job } from './executor';
import type { NewApproval } from './approvals';
import type { AlertRows, ThresholdRows } from './outbox';
import { RECORD, RESERVE, RESOLVE, SETTLE, type Item, type Outcome } from './steps';

/** Claims a request's content hash for the dedupe window; an unexpired claim by the same key is a duplicate. */
export interface DedupeClaim {
  keyId: string;
  hash: string;
  now: number;
  /** Claims made before this have expired. */
  cutoff: number;
  auditId: string;
  idempotencyKey: string;
}

/** The policy epoch a cached key was read under (store/keys.ts): the reservation stands only if it is current. */
export interface EpochGuard {
  workspaceId: string;
  epoch: number;
}

/** What a call records: its audit row, and the alert events it raised. */
export interface Records {
  audit?: AuditEntry | undefined;
  alerts?: AlertRows | undefined;
}

/**
 * How a reservation went. Stale: the key it was decided with is no longer current (revoked or changed since it
 * was read); nothing was written, and the caller decides again with the key read afresh.
 */
export type ReserveResult = { ok: true; spentAfter: number[] } | { ok: false; refusal: Refusal } | { ok: false; stale: true };

export interface Reservation {
  micros: number;
  caps: CapCheck[];
  rate?: RateCheck | undefined;
  dedupe?: DedupeClaim | undefined;
  guard?: EpochGuard | undefined;
  /** The call's audit row (with what it reserved), written with the reservation when it stands. */
  audit: AuditEntry;
  /** The cap.threshold events it may reach, written with it when it does (alerts/events.ts thresholdCandidates). */
  thresholds?: ThresholdRows | undefined;
  /** The approval the call waits for, written with it (store/approvals.ts); then it is not forwarded. */
  approval?: NewApproval | undefined;
  /** Events the reservation raises when it stands (approval.requested). */
  alerts?: AlertRows | undefined;
  /**
   * What a refused call records (its audit row, cap.exceeded): written right after, in a transaction of its own,
   * since a refusal changes nothing else.
   */
  refused(refusal: Refusal): Records;
}

function recordItem(r: Records): Item | undefined {
  if (!r.audit && !r.alerts?.events.length) return undefined;
  return { ...(r.audit ? { audit: auditValues(r.audit) } : {}), events: r.alerts?.events ?? [], deliveries: r.alerts?.deliveries ?? [] };
}

const recordCalls = (r: Records): Call[] => {
  const item = recordItem(r);
  return item ? [{ program: RECORD, item }] : [];
};

function resultOf(r: Reservation, o: Outcome | undefined): ReserveResult {
  if (!o || o.refused === undefined) return { ok: true, spentAfter: o?.kept ?? [] };
  if (o.refused === 'stale') return { ok: false, stale: true };
  if (o.refused === 'duplicate') {
    const d = o.detail as unknown as DedupeRow;
    return { ok: false, refusal: { kind: 'duplicate', original: { ...d, status: d.status === null ? null : Number(d.status) } } };
  }
  if (o.refused === 'rate') return { ok: false, refusal: { kind: 'rate', requests: r.rate?.limit ?? 0 } };
  const cap = r.caps[o.at ?? 0] as CapCheck;
  return { ok: false, refusal: { kind: cap.kind, spentMicros: Number(o.detail?.spent_micros ?? 0), cap } };
}

/** A spend row: a cap's subject and window. */
export interface SpendRow {
  subjectId: string;
  windowStart: string;
}

/** The spend rows a job writes, as the batcher's lock keys: the one order every batch takes them in. */
export const lockKeys = (rows: readonly SpendRow[]): string[] => rows.map((c) => `${c.subjectId}\u0000${c.windowStart}`);

/** Spend rows as a call or an approval stores them (`reserved_caps`: [subject, window] pairs). */
export const spendRowsOf = (pairs: readonly [string, string][]): SpendRow[] => pairs.map(([subjectId, windowStart]) => ({ subjectId, windowStart }));

/**
 * Reserves: the epoch check, the dedupe claim, the rate window, every cap, the audit row and the thresholds reached,
 * in one transaction shared with the other calls of the moment. A refusal's records follow it.
 */
export async function reserve(db: Db, r: Reservation): Promise<ReserveResult> {
  const caps = r.micros > 0 ? r.caps : [];
  const thresholds = caps.length > 0 ? r.thresholds : undefined;
  const item: Item = {
    micros: r.micros,
    caps,
    rate: r.rate ?? null,
    dedupe: r.dedupe ?? null,
    guard: r.guard ?? null,
    audit: auditValues(r.audit),
    thresholds: thresholds?.events ?? [],
    approval: r.approval ?? null,
    events: r.alerts?.events ?? [],
    deliveries: [...(r.alerts?.deliveries ?? []), ...(thresholds?.deliveries ?? [])],
  };
  const job: Job = {
    first: { program: RESERVE, item },
    after: (o) => {
      const result = resultOf(r, o);
      return result.ok || 'stale' in result ? [] : recordCalls(r.refused(result.refusal));
    },
  };
  return resultOf(r, await moneyPath(db).durable.push(job, lockKeys(caps)));
}

/** Writes a call's records on their own (a refusal before any reservation; events raised elsewhere). */
export async function record(db: Db, records: Records): Promise<void> {
  const [call] = recordCalls(records);
  if (call) await moneyPath(db).durable.push({ first: call }, []);
}

export interface Settlement {
  auditId: string;
  caps: CapCheck[];
  reservedMicros: number;
  /** What the call really cost; equal to the reservation when it must be kept. */
  finalMicros: number;
  /** The vendor object this call counted toward (its final amount is added). */
  counted?: { workspaceId: string; vendor: string; objectId: string } | undefined;
  /** Completes the dedupe claim with the response, for replays (status 0, no response: being reconciled). */
  replay?: { keyId: string; hash: string; status: number; response: string | null } | undefined;
  /** Forgets the dedupe claim: the call never reached the vendor, so a retry is not a duplicate. */
  forget?: { keyId: string; hash: string } | undefined;
  outcome: AuditOutcome;
  /** The outcome is unknown: the reconciler asks the vendor from `nextAt` on. */
  pending?: { nextAt: number; note: string } | undefined;
  /** What else the settlement records, given each cap's spend after it (when it moved them); written right after. */
  records?: ((spentAfter: number[]) => Records) | undefined;
  now: number;
}

/** Moves every cap to the final amount, counts the object, completes the dedupe claim and the audit row: one transaction. */
export async function settle(db: Db, s: Settlement): Promise<void> {
  const delta = s.finalMicros - s.reservedMicros;
  const caps = delta !== 0 ? s.caps : [];
  const o = s.outcome;
  const item: Item = {
    auditId: s.auditId,
    now: s.now,
    caps,
    delta,
    counted: s.counted && s.finalMicros > 0 ? { ...s.counted, objectId: s.counted.objectId.slice(0, 255), micros: s.finalMicros } : null,
    replay: s.replay ?? null,
    forget: s.forget ?? null,
    done: {
      status: o.status,
      upstreamStatus: o.upstreamStatus,
      latencyMs: o.latencyMs,
      settledMicros: o.settledMicros,
      objectId: o.objectId,
      upstreamRequestId: o.upstreamRequestId,
      responseBody: o.responseBody,
      reconcile: o.reconcile || s.pending ? 1 : 0,
      code: o.failure?.code ?? null,
      message: o.failure?.message ?? null,
      reconcileState: s.pending ? 'pending' : null,
      reconcileNextAt: s.pending?.nextAt ?? null,
      reconcileNote: s.pending?.note.slice(0, 2000) ?? null,
    },
  };
  const records = s.records;
  await moneyPath(db).lazy.push({ first: { program: SETTLE, item }, after: records ? (o) => recordCalls(records(o?.kept ?? [])) : undefined }, lockKeys(caps));
}

export interface Resolution {
  auditId: string;
  state: 'settled' | 'released';
  /** The spend rows the call reserved against (audit_log.reserved_caps). */
  caps: [string, string][];
  reservedMicros: number;
  /** What the call really cost (0 when released). */
  finalMicros: number;
  note: string;
  objectId?: string | undefined;
  /** The vendor's answer as found, for an identical request to be answered with (sealed), when it was made. */
  replay?: { status: number; response: string } | undefined;
}

/**
 * Resolves a call whose outcome was unknown, once: its spend rows move from the reservation to the final amount, the
 * row records what was found, and an identical request waiting on it is answered (settled) or let through
 * (released). False when the row was already resolved.
 */
export async function resolve(db: Db, r: Resolution): Promise<boolean> {
  const delta = r.finalMicros - r.reservedMicros;
  const caps = delta === 0 ? [] : spendRowsOf(r.caps);
  const item: Item = {
    auditId: r.auditId,
    state: r.state,
    note: r.note.slice(0, 2000),
    finalMicros: r.finalMicros,
    objectId: r.objectId?.slice(0, 255) ?? null,
    caps,
    delta,
    replay: r.state === 'settled' ? (r.replay ?? null) : null,
    forget: r.state === 'released' ? true : null,
  };
  const o = await moneyPath(db).durable.push({ first: { program: RESOLVE, item } }, lockKeys(caps));
  return o?.refused === undefined;
}

/** A window's spend so far. */
export async function spentIn(db: Db, subjectId: string, windowStart: string): Promise<number> {
  const row = (await db.knex('spend_windows').where({ subject_id: subjectId, window_start: windowStart }).first('spent_micros')) as { spent_micros: number } | undefined;
  return row ? Number(row.spent_micros) : 0;
}

/** The spend of many (subject, window) pairs in one query, keyed `${subject} ${window}`. */
export async function spentInMany(db: Db, pairs: [string, string][]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (pairs.length === 0) return out;
  const rows = (await db.knex('spend_windows').whereIn(['subject_id', 'window_start'], pairs).select('subject_id', 'window_start', 'spent_micros')) as { subject_id: string; window_start: string; spent_micros: number }[];
  for (const r of rows) out.set(`${r.subject_id} ${r.window_start}`, Number(r.spent_micros));
  return out;
}

const pending = perDb(() => new Set<Promise<void>>());

/**
 * Runs a settlement after the caller has been answered, tracked so that this instance's own readers (the admin
 * API, counted-object lookups) wait for it: they see every call they could have seen answered.
 */
export function settleLater(db: Db, work: () => Promise<void>): void {
  const set = pending(db);
  const p: Promise<void> = work().finally(() => set.delete(p));
  set.add(p);
}

/** Resolves once every settlement started on this instance before the call has committed (or failed). */
export async function settlementsDone(db: Db): Promise<void> {
  const set = pending(db);
  if (set.size > 0) await Promise.all([...set]);
}

/** Drops ended rate windows and dedupe claims older than a day; called periodically, in small batches. */
export async function purgeExpired(db: Db, now: number): Promise<number> {
  const stale = (await db.knex('rate_windows').where('expires_at', '<', now).select('subject_id', 'window_start').limit(1000)) as { subject_id: string; window_start: string }[];
  let n = 0;
  for (const row of stale) n += await db.knex('rate_windows').where(row).del();
  const old = (await db.knex('dedupe').where('created_at', '<', now - 86_400_000).select('key_id', 'request_hash').limit(1000)) as { key_id: string; request_hash: string }[];
  for (const row of old) n += await db.knex('dedupe').where(row).del();
  return n;
}
