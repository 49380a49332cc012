
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
  /** How the call came: over MCP (with its session), or (null) over HTTP to the proxy. */
  channel?: 'mcp' | null;
  mcpSession?: string | null;
  /** The approval this call asked for, or was forwarded under. */
  approvalId?: string | null;
}

/** The audit_log columns an entry fills, with their types, in the order of auditValues(). */
export const AUDIT_COLUMNS = [
  ['id', 'text'], ['workspace_id', 'text'], ['ts', 'bigint'], ['key_id', 'text'], ['key_label', 'text'], ['vendor', 'text'], ['method', 'text'],
  ['path', 'text'], ['decision', 'text'], ['code', 'text'], ['message', 'text'], ['estimated_micros', 'bigint'], ['reserved_micros', 'bigint'],
  ['window_start', 'text'], ['budget_id', 'text'], ['budget_window', 'text'], ['status', 'int'], ['latency_ms', 'int'], ['run_id', 'text'],
  ['conversation_id', 'text'], ['user_ref', 'text'], ['idempotency_key', 'text'], ['request_body', 'text'], ['reconcile', 'int'], ['reserved_caps', 'text'],
  ['channel', 'text'], ['mcp_session', 'text'], ['approval_id', 'text'],
] as const;

/** The INSERT of one audit row, one `?` per column. */
export const INSERT_AUDIT = `INSERT INTO audit_log (${AUDIT_COLUMNS.map(([c]) => c).join(', ')}) VALUES (${AUDIT_COLUMNS.map(() => '?').join(', ')})`;

/** An entry's values for INSERT_AUDIT (a plain array: the hot path builds one per call). */
export function auditValues(e: AuditEntry): (string | number | null)[] {
  return [
    e.id, e.workspaceId, e.ts, e.keyId, e.keyLabel, e.vendor, e.method, e.path, e.decision, e.code, e.message,
    e.estimatedMicros, e.reservedMicros, e.windowStart, e.budgetId, e.budgetWindow, e.status, e.latencyMs,
    e.runId, e.conversationId, e.userRef, e.idempotencyKey, e.requestBody, 0, e.reservedCaps ?? null,
    e.channel ?? null, e.mcpSession ?? null, e.approvalId ?? null,
  ];
}

/** The audit_log row for an entry, column by column. */
export function auditRow(e: AuditEntry): Record<string, string | number | null> {
  const values = auditValues(e);
  const row: Record<string, string | number | null> = {};
  AUDIT_COLUMNS.forEach(([c], i) => (row[c] = values[i] ?? null));
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
