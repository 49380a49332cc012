// Spend is reserved in one conditional statement, in the same transaction as the audit row (design §5):
// never read-check-write in application code. A crash after the reservation over-counts; it never under-counts.
import type { Db } from './db';
import { rowsOf } from './db';
import { completeAudit, insertAudit, type AuditEntry, type AuditOutcome } from './audit';

export interface Reservation {
  subjectId: string;
  windowStart: string;
  micros: number;
  capMicros: number;
}

export type ReserveResult = { ok: true; spentMicros: number } | { ok: false; spentMicros: number };

export async function spentIn(db: Db, subjectId: string, windowStart: string): Promise<number> {
  const row = (await db.knex('spend_windows').where({ subject_id: subjectId, window_start: windowStart }).first('spent_micros')) as
    | { spent_micros: number }
    | undefined;
  return row ? Number(row.spent_micros) : 0;
}

/**
 * Reserves `micros` against the cap and writes the audit row, atomically. When the cap has no room, the audit
 * row is written as the refusal (`onRefuse` fills in its code and message) and nothing is reserved.
 */
export async function reserveAndAudit(
  db: Db,
  r: Reservation,
  entry: AuditEntry,
  onRefuse: (spentMicros: number) => Pick<AuditEntry, 'code' | 'message' | 'status'>,
): Promise<ReserveResult> {
  return db.knex.transaction(async (trx) => {
    let spent: number | undefined;
    if (r.micros <= r.capMicros) {
      const result = await trx.raw(
        `INSERT INTO spend_windows (subject_id, window_start, spent_micros) VALUES (?, ?, ?)
         ON CONFLICT (subject_id, window_start) DO UPDATE
           SET spent_micros = spend_windows.spent_micros + excluded.spent_micros
           WHERE spend_windows.spent_micros + excluded.spent_micros <= ?
         RETURNING spent_micros`,
        [r.subjectId, r.windowStart, r.micros, r.capMicros],
      );
      const rows = rowsOf<{ spent_micros: number }>(db.dialect, result);
      if (rows[0] !== undefined) spent = Number(rows[0].spent_micros);
    }
    if (spent !== undefined) {
      await insertAudit(trx, { ...entry, reservedMicros: r.micros, windowStart: r.windowStart });
      return { ok: true, spentMicros: spent };
    }
    const row = (await trx('spend_windows').where({ subject_id: r.subjectId, window_start: r.windowStart }).first('spent_micros')) as
      | { spent_micros: number }
      | undefined;
    const current = row ? Number(row.spent_micros) : 0;
    await insertAudit(trx, { ...entry, decision: 'deny', reservedMicros: 0, windowStart: r.windowStart, ...onRefuse(current) });
    return { ok: false, spentMicros: current };
  });
}

export interface Settlement {
  auditId: string;
  subjectId: string;
  windowStart: string;
  reservedMicros: number;
  /** What the call really cost; equal to the reservation when it must be kept. */
  finalMicros: number;
}

/** Moves the reservation to the final amount and completes the audit row, in one transaction. */
export async function settle(db: Db, s: Settlement, outcome: AuditOutcome): Promise<void> {
  await db.knex.transaction(async (trx) => {
    const delta = s.finalMicros - s.reservedMicros;
    if (delta !== 0) {
      await trx('spend_windows')
        .where({ subject_id: s.subjectId, window_start: s.windowStart })
        .update({ spent_micros: trx.raw('spent_micros + ?', [delta]) });
    }
    await completeAudit(trx, s.auditId, outcome);
  });
}
