// Spend is reserved by conditional statements, in the same transaction as the audit row (design §5): never
// read-check-write in application code. A key may reserve against several caps at once (its day, its lifetime,
// a shared budget's day) and a rate window; either all of them take the call or none does.
// A crash after the reservation over-counts; it never under-counts.
import type { Knex } from 'knex';
import type { Db } from './db';
import { rowsOf } from './db';
import { completeAudit, insertAudit, type AuditEntry, type AuditOutcome } from './audit';

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

export type Refusal = { kind: CapKind; spentMicros: number; cap: CapCheck } | { kind: 'rate'; requests: number };

export type ReserveResult = { ok: true } | { ok: false; refusal: Refusal };

class Refused extends Error {
  constructor(readonly refusal: Refusal) {
    super('refused');
  }
}

export async function spentIn(db: Db, subjectId: string, windowStart: string): Promise<number> {
  const row = (await db.knex('spend_windows').where({ subject_id: subjectId, window_start: windowStart }).first('spent_micros')) as
    | { spent_micros: number }
    | undefined;
  return row ? Number(row.spent_micros) : 0;
}

async function spentInTrx(trx: Knex.Transaction, cap: CapCheck): Promise<number> {
  const row = (await trx('spend_windows').where({ subject_id: cap.subjectId, window_start: cap.windowStart }).first('spent_micros')) as { spent_micros: number } | undefined;
  return row ? Number(row.spent_micros) : 0;
}

/**
 * Takes one request against the rate window and reserves `micros` against every cap, then writes the audit
 * row, in one transaction. When anything has no room, the transaction rolls back and the audit row is written
 * as the refusal (`onRefuse` fills in its code, message and status).
 */
export async function reserveAndAudit(
  db: Db,
  r: { micros: number; caps: CapCheck[]; rate?: RateCheck },
  entry: AuditEntry,
  onRefuse: (refusal: Refusal) => Pick<AuditEntry, 'code' | 'message' | 'status'>,
): Promise<ReserveResult> {
  try {
    await db.knex.transaction(async (trx) => {
      if (r.rate) {
        const result = await trx.raw(
          `INSERT INTO rate_windows (subject_id, window_start, requests, expires_at) VALUES (?, ?, 1, ?)
           ON CONFLICT (subject_id, window_start) DO UPDATE
             SET requests = rate_windows.requests + 1
             WHERE rate_windows.requests + 1 <= ?
           RETURNING requests`,
          [r.rate.subjectId, r.rate.windowStart, r.rate.expiresAt, r.rate.limit],
        );
        if (rowsOf(db.dialect, result).length === 0) throw new Refused({ kind: 'rate', requests: r.rate.limit });
      }
      if (r.micros > 0) {
        for (const cap of r.caps) {
          if (r.micros > cap.capMicros) throw new Refused({ kind: cap.kind, spentMicros: await spentInTrx(trx, cap), cap });
          const result = await trx.raw(
            `INSERT INTO spend_windows (subject_id, window_start, spent_micros) VALUES (?, ?, ?)
             ON CONFLICT (subject_id, window_start) DO UPDATE
               SET spent_micros = spend_windows.spent_micros + excluded.spent_micros
               WHERE spend_windows.spent_micros + excluded.spent_micros <= ?
             RETURNING spent_micros`,
            [cap.subjectId, cap.windowStart, r.micros, cap.capMicros],
          );
          if (rowsOf(db.dialect, result).length === 0) throw new Refused({ kind: cap.kind, spentMicros: await spentInTrx(trx, cap), cap });
        }
      }
      await insertAudit(trx, { ...entry, reservedMicros: r.micros });
    });
    return { ok: true };
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    await insertAudit(db.knex, { ...entry, decision: 'deny', reservedMicros: 0, ...onRefuse(err.refusal) });
    return { ok: false, refusal: err.refusal };
  }
}

export interface Settlement {
  auditId: string;
  caps: CapCheck[];
  reservedMicros: number;
  /** What the call really cost; equal to the reservation when it must be kept. */
  finalMicros: number;
}

/** Moves every reservation to the final amount and completes the audit row, in one transaction. */
export async function settle(db: Db, s: Settlement, outcome: AuditOutcome): Promise<void> {
  await db.knex.transaction(async (trx) => {
    const delta = s.finalMicros - s.reservedMicros;
    if (delta !== 0 && s.reservedMicros > 0) {
      for (const cap of s.caps) {
        await trx('spend_windows')
          .where({ subject_id: cap.subjectId, window_start: cap.windowStart })
          .update({ spent_micros: trx.raw('spent_micros + ?', [delta]) });
      }
    }
    await completeAudit(trx, s.auditId, outcome);
  });
}

/** Drops rate windows that have ended; called periodically, in small batches. */
export async function purgeRateWindows(db: Db, now: number): Promise<number> {
  const ids = db.knex('rate_windows').where('expires_at', '<', now).select('subject_id', 'window_start').limit(1000);
  const stale = (await ids) as { subject_id: string; window_start: string }[];
  let n = 0;
  for (const row of stale) n += await db.knex('rate_windows').where(row).del();
  return n;
}
