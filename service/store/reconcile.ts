// The rows of calls whose outcome is unknown (migration 009): marked pending when the call ends in a timeout, a
// reset or a 5xx, or when its settlement never got written; claimed by one reconciler at a time (a conditional
// update, as the webhook outbox does); resolved once, by the reconciler or a person, with the spend moved to what
// the vendor turned out to have done.
import type { Db } from './db';
import { rowsOf } from './db';
import { resolve as resolveCall } from './ledger';

export type ReconcileState = 'pending' | 'manual' | 'settled' | 'released';

export interface UnresolvedRow {
  id: string;
  workspace_id: string;
  key_id: string | null;
  vendor: string;
  method: string;
  path: string;
  ts: number;
  request_body: string | null;
  reserved_micros: number;
  estimated_micros: number;
  reserved_caps: string | null;
  object_id: string | null;
  reconcile_state: ReconcileState;
  reconcile_attempts: number | null;
}

const COLUMNS = ['id', 'workspace_id', 'key_id', 'vendor', 'method', 'path', 'ts', 'request_body', 'reserved_micros', 'estimated_micros', 'reserved_caps', 'object_id', 'reconcile_state', 'reconcile_attempts'];

const num = (r: UnresolvedRow): UnresolvedRow => ({ ...r, ts: Number(r.ts), reserved_micros: Number(r.reserved_micros), estimated_micros: Number(r.estimated_micros), reconcile_attempts: Number(r.reconcile_attempts ?? 0) });

/**
 * Which of these vendor object ids the audit rows of other calls made within an hour of `around` hold (the time
 * range keeps the lookup on the (workspace, vendor, ts) index).
 */
export async function objectsClaimed(db: Db, workspaceId: string, vendor: string, ids: string[], except: string, around: number): Promise<string[]> {
  const rows = (await db
    .knex('audit_log')
    .where({ workspace_id: workspaceId, vendor })
    .whereBetween('ts', [around - 3_600_000, around + 3_600_000])
    .whereIn('object_id', ids.slice(0, 500))
    .whereNot('id', except)
    .select('object_id')) as { object_id: string }[];
  return rows.map((r) => r.object_id);
}

/** Marks a call whose outcome is unknown: the reconciler asks the vendor from `nextAt` on. */
export async function markPending(db: Db, auditId: string, nextAt: number, note: string): Promise<void> {
  await db.knex('audit_log').where({ id: auditId }).update({ reconcile: 1, reconcile_state: 'pending', reconcile_next_at: nextAt, reconcile_note: note });
}

/** Claims up to `limit` due rows for `leaseMs`; a row claimed by another instance is skipped. */
export async function claimDue(db: Db, now: number, leaseMs: number, limit: number): Promise<UnresolvedRow[]> {
  const due = (await db.knex('audit_log').where({ reconcile_state: 'pending' }).andWhere('reconcile_next_at', '<=', now).orderBy('reconcile_next_at').limit(limit).select(COLUMNS)) as UnresolvedRow[];
  const claimed: UnresolvedRow[] = [];
  for (const row of due) {
    const n = await db.knex('audit_log').where({ id: row.id, reconcile_state: 'pending' }).andWhere('reconcile_next_at', '<=', now).update({ reconcile_next_at: now + leaseMs });
    if (n === 1) claimed.push(num(row));
  }
  return claimed;
}

export async function unresolved(db: Db, workspaceId: string, id: string): Promise<UnresolvedRow | undefined> {
  const row = (await db.knex('audit_log').where({ id, workspace_id: workspaceId }).whereIn('reconcile_state', ['pending', 'manual']).first(COLUMNS)) as UnresolvedRow | undefined;
  return row ? num(row) : undefined;
}

/** Asks again later (the vendor did not answer), or hands the row to a person. */
export async function retryLater(db: Db, id: string, attempts: number, nextAt: number | null, note: string): Promise<void> {
  await db
    .knex('audit_log')
    .where({ id })
    .whereIn('reconcile_state', ['pending', 'manual'])
    .update({ reconcile_attempts: attempts, reconcile_next_at: nextAt, reconcile_state: nextAt === null ? 'manual' : 'pending', reconcile_note: note });
}

export interface Resolution {
  state: 'settled' | 'released';
  /** What the call really cost (0 when released). */
  finalMicros: number;
  note: string;
  objectId?: string | undefined;
  /** The vendor's answer as found, for an identical request to be answered with (sealed), when it was made. */
  dedupe?: { status: number; response: string } | undefined;
}

/** Resolves a row once (the RESOLVE program, store/steps.ts). Returns false when the row was already resolved. */
export async function resolve(db: Db, row: UnresolvedRow, r: Resolution): Promise<boolean> {
  return resolveCall(db, {
    auditId: row.id,
    state: r.state,
    caps: row.reserved_caps ? (JSON.parse(row.reserved_caps) as [string, string][]) : [],
    reservedMicros: row.reserved_micros,
    finalMicros: r.finalMicros,
    note: r.note,
    objectId: r.objectId,
    replay: r.dedupe,
  });
}

/**
 * Rows whose settlement was never written (the process stopped between forwarding and settling): allowed, with no
 * status, older than `before`, from `after` on. Those that reserved money are marked pending; the others only
 * completed an audit row, and are noted as such.
 */
export async function sweepLost(db: Db, after: number, before: number, nextAt: number): Promise<number> {
  const rows: { id: string; reserved_micros: number }[] = [];
  // Workspace by workspace, so that the (workspace_id, ts) index serves the range.
  for (const { id: workspace } of (await db.knex('workspaces').select('id')) as { id: string }[]) {
    rows.push(
      ...rowsOf<{ id: string; reserved_micros: number }>(
        db.dialect,
        await db.knex.raw(
          'SELECT id, reserved_micros FROM audit_log WHERE workspace_id = ? AND ts >= ? AND ts < ? AND decision = ? AND (status IS NULL OR reconcile = 1) AND reconcile_state IS NULL LIMIT 500',
          [workspace, after, before, 'allow'],
        ),
      ),
    );
  }
  for (const r of rows) {
    if (Number(r.reserved_micros) > 0) await markPending(db, r.id, nextAt, 'the settlement was never written (the process stopped, or its database was away); the reservation stands until the vendor is asked');
    else await db.knex('audit_log').where({ id: r.id }).update({ reconcile_state: 'released', reconcile_note: 'the settlement was never written; nothing was reserved' });
  }
  return rows.length;
}
