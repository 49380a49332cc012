import type { Knex } from 'knex';
import { parseEndpointPattern, type EndpointPattern } from '../policy/endpoints';
import type { KeyRecord } from '../policy/decide';
import type { KeyPolicy } from '../vendors/types';
import type { Db } from './db';

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
}

function toPatterns(json: string): EndpointPattern[] {
  return (JSON.parse(json) as string[]).map((s) => {
    const p = parseEndpointPattern(s);
    if (typeof p === 'string') throw new Error(`stored endpoint pattern is invalid: ${p}`);
    return p;
  });
}

export function toKey(row: KeyRow): StoredKey {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    vendor: row.vendor,
    label: row.label,
    dailyCapMicros: Number(row.daily_cap_micros),
    allowedEndpoints: toPatterns(row.allowed_endpoints),
    policy: JSON.parse(row.policy) as KeyPolicy,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    createdAt: Number(row.created_at),
    keyPrefix: row.key_prefix,
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
    expires_at: k.expiresAt,
    created_at: k.createdAt,
    revoked_at: null,
  });
}

/** Looks a key up by the hash of the secret the client presented (never by the secret itself). */
export async function findKeyByHash(db: Db, keyHash: string): Promise<StoredKey | undefined> {
  const row = (await db.knex('vault_keys').where({ key_hash: keyHash }).first()) as KeyRow | undefined;
  return row ? toKey(row) : undefined;
}

export async function getKey(db: Db, workspaceId: string, id: string): Promise<StoredKey | undefined> {
  const row = (await db.knex('vault_keys').where({ workspace_id: workspaceId, id }).first()) as KeyRow | undefined;
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
  if (f.label !== undefined) q.where('label', f.label);
  if (f.labelPrefix !== undefined) q.whereRaw("label LIKE ? ESCAPE '\\'", [likePrefix(f.labelPrefix)]);
  if (f.vendor !== undefined) q.where('vendor', f.vendor);
  if (f.status === 'revoked') q.whereNotNull('revoked_at');
  if (f.status === 'active') q.whereNull('revoked_at').andWhere((w) => w.whereNull('expires_at').orWhere('expires_at', '>', f.now));
  if (f.status === 'expired') q.whereNull('revoked_at').andWhere('expires_at', '<=', f.now);
  return q;
}

export async function listKeys(db: Db, workspaceId: string, f: KeyFilter): Promise<StoredKey[]> {
  const q = applyFilter(db.knex('vault_keys').where('workspace_id', workspaceId), f);
  if (f.before) {
    const { createdAt, id } = f.before;
    q.andWhere((w) => w.where('created_at', '<', createdAt).orWhere((w2) => w2.where('created_at', createdAt).andWhere('id', '<', id)));
  }
  const rows = (await q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(f.limit)) as KeyRow[];
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
    }
    return ids;
  });
}
