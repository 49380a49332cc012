// Spend is reserved by conditional statements, in the same transaction as the audit row (design §5): never
// read-check-write in application code. A key may reserve against several caps at once (its day, its lifetime,
// a shared budget's day) and a rate window; either all of them take the call or none does.
// A crash after the reservation over-counts; it never under-counts.
import type { Knex } from 'knex';
import type { Db } from './db';
import { perDb, rowsOf } from './db';
import { auditRow, auditValues, completion, completionColumns, insertAuditRow, insertAudit, writeAudit, type AuditEntry, type AuditOutcome } from './audit';
import { pgReserves, pgSettles } from './pg-direct';
import { stmt, writes } from './sqlite-direct';

const SQL = {
  claim: `INSERT INTO dedupe (key_id, request_hash, created_at, audit_id, idempotency_key) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (key_id, request_hash) DO UPDATE
            SET created_at = excluded.created_at, audit_id = excluded.audit_id, idempotency_key = excluded.idempotency_key,
                status = NULL, response = NULL
            WHERE dedupe.created_at < ? AND (dedupe.status IS NULL OR dedupe.status <> 0)
          RETURNING audit_id`,
  claimed: 'SELECT audit_id, idempotency_key, status, response FROM dedupe WHERE key_id = ? AND request_hash = ?',
  rate: `INSERT INTO rate_windows (subject_id, window_start, requests, expires_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (subject_id, window_start) DO UPDATE
           SET requests = rate_windows.requests + 1
           WHERE rate_windows.requests + 1 <= ?
         RETURNING requests`,
  reserve: `INSERT INTO spend_windows (subject_id, window_start, spent_micros) VALUES (?, ?, ?)
            ON CONFLICT (subject_id, window_start) DO UPDATE
              SET spent_micros = spend_windows.spent_micros + excluded.spent_micros
              WHERE spend_windows.spent_micros + excluded.spent_micros <= ?
            RETURNING spent_micros`,
  spent: 'SELECT spent_micros FROM spend_windows WHERE subject_id = ? AND window_start = ?',
  // An upsert: a call reserved at $0 that the vendor reports as having moved money has no spend row yet.
  adjust: `INSERT INTO spend_windows (subject_id, window_start, spent_micros) VALUES (?, ?, ?)
           ON CONFLICT (subject_id, window_start) DO UPDATE SET spent_micros = spend_windows.spent_micros + excluded.spent_micros`,
  counted: `INSERT INTO counted_objects (workspace_id, vendor, object_id, counted_micros, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (workspace_id, vendor, object_id) DO UPDATE
              SET counted_micros = counted_objects.counted_micros + excluded.counted_micros, updated_at = excluded.updated_at`,
  dedupeDone: 'UPDATE dedupe SET status = ?, response = ? WHERE key_id = ? AND request_hash = ? AND audit_id = ?',
  epoch: 'SELECT policy_epoch FROM workspaces WHERE id = ?',
};

export type CapKind = 'daily' | 'total' | 'budget';

export interface CapCheck {
  kind: CapKind;
  subjectId: string;
  windowStart: string;
  capMicros: number;
}

export interface RateCheck {
  subjectId: string;
  windowStart: string;
  limit: number;
  expiresAt: number;
}

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

export interface DedupeRow {
  audit_id: string;
  idempotency_key: string;
  status: number | null;
  response: string | null;
}

export type Refusal =
  | { kind: CapKind; spentMicros: number; cap: CapCheck }
  | { kind: 'rate'; requests: number }
  | { kind: 'duplicate'; original: DedupeRow };

/**
 * The reservation was refused because the key it was decided with is no longer current (revoked or changed since
 * it was read): nothing was written, and the caller decides again with the key read afresh.
 */
export type ReserveResult = { ok: true } | { ok: false; refusal: Refusal } | { ok: false; stale: true };

/** The policy epoch a cached key was read under (store/keys.ts): the reservation stands only if it is current. */
export interface EpochGuard {
  workspaceId: string;
  epoch: number;
}

class Refused extends Error {
  constructor(readonly refusal: Refusal) {
    super('refused');
  }
}

class Stale extends Error {
  constructor() {
    super('stale key');
  }
}

const STALE: ReserveResult = { ok: false, stale: true };

async function epochOf(q: Knex | Knex.Transaction, db: Db, workspaceId: string): Promise<number> {
  const row = rowsOf<{ policy_epoch: number | string }>(db.dialect, await q.raw(SQL.epoch, [workspaceId]))[0];
  return Number(row?.policy_epoch ?? 0);
}

/** A window's spend so far, read with the database or inside a transaction. */
async function spentWith(q: Knex | Knex.Transaction, subjectId: string, windowStart: string): Promise<number> {
  const row = (await q('spend_windows').where({ subject_id: subjectId, window_start: windowStart }).first('spent_micros')) as { spent_micros: number } | undefined;
  return row ? Number(row.spent_micros) : 0;
}

export async function spentIn(db: Db, subjectId: string, windowStart: string): Promise<number> {
  return spentWith(db.knex, subjectId, windowStart);
}

/** The spend of many (subject, window) pairs in one query, keyed `${subject} ${window}`. */
export async function spentInMany(db: Db, pairs: [string, string][]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (pairs.length === 0) return out;
  const rows = (await db.knex('spend_windows').whereIn(['subject_id', 'window_start'], pairs).select('subject_id', 'window_start', 'spent_micros')) as { subject_id: string; window_start: string; spent_micros: number }[];
  for (const r of rows) out.set(`${r.subject_id} ${r.window_start}`, Number(r.spent_micros));
  return out;
}

/**
 * Takes one request against the rate window and reserves `micros` against every cap, then writes the audit
 * row, in one transaction. When anything has no room, the transaction rolls back and the audit row is written
 * as the refusal (`onRefuse` fills in its code, message and status).
 */
export async function reserveAndAudit(
  db: Db,
  r: { micros: number; caps: CapCheck[]; rate?: RateCheck; dedupe?: DedupeClaim; guard?: EpochGuard },
  entry: AuditEntry,
  onRefuse: (refusal: Refusal) => Partial<Pick<AuditEntry, 'code' | 'message' | 'status' | 'decision'>>,
  /**
   * Given each cap's spend after the reservation, what to write with it (alert events), or nothing. On the
   * transaction path it runs inside the reservation's transaction.
   */
  afterReserve?: (spentAfter: number[]) => ((trx: Knex.Transaction) => Promise<void>) | undefined,
): Promise<ReserveResult> {
  const cap = r.caps[0];
  const g = r.guard;
  if (db.dialect === 'postgres' && !r.dedupe && !r.rate && (r.micros === 0 || (r.caps.length === 1 && cap && r.micros <= cap.capMicros))) {
    // The hot path on PostgreSQL: the key's epoch check, the conditional reservation and the audit row, in one
    // round trip shared with the other calls of the moment (group commit). Nothing is written for a call whose
    // key is stale or whose cap has no room.
    const reserved = await pgReserves(db).run({
      ...(g ? { guard: g } : {}),
      ...(r.micros > 0 && cap ? { cap } : {}),
      micros: r.micros,
      row: { ...auditRow(entry), reserved_micros: r.micros },
    });
    if (reserved.ok) {
      const write = r.micros > 0 ? afterReserve?.([reserved.spent]) : undefined;
      if (write) await db.knex.transaction(write);
      return { ok: true };
    }
    if (reserved.stale) return STALE;
    const c = cap as CapCheck;
    const refusal: Refusal = { kind: c.kind, spentMicros: await spentIn(db, c.subjectId, c.windowStart), cap: c };
    await writeAudit(db, { ...entry, decision: 'deny', reservedMicros: 0, ...onRefuse(refusal) });
    return { ok: false, refusal };
  }
  if (db.dialect === 'sqlite') {
    // One synchronous transaction on the single connection: the statements below are the same as the knex path's.
    let outcome: ReserveResult;
    let spentAfter: number[] = [];
    try {
      spentAfter = await writes(db).run((conn): number[] => {
        const after: number[] = [];
        if (g && Number((stmt(conn, SQL.epoch).get(g.workspaceId) as { policy_epoch: number } | undefined)?.policy_epoch ?? 0) !== g.epoch) throw new Stale();
        if (r.dedupe) {
          const d = r.dedupe;
          if (!stmt(conn, SQL.claim).get(d.keyId, d.hash, d.now, d.auditId, d.idempotencyKey, d.cutoff)) {
            throw new Refused({ kind: 'duplicate', original: stmt(conn, SQL.claimed).get(d.keyId, d.hash) as DedupeRow });
          }
        }
        if (r.rate && !stmt(conn, SQL.rate).get(r.rate.subjectId, r.rate.windowStart, r.rate.expiresAt, r.rate.limit)) {
          throw new Refused({ kind: 'rate', requests: r.rate.limit });
        }
        if (r.micros > 0) {
          for (const c of r.caps) {
            const row = r.micros > c.capMicros ? undefined : (stmt(conn, SQL.reserve).get(c.subjectId, c.windowStart, r.micros, c.capMicros) as { spent_micros: number } | undefined);
            if (!row) {
              const current = stmt(conn, SQL.spent).get(c.subjectId, c.windowStart) as { spent_micros: number } | undefined;
              throw new Refused({ kind: c.kind, spentMicros: current ? Number(current.spent_micros) : 0, cap: c });
            }
            after.push(Number(row.spent_micros));
          }
        }
        insertAuditRow(conn, auditValues({ ...entry, reservedMicros: r.micros }));
        return after;
      });
      outcome = { ok: true };
    } catch (err) {
      if (err instanceof Stale) return STALE;
      if (!(err instanceof Refused)) throw err;
      await writeAudit(db, { ...entry, decision: 'deny', reservedMicros: 0, ...onRefuse(err.refusal) });
      return { ok: false, refusal: err.refusal };
    }
    const write = r.micros > 0 ? afterReserve?.(spentAfter) : undefined;
    if (write) await db.knex.transaction(write);
    return outcome;
  }
  try {
    await db.knex.transaction(async (trx) => {
      const spentAfter: number[] = [];
      if (g && (await epochOf(trx, db, g.workspaceId)) !== g.epoch) throw new Stale();
      if (r.dedupe) {
        const d = r.dedupe;
        const claimed = await trx.raw(SQL.claim, [d.keyId, d.hash, d.now, d.auditId, d.idempotencyKey, d.cutoff]);
        if (rowsOf(db.dialect, claimed).length === 0) {
          const original = rowsOf<DedupeRow>(db.dialect, await trx.raw(SQL.claimed, [d.keyId, d.hash]))[0] as DedupeRow;
          throw new Refused({ kind: 'duplicate', original });
        }
      }
      if (r.rate) {
        const result = await trx.raw(SQL.rate, [r.rate.subjectId, r.rate.windowStart, r.rate.expiresAt, r.rate.limit]);
        if (rowsOf(db.dialect, result).length === 0) throw new Refused({ kind: 'rate', requests: r.rate.limit });
      }
      if (r.micros > 0) {
        for (const cap of r.caps) {
          if (r.micros > cap.capMicros) throw new Refused({ kind: cap.kind, spentMicros: await spentWith(trx, cap.subjectId, cap.windowStart), cap });
          const result = await trx.raw(SQL.reserve, [cap.subjectId, cap.windowStart, r.micros, cap.capMicros]);
          const rows = rowsOf<{ spent_micros: number }>(db.dialect, result);
          if (rows.length === 0) throw new Refused({ kind: cap.kind, spentMicros: await spentWith(trx, cap.subjectId, cap.windowStart), cap });
          spentAfter.push(Number(rows[0]?.spent_micros));
        }
      }
      await insertAudit(trx, { ...entry, reservedMicros: r.micros });
      const write = r.micros > 0 ? afterReserve?.(spentAfter) : undefined;
      if (write) await write(trx);
    });
    return { ok: true };
  } catch (err) {
    if (err instanceof Stale) return STALE;
    if (!(err instanceof Refused)) throw err;
    await writeAudit(db, { ...entry, decision: 'deny', reservedMicros: 0, ...onRefuse(err.refusal) });
    return { ok: false, refusal: err.refusal };
  }
}

export interface Settlement {
  auditId: string;
  caps: CapCheck[];
  reservedMicros: number;
  /** What the call really cost; equal to the reservation when it must be kept. */
  finalMicros: number;
  /** The vendor object this call counted toward (its final amount is added). */
  counted?: { workspaceId: string; vendor: string; objectId: string };
  /** The dedupe claim to complete with the response, for replays (status 0, no response: being reconciled). */
  dedupe?: { keyId: string; hash: string; status: number; response: string | null };
  now: number;
}

/**
 * Moves every reservation to the final amount and completes the audit row, in one transaction. On PostgreSQL it
 * commits without waiting for the WAL flush: a settlement lost in a crash leaves the reservation standing, which
 * over-counts and never under-counts (the reservation itself was committed durably before anything was forwarded).
 */
export async function settle(db: Db, s: Settlement, outcome: AuditOutcome): Promise<void> {
  const delta = s.finalMicros - s.reservedMicros;
  if (db.dialect === 'sqlite') {
    const complete = completion(outcome, s.auditId);
    await writes(db).run((conn) => {
      if (delta !== 0) for (const cap of s.caps) stmt(conn, SQL.adjust).run(cap.subjectId, cap.windowStart, delta);
      if (s.counted && s.finalMicros > 0) stmt(conn, SQL.counted).run(s.counted.workspaceId, s.counted.vendor, s.counted.objectId.slice(0, 255), s.finalMicros, s.now);
      if (s.dedupe) stmt(conn, SQL.dedupeDone).run(s.dedupe.status, s.dedupe.response, s.dedupe.keyId, s.dedupe.hash, s.auditId);
      stmt(conn, complete.sql).run(complete.values);
    });
    return;
  }
  await pgSettles(db).run({
    auditId: s.auditId,
    adjust: delta !== 0 ? s.caps.map((c) => [c.subjectId, c.windowStart, delta] as [string, string, number]) : [],
    ...(s.counted && s.finalMicros > 0 ? { counted: { ...s.counted, micros: s.finalMicros } } : {}),
    ...(s.dedupe ? { dedupe: s.dedupe } : {}),
    columns: completionColumns(outcome),
  });
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

/** Forgets a dedupe claim whose call never reached the vendor, so that a retry is not taken for a duplicate. */
export async function releaseDedupe(db: Db, keyId: string, hash: string, auditId: string): Promise<void> {
  await db.knex('dedupe').where({ key_id: keyId, request_hash: hash, audit_id: auditId }).del();
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
