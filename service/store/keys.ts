import type { Knex } from 'knex';
import { parseEndpointPattern, type EndpointPattern } from '../vendors/endpoints';
import type { ApprovalRules, BudgetRecord, KeyRecord } from '../policy/keys';
import type { KeyPolicy } from '../vendors/types';
import type { Db } from './db';
import { prepared } from './pg-direct';
import { stmt, withConnection } from './sqlite-direct';

export interface KeyRow {
  id: string;
  workspace_id: string;
  key_hash: string;
  key_prefix: string;
  vendor: string;
  label: string;
  daily_cap_micros: number;
  allowed_endpoints: string;
  policy: string;
  expires_at: number | null;
  created_at: number;
  revoked_at: number | null;
}

export interface StoredKey extends KeyRecord {
  keyPrefix: string;
  /** The workspace's policy epoch when this key was read (see bumpEpoch). */
  epoch: number;
}

interface BudgetColumns {
  b_id?: string | null;
  b_label?: string | null;
  b_daily_cap_micros?: number | null;
  b_timezone?: string | null;
  b_policy?: string | null;
  w_epoch?: number | string | null;
}

function toPattern(source: string): EndpointPattern {
  const p = parseEndpointPattern(source);
  if (typeof p === 'string') throw new Error(`stored endpoint pattern is invalid: ${p}`);
  return p;
}

/** A budget's approval rules, from its policy column (store/budgets.ts writes it). */
export function budgetApproval(policy: string | null | undefined): ApprovalRules | undefined {
  if (!policy) return undefined;
  const p = JSON.parse(policy) as { approval_above_micros?: number; approval_endpoints?: string[] };
  if (p.approval_above_micros === undefined && !p.approval_endpoints) return undefined;
  return { aboveMicros: p.approval_above_micros, endpoints: p.approval_endpoints?.map(toPattern) };
}

function toBudget(row: BudgetColumns): BudgetRecord | null {
  if (!row.b_id) return null;
  return { id: row.b_id, label: row.b_label ?? '', dailyCapMicros: Number(row.b_daily_cap_micros), timezone: row.b_timezone ?? 'UTC', approval: budgetApproval(row.b_policy) };
}

export function toKey(row: KeyRow & BudgetColumns): StoredKey {
  const policy = JSON.parse(row.policy) as KeyPolicy;
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    vendor: row.vendor,
    label: row.label,
    dailyCapMicros: Number(row.daily_cap_micros),
    allowedEndpoints: (JSON.parse(row.allowed_endpoints) as string[]).map(toPattern),
    policy,
    paramRules: Object.entries(policy.params ?? {}).map(([source, fields]) => ({ pattern: toPattern(source), fields })),
    approvalEndpoints: (policy.approval_endpoints ?? []).map(toPattern),
    budget: toBudget(row),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    createdAt: Number(row.created_at),
    keyPrefix: row.key_prefix,
    epoch: Number(row.w_epoch ?? 0),
  };
}

export interface NewKey {
  id: string;
  workspaceId: string;
  keyHash: string;
  keyPrefix: string;
  vendor: string;
  label: string;
  dailyCapMicros: number;
  allowedEndpoints: string[];
  policy: KeyPolicy;
  expiresAt: number | null;
  createdAt: number;
}

export async function insertKey(db: Db, k: NewKey): Promise<void> {
  await db.knex('vault_keys').insert({
    id: k.id,
    workspace_id: k.workspaceId,
    key_hash: k.keyHash,
    key_prefix: k.keyPrefix,
    vendor: k.vendor,
    label: k.label,
    daily_cap_micros: k.dailyCapMicros,
    allowed_endpoints: JSON.stringify(k.allowedEndpoints),
    policy: JSON.stringify(k.policy),
    budget_id: k.policy.budget ?? null,
    expires_at: k.expiresAt,
    created_at: k.createdAt,
    revoked_at: null,
  });
}

export interface KeyUpdate {
  label?: string;
  dailyCapMicros?: number;
  allowedEndpoints?: string[];
  expiresAt?: number | null;
  policy?: KeyPolicy;
}

/**
 * Marks every cached copy of the workspace's keys as stale, in the transaction that changes them: a reservation
 * made under an older epoch is refused by the store, and the proxy reads the key afresh (store/ledger.ts).
 */
export async function bumpEpoch(trx: Knex.Transaction, workspaceId: string): Promise<void> {
  await trx('workspaces').where({ id: workspaceId }).increment('policy_epoch', 1);
}

/** Applies a policy change; the next request on every instance sees it (the epoch). False for an unknown key. */
export async function updateKey(db: Db, workspaceId: string, id: string, u: KeyUpdate): Promise<boolean> {
  const row: Record<string, unknown> = {};
  if (u.label !== undefined) row.label = u.label;
  if (u.dailyCapMicros !== undefined) row.daily_cap_micros = u.dailyCapMicros;
  if (u.allowedEndpoints !== undefined) row.allowed_endpoints = JSON.stringify(u.allowedEndpoints);
  if (u.expiresAt !== undefined) row.expires_at = u.expiresAt;
  if (u.policy !== undefined) {
    row.policy = JSON.stringify(u.policy);
    row.budget_id = u.policy.budget ?? null;
  }
  if (Object.keys(row).length === 0) return (await getKey(db, workspaceId, id)) !== undefined;
  return db.knex.transaction(async (trx) => {
    const changed = (await trx('vault_keys').where({ workspace_id: workspaceId, id }).update(row)) > 0;
    if (changed) await bumpEpoch(trx, workspaceId);
    return changed;
  });
}

/** Keys with the shared budget they draw from, in one query (the hot path's only read). */
function keysWithBudget(db: Db): Knex.QueryBuilder {
  return db
    .knex('vault_keys as k')
    .leftJoin('budgets as b', 'b.id', 'k.budget_id')
    .select('k.*', 'b.id as b_id', 'b.label as b_label', 'b.daily_cap_micros as b_daily_cap_micros', 'b.timezone as b_timezone', 'b.policy as b_policy');
}

const KEY_BY_HASH = `SELECT k.*, b.id AS b_id, b.label AS b_label, b.daily_cap_micros AS b_daily_cap_micros, b.timezone AS b_timezone, b.policy AS b_policy,
    w.policy_epoch AS w_epoch
  FROM vault_keys k JOIN workspaces w ON w.id = k.workspace_id LEFT JOIN budgets b ON b.id = k.budget_id WHERE k.key_hash = ?`;

/** Looks a key up by the hash of the secret the client presented (never by the secret itself), with its epoch. */
export async function findKeyByHash(db: Db, keyHash: string): Promise<StoredKey | undefined> {
  const row =
    db.dialect === 'sqlite'
      ? ((await withConnection(db, (conn) => stmt(conn, KEY_BY_HASH).get(keyHash))) as (KeyRow & BudgetColumns) | undefined)
      : ((await prepared(db, KEY_BY_HASH, [keyHash]))[0] as (KeyRow & BudgetColumns) | undefined);
  return row ? toKey(row) : undefined;
}

export async function getKey(db: Db, workspaceId: string, id: string): Promise<StoredKey | undefined> {
  const row = (await keysWithBudget(db).where({ 'k.workspace_id': workspaceId, 'k.id': id }).first()) as (KeyRow & BudgetColumns) | undefined;
  return row ? toKey(row) : undefined;
}

export interface KeyFilter {
  label?: string;
  labelPrefix?: string;
  vendor?: string;
  status?: 'active' | 'revoked' | 'expired';
  /** Keys created strictly before this (created_at, id), newest first. */
  before?: { createdAt: number; id: string };
  limit: number;
  now: number;
}

/** Escapes LIKE wildcards so that a label prefix is taken literally. */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function applyFilter(q: Knex.QueryBuilder, f: Omit<KeyFilter, 'limit' | 'before'>): Knex.QueryBuilder {
  if (f.label !== undefined) q.where('k.label', f.label);
  if (f.labelPrefix !== undefined) q.whereRaw("k.label LIKE ? ESCAPE '\\'", [likePrefix(f.labelPrefix)]);
  if (f.vendor !== undefined) q.where('k.vendor', f.vendor);
  if (f.status === 'revoked') q.whereNotNull('k.revoked_at');
  if (f.status === 'active') q.whereNull('k.revoked_at').andWhere((w) => w.whereNull('k.expires_at').orWhere('k.expires_at', '>', f.now));
  if (f.status === 'expired') q.whereNull('k.revoked_at').andWhere('k.expires_at', '<=', f.now);
  return q;
}

export async function listKeys(db: Db, workspaceId: string, f: KeyFilter): Promise<StoredKey[]> {
  const q = applyFilter(keysWithBudget(db).where('k.workspace_id', workspaceId), f);
  if (f.before) {
    const { createdAt, id } = f.before;
    q.andWhere((w) => w.where('k.created_at', '<', createdAt).orWhere((w2) => w2.where('k.created_at', createdAt).andWhere('k.id', '<', id)));
  }
  const rows = (await q.orderBy([{ column: 'k.created_at', order: 'desc' }, { column: 'k.id', order: 'desc' }]).limit(f.limit)) as (KeyRow & BudgetColumns)[];
  return rows.map(toKey);
}

/** Revokes keys by id or label prefix; returns the ids that this call revoked (already revoked ones are left). */
export async function revokeKeys(db: Db, workspaceId: string, by: { ids: string[] } | { labelPrefix: string }, now: number): Promise<string[]> {
  return db.knex.transaction(async (trx) => {
    const q = trx('vault_keys').where('workspace_id', workspaceId).whereNull('revoked_at');
    if ('ids' in by) q.whereIn('id', by.ids);
    else q.whereRaw("label LIKE ? ESCAPE '\\'", [likePrefix(by.labelPrefix)]);
    const ids = ((await q.clone().select('id')) as { id: string }[]).map((r) => r.id);
    if (ids.length > 0) {
      await trx('vault_keys').where('workspace_id', workspaceId).whereIn('id', ids).whereNull('revoked_at').update({ revoked_at: now });
      await bumpEpoch(trx, workspaceId);
    }
    return ids;
  });
}
