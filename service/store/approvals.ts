// Approvals (design §3): a call that waits for a person is reserved against every cap with its approval row
// (RESERVE, steps.ts); a decision moves the row once from the state it may follow (DECIDE_APPROVAL), releasing the
// reservation when the call will never be made; the identical call made again is forwarded under the approval once
// (USE_APPROVAL), and the reservation becomes its own. Each is one conditional statement, so two instances never
// both use one approval, nor approve what was denied.
import type { ApprovalRecord, ApprovalStatus } from '../policy/approvals';
import { auditValues, type AuditEntry } from './audit';
import type { Db } from './db';
import { moneyPath } from './executor';
import { lockKeys, spendRowsOf, type EpochGuard } from './ledger';
import { DECIDE_APPROVAL, USE_APPROVAL } from './steps';

interface ApprovalRow {
  id: string;
  workspace_id: string;
  key_id: string;
  key_label: string;
  vendor: string;
  method: string;
  path: string;
  request_hash: string;
  amount_micros: number | string;
  summary: string;
  status: ApprovalStatus;
  created_at: number | string;
  expires_at: number | string;
  decided_at: number | string | null;
  decided_by: string | null;
  reason: string | null;
  request_audit_id: string;
  used_audit_id: string | null;
  reserved_caps: string;
  reserved_micros: number | string;
}

export interface StoredApproval extends ApprovalRecord {
  workspaceId: string;
  requestHash: string;
  requestAuditId: string;
  usedAuditId: string | null;
  /** The spend rows its amount is reserved against (subject, window), and how much. */
  reservedCaps: [string, string][];
  reservedMicros: number;
}

/** A new approval, as RESERVE writes it with the reservation and the request's audit row. */
export interface NewApproval {
  id: string;
  workspaceId: string;
  keyId: string;
  keyLabel: string;
  vendor: string;
  method: string;
  path: string;
  hash: string;
  amountMicros: number;
  /** JSON: `{basis}`, what was priced. */
  summary: string;
  createdAt: number;
  expiresAt: number;
  auditId: string;
  reservedCaps: string;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toApproval(r: ApprovalRow): StoredApproval {
  const summary = JSON.parse(r.summary) as { basis?: string };
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    keyId: r.key_id,
    keyLabel: r.key_label,
    vendor: r.vendor,
    method: r.method,
    path: r.path,
    requestHash: r.request_hash,
    amountMicros: Number(r.amount_micros),
    basis: summary.basis ?? '',
    status: r.status,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    decidedAt: num(r.decided_at),
    decidedBy: r.decided_by,
    reason: r.reason,
    requestAuditId: r.request_audit_id,
    usedAuditId: r.used_audit_id,
    reservedCaps: JSON.parse(r.reserved_caps) as [string, string][],
    reservedMicros: Number(r.reserved_micros),
  };
}

/** The newest approval asked for this request by this key. */
export async function latestApproval(db: Db, keyId: string, hash: string): Promise<StoredApproval | undefined> {
  const row = (await db.knex('approvals').where({ key_id: keyId, request_hash: hash }).orderBy('created_at', 'desc').orderBy('id', 'desc').first()) as ApprovalRow | undefined;
  return row ? toApproval(row) : undefined;
}

export async function getApproval(db: Db, workspaceId: string, id: string): Promise<StoredApproval | undefined> {
  const row = (await db.knex('approvals').where({ workspace_id: workspaceId, id }).first()) as ApprovalRow | undefined;
  return row ? toApproval(row) : undefined;
}

/** By id alone, for a signed link (which names its approval, not its workspace). */
export async function approvalById(db: Db, id: string): Promise<StoredApproval | undefined> {
  const row = (await db.knex('approvals').where({ id }).first()) as ApprovalRow | undefined;
  return row ? toApproval(row) : undefined;
}

export interface ApprovalFilter {
  status?: ApprovalStatus | undefined;
  keyId?: string | undefined;
  label?: string | undefined;
  /** Newer than this id's row come first; the page starts after it. */
  before?: { createdAt: number; id: string } | undefined;
  limit: number;
}

/** Newest first; a status filter means the status as of `now` (an unswept request past its lifetime is expired). */
export async function listApprovals(db: Db, workspaceId: string, f: ApprovalFilter, now: number): Promise<StoredApproval[]> {
  const q = db.knex('approvals').where({ workspace_id: workspaceId });
  if (f.keyId) q.andWhere({ key_id: f.keyId });
  if (f.label) q.andWhere({ key_label: f.label });
  if (f.status === 'pending' || f.status === 'approved') q.andWhere({ status: f.status }).andWhere('expires_at', '>', now);
  else if (f.status === 'expired') q.andWhere((w) => w.where({ status: 'expired' }).orWhere((x) => x.whereIn('status', ['pending', 'approved']).andWhere('expires_at', '<=', now)));
  else if (f.status) q.andWhere({ status: f.status });
  if (f.before) {
    const b = f.before;
    q.andWhere((w) => w.where('created_at', '<', b.createdAt).orWhere((x) => x.where('created_at', b.createdAt).andWhere('id', '<', b.id)));
  }
  const rows = (await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit)) as ApprovalRow[];
  return rows.map(toApproval);
}

/**
 * Uses an approval for the call it approved, with that call's audit row: unusable when it is no longer approved and
 * unexpired (another call used it, a person withdrew it, it expired); stale when the key was read under an older
 * policy epoch (revoked or changed since), so that the call is decided again with the key as it is now.
 */
export async function useApproval(db: Db, u: { approvalId: string; audit: AuditEntry; now: number; guard?: EpochGuard | undefined }): Promise<'used' | 'unusable' | 'stale'> {
  const item = { approvalId: u.approvalId, auditId: u.audit.id, now: u.now, audit: auditValues(u.audit), guard: u.guard ?? null };
  const o = await moneyPath(db).durable.push({ first: { program: USE_APPROVAL, item } }, []);
  return o?.refused === undefined ? 'used' : o.refused === 'stale' ? 'stale' : 'unusable';
}

export type ApprovalDecision = { to: 'approved'; by: string; reason: string | null } | { to: 'denied'; by: string; reason: string | null; fromApproved: boolean } | { to: 'expired' };

/**
 * Decides an approval, once: approved (from pending, within its lifetime), denied (from pending, or from approved
 * when `fromApproved`, within its lifetime) or expired (pending or approved, past its lifetime). A deny or an expiry
 * releases what it reserved. False when the approval was not in a state the decision may follow.
 */
export async function decideApproval(db: Db, a: StoredApproval, d: ApprovalDecision, now: number): Promise<boolean> {
  const release = d.to !== 'approved';
  const caps = release && a.reservedMicros > 0 ? spendRowsOf(a.reservedCaps) : [];
  const from = d.to === 'expired' ? ['pending', 'approved'] : d.to === 'denied' && d.fromApproved ? ['pending', 'approved'] : ['pending', 'pending'];
  const item = {
    id: a.id,
    to: d.to,
    now,
    by: d.to === 'expired' ? null : d.by,
    reason: d.to === 'expired' ? null : d.reason,
    from,
    // Within the lifetime (expires_at > after, expires_at <= until), or past it for an expiry.
    after: d.to === 'expired' ? -1 : now,
    until: d.to === 'expired' ? now : Number.MAX_SAFE_INTEGER,
    caps,
    delta: -a.reservedMicros,
  };
  const o = await moneyPath(db).durable.push({ first: { program: DECIDE_APPROVAL, item } }, lockKeys(caps));
  return o?.refused === undefined;
}

/**
 * Withdraws what revoked keys still wait for or were approved for: each denied (`by` says why), its reservation
 * released, so that a shared budget does not hold the amount of calls that will never be made.
 */
export async function withdrawApprovals(db: Db, workspaceId: string, keyIds: readonly string[], reason: string, now: number): Promise<number> {
  if (keyIds.length === 0) return 0;
  const rows = (await db.knex('approvals').where({ workspace_id: workspaceId }).whereIn('key_id', keyIds).whereIn('status', ['pending', 'approved']).andWhere('expires_at', '>', now)) as ApprovalRow[];
  let n = 0;
  for (const row of rows) if (await decideApproval(db, toApproval(row), { to: 'denied', by: 'revocation', reason, fromApproved: true }, now)) n++;
  return n;
}

/** Expires the requests past their lifetime, releasing their reservations; a few at a time (housekeeping). */
export async function expireApprovals(db: Db, now: number, limit = 200): Promise<number> {
  const rows = (await db.knex('approvals').whereIn('status', ['pending', 'approved']).andWhere('expires_at', '<=', now).orderBy('expires_at').limit(limit)) as ApprovalRow[];
  let n = 0;
  for (const row of rows) if (await decideApproval(db, toApproval(row), { to: 'expired' }, now)) n++;
  return n;
}
