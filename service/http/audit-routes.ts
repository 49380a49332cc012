// GET /audit (filtered pages, NDJSON and CSV exports of any size), GET /usage, POST /audit/hash, and the webhook
// delivery log. Admin API: mounted behind the admin key.
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Redactor } from '../proxy/redact';
import { AUDIT_COLUMNS, auditExport, auditPage, usage, type AuditFilter, type AuditRow, type UsageGroup } from '../store/audit-query';
import type { Db } from '../store/db';
import { deliveries, MAILTO } from '../store/outbox';
import { microsToUsd } from '../vendors/currency';
import { decodeCursor, encodeCursor, parseOrThrow } from './validate';

const instant = z
  .string()
  .transform((v, ctx) => {
    const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (!Number.isFinite(ms)) ctx.addIssue({ code: 'custom', message: 'an ISO 8601 time or epoch milliseconds' });
    return ms;
  })
  .optional();

const filterFields = {
  key_id: z.string().optional(),
  label: z.string().optional(),
  label_prefix: z.string().min(1).optional(),
  vendor: z.string().optional(),
  decision: z.enum(['allow', 'deny']).optional(),
  code: z.string().optional(),
  run_id: z.string().optional(),
  conversation_id: z.string().optional(),
  from: instant,
  to: instant,
  reconcile: z.enum(['pending', 'manual', 'settled', 'released', 'any']).optional(),
  approval_id: z.string().optional(),
};

const AuditQuery = z
  .object({ ...filterFields, limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().optional(), format: z.enum(['json', 'ndjson', 'csv']).default('json') })
  .strict();
const UsageQuery = z.object({ ...filterFields, group_by: z.enum(['day', 'key', 'label', 'vendor', 'budget', 'code']).default('day') }).strict();
const DeliveriesQuery = z
  .object({
    status: z.enum(['pending', 'delivered', 'failed']).optional(),
    type: z.string().optional(),
    key_id: z.string().optional(),
    channel: z.enum(['webhook', 'email']).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

function toFilter(q: z.infer<typeof AuditQuery> | z.infer<typeof UsageQuery>): AuditFilter {
  const f: AuditFilter = {};
  if (q.key_id !== undefined) f.keyId = q.key_id;
  if (q.label !== undefined) f.label = q.label;
  if (q.label_prefix !== undefined) f.labelPrefix = q.label_prefix;
  if (q.vendor !== undefined) f.vendor = q.vendor;
  if (q.decision !== undefined) f.decision = q.decision;
  if (q.code !== undefined) f.code = q.code;
  if (q.run_id !== undefined) f.runId = q.run_id;
  if (q.conversation_id !== undefined) f.conversationId = q.conversation_id;
  if (q.from !== undefined) f.from = q.from;
  if (q.to !== undefined) f.to = q.to;
  if (q.reconcile !== undefined) f.reconcile = q.reconcile;
  if (q.approval_id !== undefined) f.approvalId = q.approval_id;
  return f;
}

const usd = (v: string | number | null): number | null => (v === null ? null : microsToUsd(Number(v)));

/** An audit row as the API shows it: times in ISO 8601, money in US dollars. */
export function auditView(r: AuditRow): Record<string, unknown> {
  return {
    id: r.id,
    time: new Date(Number(r.ts)).toISOString(),
    key_id: r.key_id,
    label: r.key_label,
    vendor: r.vendor,
    method: r.method,
    path: r.path,
    decision: r.decision,
    code: r.code,
    message: r.message,
    status: r.status,
    upstream_status: r.upstream_status,
    estimated_usd: usd(r.estimated_micros),
    reserved_usd: usd(r.reserved_micros),
    settled_usd: usd(r.settled_micros),
    reconcile: Number(r.reconcile) === 1,
    reconcile_state: r.reconcile_state,
    reconcile_attempts: r.reconcile_attempts === null ? 0 : Number(r.reconcile_attempts),
    reconcile_next_at: r.reconcile_next_at === null ? null : new Date(Number(r.reconcile_next_at)).toISOString(),
    reconcile_note: r.reconcile_note,
    window: r.window_start,
    budget_id: r.budget_id,
    latency_ms: r.latency_ms,
    run_id: r.run_id,
    conversation_id: r.conversation_id,
    user: r.user_ref,
    idempotency_key: r.idempotency_key,
    object_id: r.object_id,
    upstream_request_id: r.upstream_request_id,
    channel: r.channel ?? 'http',
    mcp_session_id: r.mcp_session,
    approval_id: r.approval_id,
    request_body: r.request_body,
    response_body: r.response_body,
  };
}

const CSV_FIELDS = Object.keys(auditView(Object.fromEntries(AUDIT_COLUMNS.map((c) => [c, null])) as AuditRow));

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  // Quote everything that could break a row, and defuse spreadsheet formulas.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}


async function writeOrWait(res: Response, chunk: string): Promise<void> {
  if (!res.write(chunk)) await new Promise((ok) => res.once('drain', ok));
}

export function createAuditRouter(deps: { db: Db; redactor: Redactor; workspace: (req: Request) => string }): Router {
  const { db, workspace } = deps;
  const router = Router();

  router.get('/audit', async (req, res) => {
    const q = parseOrThrow(AuditQuery, req.query);
    const filter = toFilter(q);
    if (q.format === 'json') {
      const after = q.cursor ? decodeCursor(q.cursor) : undefined;
      const rows = await auditPage(db, workspace(req), filter, q.limit + 1, after && { ts: after.at, id: after.id });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      res.json({ data: page.map(auditView), next_cursor: rows.length > q.limit && last ? encodeCursor(Number(last.ts), String(last.id)) : null });
      return;
    }
    // Exports stream every matching row, oldest first, in bounded batches with back-pressure.
    const csv = q.format === 'csv';
    res.status(200).type(csv ? 'text/csv' : 'application/x-ndjson');
    res.setHeader('content-disposition', `attachment; filename="keybrake-audit.${csv ? 'csv' : 'ndjson'}"`);
    if (csv) await writeOrWait(res, CSV_FIELDS.join(',') + '\n');
    for await (const row of auditExport(db, workspace(req), filter)) {
      const view = auditView(row);
      await writeOrWait(res, csv ? CSV_FIELDS.map((f) => csvCell(view[f])).join(',') + '\n' : JSON.stringify(view) + '\n');
    }
    res.end();
  });

  router.get('/usage', async (req, res) => {
    const q = parseOrThrow(UsageQuery, req.query);
    const rows = await usage(db, workspace(req), q.group_by as UsageGroup, toFilter(q));
    const name = { day: 'day', key: 'key_id', label: 'label', vendor: 'vendor', budget: 'budget_id', code: 'code' }[q.group_by];
    res.json({
      group_by: q.group_by,
      data: rows.map((r) => ({ [name]: r.group, spent_usd: microsToUsd(r.spent_micros), requests: r.requests, allowed: r.allowed, denied: r.denied })),
    });
  });

  router.post('/audit/hash', (req, res) => {
    const body = parseOrThrow(z.object({ value: z.string().min(1).max(10_000) }).strict(), req.body ?? {});
    res.json({ hmac: deps.redactor.hash(body.value) });
  });

  router.get('/webhooks/deliveries', async (req, res) => {
    const q = parseOrThrow(DeliveriesQuery, req.query);
    const { rows, attempts } = await deliveries(db, workspace(req), q);
    const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(Number(v)).toISOString());
    res.json({
      data: rows.map((r) => ({
        id: r.id,
        event_id: r.event_id,
        type: r.type,
        key_id: r.key_id,
        channel: String(r.url).startsWith(MAILTO) ? 'email' : 'webhook',
        url: r.url,
        status: r.status,
        attempts: Number(r.attempts),
        last_status: r.last_status,
        last_error: r.last_error,
        created_at: iso(r.created_at),
        delivered_at: iso(r.delivered_at),
        next_attempt_at: r.status === 'pending' ? iso(r.next_attempt_at) : null,
        event: JSON.parse(String(r.payload)) as unknown,
        attempt_log: attempts.filter((a) => a.outbox_id === r.id).map((a) => ({ at: iso(a.at), status: a.status, error: a.error, duration_ms: a.duration_ms })),
      })),
    });
  });

  return router;
}
