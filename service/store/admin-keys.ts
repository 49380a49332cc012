import { hashSecret, newAdminKey, safeEqual } from '../crypto';
import { DEFAULT_WORKSPACE } from '../policy/keys';
import type { Db } from './db';

const GENERATED_ID = 'adm_generated';

/**
 * With no KEYBRAKE_ADMIN_KEY, the first start generates an admin key and stores only its hash. Returns the
 * plaintext exactly once, to the instance whose insert won (several may start together on PostgreSQL).
 */
export async function ensureGeneratedAdminKey(db: Db, now: number): Promise<string | undefined> {
  const existing = await db.knex('admin_keys').where({ workspace_id: DEFAULT_WORKSPACE }).whereNull('revoked_at').first('id');
  if (existing) return undefined;
  const key = newAdminKey();
  const inserted = (await db
    .knex('admin_keys')
    .insert({ id: GENERATED_ID, workspace_id: DEFAULT_WORKSPACE, key_hash: hashSecret(key), created_at: now })
    .onConflict('id')
    .ignore()
    .returning('id')) as unknown[];
  return inserted.length > 0 ? key : undefined;
}

/** Finds the workspace an admin key belongs to; every stored hash is compared in constant time. */
export async function workspaceForAdminKey(db: Db, presented: string, envKey: string | undefined): Promise<string | undefined> {
  if (envKey !== undefined) return safeEqual(presented, envKey) ? DEFAULT_WORKSPACE : undefined;
  const hash = hashSecret(presented);
  const rows = (await db.knex('admin_keys').whereNull('revoked_at').select('workspace_id', 'key_hash')) as { workspace_id: string; key_hash: string }[];
  let found: string | undefined;
  for (const row of rows) if (safeEqual(hash, row.key_hash) && found === undefined) found = row.workspace_id;
  return found;
}

