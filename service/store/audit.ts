import type { Knex } from 'knex';
import type { Db } from './db';
import { prepared } from './pg-direct';
import { insertRow, writes } from './sqlite-direct';

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
}

export async function insertAudit(q: Knex | Knex.Transaction, e: AuditEntry): Promise<void> {
  await q('audit_log').insert(auditRow(e));
}

/** One audit row on its own (a refusal, a zero-cost call): on SQLite without the query builder. */
export async function writeAudit(db: Db, e: AuditEntry): Promise<void> {
  const row = auditRow(e);
  if (db.dialect === 'sqlite') await writes(db).run((conn) => insertRow(conn, 'audit_log', row));
  else {
    const columns = Object.keys(row);
    await prepared(db, `INSERT INTO audit_log (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`, columns.map((c) => row[c] ?? null));
  }
}

/** The audit_log row for an entry, column by column. */
export function auditRow(e: AuditEntry): Record<string, string | number | null> {
  return {
    id: e.id,
    workspace_id: e.workspaceId,
    ts: e.ts,
    key_id: e.keyId,
    key_label: e.keyLabel,
    vendor: e.vendor,
    method: e.method,
    path: e.path,
    decision: e.decision,
    code: e.code,
    message: e.message,
    estimated_micros: e.estimatedMicros,
    reserved_micros: e.reservedMicros,
    window_start: e.windowStart,
    budget_id: e.budgetId,
    budget_window: e.budgetWindow,
    status: e.status,
    latency_ms: e.latencyMs,
    run_id: e.runId,
    conversation_id: e.conversationId,
    user_ref: e.userRef,
    idempotency_key: e.idempotencyKey,
    request_body: e.requestBody,
    reconcile: 0,
  };
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
  code?: string | null;
  message?: string | null;
}

export function completionColumns(o: AuditOutcome): Record<string, string | number | null> {
  const update: Record<string, string | number | null> = {
    status: o.status,
    upstream_status: o.upstreamStatus,
    latency_ms: o.latencyMs,
    settled_micros: o.settledMicros,
    object_id: o.objectId,
    upstream_request_id: o.upstreamRequestId,
    response_body: o.responseBody,
    reconcile: o.reconcile ? 1 : 0,
  };
  if (o.code !== undefined) update.code = o.code;
  if (o.message !== undefined) update.message = o.message;
  return update;
}

