// Reading the audit trail: filtered pages (keyset cursor on ts, id), streamed exports in bounded batches, and
// usage reports. Everything is plain SQL over the indexes created in migration 004.
import type { Knex } from 'knex';
import type { Db } from './db';
import { likePrefix } from './keys';

export interface AuditFilter {
  keyId?: string;
  label?: string;
  labelPrefix?: string;
  vendor?: string;
  decision?: 'allow' | 'deny';
  code?: string;
  runId?: string;
  conversationId?: string;
  from?: number;
  to?: number;
  /** pending: waiting for the reconciler or a person (manual included); or one state; any: every reconciled row. */
  reconcile?: 'pending' | 'manual' | 'settled' | 'released' | 'any';
  /** The calls of one approval: the request that asked for it and the call forwarded under it. */
  approvalId?: string;
}

export interface AuditCursor {
  ts: number;
  id: string;
}

export const AUDIT_COLUMNS = [
  'id', 'ts', 'key_id', 'key_label', 'vendor', 'method', 'path', 'decision', 'code', 'message', 'status', 'upstream_status',
  'estimated_micros', 'reserved_micros', 'settled_micros', 'reconcile', 'window_start', 'budget_id', 'latency_ms', 'run_id',
  'conversation_id', 'user_ref', 'idempotency_key', 'object_id', 'upstream_request_id', 'request_body', 'response_body',
  'reconcile_state', 'reconcile_attempts', 'reconcile_next_at', 'reconcile_note', 'channel', 'mcp_session', 'approval_id',
] as const;

export type AuditRow = Record<(typeof AUDIT_COLUMNS)[number], string | number | null>;

function filtered(db: Db, workspaceId: string, f: AuditFilter): Knex.QueryBuilder {
  const q = db.knex('audit_log').where('workspace_id', workspaceId);
  if (f.keyId !== undefined) q.where('key_id', f.keyId);
  if (f.label !== undefined) q.where('key_label', f.label);
  if (f.labelPrefix !== undefined) q.whereRaw("key_label LIKE ? ESCAPE '\\'", [likePrefix(f.labelPrefix)]);
  if (f.vendor !== undefined) q.where('vendor', f.vendor);
  if (f.decision !== undefined) q.where('decision', f.decision);
  if (f.code !== undefined) q.where('code', f.code);
  if (f.runId !== undefined) q.where('run_id', f.runId);
  if (f.conversationId !== undefined) q.where('conversation_id', f.conversationId);
  if (f.from !== undefined) q.where('ts', '>=', f.from);
  if (f.to !== undefined) q.where('ts', '<', f.to);
  if (f.reconcile === 'pending') q.whereIn('reconcile_state', ['pending', 'manual']);
  else if (f.reconcile === 'any') q.whereNotNull('reconcile_state');
  else if (f.reconcile !== undefined) q.where('reconcile_state', f.reconcile);
  if (f.approvalId !== undefined) q.where('approval_id', f.approvalId);
  return q;
}

export async function auditById(db: Db, workspaceId: string, id: string): Promise<AuditRow | undefined> {
  return (await db.knex('audit_log').where({ workspace_id: workspaceId, id }).first(AUDIT_COLUMNS as unknown as string[])) as AuditRow | undefined;
}

/** Newest first; `before` continues after the last row of the previous page. */
export async function auditPage(db: Db, workspaceId: string, f: AuditFilter, limit: number, before?: AuditCursor): Promise<AuditRow[]> {
  const q = filtered(db, workspaceId, f).select(AUDIT_COLUMNS as unknown as string[]);
  if (before) q.andWhere((w) => w.where('ts', '<', before.ts).orWhere((w2) => w2.where('ts', before.ts).andWhere('id', '<', before.id)));
  return (await q.orderBy([{ column: 'ts', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit)) as AuditRow[];
}

/** Every matching row, oldest first, in batches: memory stays flat however large the range. */
export async function* auditExport(db: Db, workspaceId: string, f: AuditFilter, batch = 1000): AsyncGenerator<AuditRow> {
  let after: AuditCursor | undefined;
  for (;;) {
    const q = filtered(db, workspaceId, f).select(AUDIT_COLUMNS as unknown as string[]);
    if (after) {
      const a = after;
      q.andWhere((w) => w.where('ts', '>', a.ts).orWhere((w2) => w2.where('ts', a.ts).andWhere('id', '>', a.id)));
    }
    const rows = (await q.orderBy([{ column: 'ts', order: 'asc' }, { column: 'id', order: 'asc' }]).limit(batch)) as AuditRow[];
    for (const row of rows) yield row;
    if (rows.length < batch) return;
    const last = rows[rows.length - 1] as AuditRow;
    after = { ts: Number(last.ts), id: String(last.id) };
  }
}

export type UsageGroup = 'day' | 'key' | 'label' | 'vendor' | 'budget' | 'code';

export interface UsageRow {
  group: string | null;
  spent_micros: number;
  requests: number;
  allowed: number;
  denied: number;
}

/** Spend (settled, or reserved while open) and request counts, grouped. Days are UTC calendar days. */
export async function usage(db: Db, workspaceId: string, by: UsageGroup, f: AuditFilter): Promise<UsageRow[]> {
  const day = db.dialect === 'postgres' ? "to_char(to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')" : "strftime('%Y-%m-%d', ts / 1000, 'unixepoch')";
  const column = { day, key: 'key_id', label: 'key_label', vendor: 'vendor', budget: 'budget_id', code: 'code' }[by];
  const rows = (await filtered(db, workspaceId, f)
    .select(db.knex.raw(`${column} AS grp`))
    .sum({ spent: db.knex.raw("CASE WHEN decision = 'allow' THEN COALESCE(settled_micros, reserved_micros) ELSE 0 END") })
    .count({ requests: '*' })
    .sum({ allowed: db.knex.raw("CASE WHEN decision = 'allow' THEN 1 ELSE 0 END") })
    .groupByRaw(column)
    .orderByRaw(`${column}`)) as { grp: string | null; spent: number | string | null; requests: number | string; allowed: number | string | null }[];
  return rows.map((r) => ({
    group: r.grp,
    spent_micros: Number(r.spent ?? 0),
    requests: Number(r.requests),
    allowed: Number(r.allowed ?? 0),
    denied: Number(r.requests) - Number(r.allowed ?? 0),
  }));
}

/** Deletes audit rows older than `before`, at most `batch` at a time; returns how many went. */
export async function purgeAudit(db: Db, before: number, batch: number): Promise<number> {
  const ids = (await db.knex('audit_log').where('ts', '<', before).orderBy('ts').limit(batch).select('id')) as { id: string }[];
  if (ids.length === 0) return 0;
  return db.knex('audit_log').whereIn('id', ids.map((r) => r.id)).del();
}
