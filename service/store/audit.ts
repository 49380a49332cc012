import type { Knex } from 'knex';
import type { Db } from './db';
import { prepared } from './pg-direct';
import type BetterSqlite3 from 'better-sqlite3';
import { stmt, writes } from './sqlite-direct';

/** One row per proxied request, allowed or refused (design §6). Bodies arrive already redacted and truncated. */
export interface AuditEntry {
  id: string;
  workspaceId: string;
  ts: number;
  keyId: string | null;
  keyLabel: string | null;
  vendor: string;
  method: string;
  path: string;
  decision: 'allow' | 'deny';
  code: string | null;
  message: string | null;
  estimatedMicros: number;
  reservedMicros: number;
  windowStart: string | null;
  budgetId: string | null;
  budgetWindow: string | null;
  status: number | null;
  latencyMs: number | null;
  runId: string | null;
  conversationId: string | null;
  userRef: string | null;
  idempotencyKey: string | null;
  requestBody: string | null;
  /** The spend rows a reservation was made against, as JSON `[[subject, window], …]` (for reconciling it later). */
  reservedCaps?: string | null;
}

export async function insertAudit(q: Knex | Knex.Transaction, e: AuditEntry): Promise<void> {
  await q('audit_log').insert(auditRow(e));
}

/** One audit row on its own (a refusal, a zero-cost call): on SQLite without the query builder. */
export async function writeAudit(db: Db, e: AuditEntry): Promise<void> {
  const values = auditValues(e);
  if (db.dialect === 'sqlite') await writes(db).run((conn) => insertAuditRow(conn, values));
  else await prepared(db, INSERT_AUDIT, values);
}

/** The audit_log columns an entry fills, in the order of auditValues(). */
const AUDIT_COLUMNS = [
  'id', 'workspace_id', 'ts', 'key_id', 'key_label', 'vendor', 'method', 'path', 'decision', 'code', 'message',
  'estimated_micros', 'reserved_micros', 'window_start', 'budget_id', 'budget_window', 'status', 'latency_ms',
  'run_id', 'conversation_id', 'user_ref', 'idempotency_key', 'request_body', 'reconcile', 'reserved_caps',
] as const;

/** The INSERT of one audit row, one `?` per column: a constant, so that a statement cache finds it at once. */
export const INSERT_AUDIT = `INSERT INTO audit_log (${AUDIT_COLUMNS.join(', ')}) VALUES (${AUDIT_COLUMNS.map(() => '?').join(', ')})`;

/** An entry's values for INSERT_AUDIT (a plain array: the hot path builds one per call). */
export function auditValues(e: AuditEntry): (string | number | null)[] {
  return [
    e.id, e.workspaceId, e.ts, e.keyId, e.keyLabel, e.vendor, e.method, e.path, e.decision, e.code, e.message,
    e.estimatedMicros, e.reservedMicros, e.windowStart, e.budgetId, e.budgetWindow, e.status, e.latencyMs,
    e.runId, e.conversationId, e.userRef, e.idempotencyKey, e.requestBody, 0, e.reservedCaps ?? null,
  ];
}

/** Inserts one audit row on SQLite's connection (values as auditValues() gives them). */
export function insertAuditRow(conn: BetterSqlite3.Database, values: (string | number | null)[]): void {
  stmt(conn, INSERT_AUDIT).run(values);
}

/** The audit_log row for an entry, column by column. */
export function auditRow(e: AuditEntry): Record<string, string | number | null> {
  const values = auditValues(e);
  const row: Record<string, string | number | null> = {};
  AUDIT_COLUMNS.forEach((c, i) => (row[c] = values[i] ?? null));
  return row;
}

export interface AuditOutcome {
  status: number;
  upstreamStatus: number | null;
  latencyMs: number;
  settledMicros: number | null;
  objectId: string | null;
  upstreamRequestId: string | null;
  responseBody: string | null;
  /** The call may have moved money without us knowing how much (timeout, reset, 5xx). */
  reconcile: boolean;
  /** The upstream failure the call ended in (its code and message replace the row's). */
  failure?: { code: string; message: string };
}

const COMPLETION_COLUMNS: readonly string[] = ['status', 'upstream_status', 'latency_ms', 'settled_micros', 'object_id', 'upstream_request_id', 'response_body', 'reconcile'];
const completeSql = (columns: readonly string[]): string => `UPDATE audit_log SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`;
const FAILED_COLUMNS: readonly string[] = [...COMPLETION_COLUMNS, 'code', 'message'];
const COMPLETE = { plain: completeSql(COMPLETION_COLUMNS), failed: completeSql(FAILED_COLUMNS) };

function completionValues(o: AuditOutcome): (string | number | null)[] {
  const values = [o.status, o.upstreamStatus, o.latencyMs, o.settledMicros, o.objectId, o.upstreamRequestId, o.responseBody, o.reconcile ? 1 : 0];
  if (o.failure) values.push(o.failure.code, o.failure.message);
  return values;
}

/** The columns that complete an audit row, column by column. */
export function completionColumns(o: AuditOutcome): Record<string, string | number | null> {
  const values = completionValues(o);
  const columns = o.failure ? FAILED_COLUMNS : COMPLETION_COLUMNS;
  const update: Record<string, string | number | null> = {};
  columns.forEach((c, i) => (update[c] = values[i] ?? null));
  return update;
}

/** The UPDATE that completes an audit row and its values, the row's id last: constant statements, cached at once. */
export function completion(o: AuditOutcome, auditId: string): { sql: string; values: (string | number | null)[] } {
  const values = completionValues(o);
  values.push(auditId);
  return { sql: o.failure ? COMPLETE.failed : COMPLETE.plain, values };
}
