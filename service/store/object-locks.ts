// Leases on vendor objects (migration 007): a conditional upsert takes a free or expired lease, so that exactly
// one call at a time, on any instance, holds an object.
import type { Db } from './db';
import { rowsOf } from './db';

export interface ObjectLock {
  workspaceId: string;
  vendor: string;
  objectId: string;
  /** Who holds it: the call's audit id. */
  holder: string;
}

const TAKE = `INSERT INTO object_locks (workspace_id, vendor, object_id, holder, expires_at) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (workspace_id, vendor, object_id) DO UPDATE
                SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE object_locks.expires_at < ? OR object_locks.holder = excluded.holder
              RETURNING holder`;

/** Takes the lease until `expiresAt` if it is free or expired; false while another call holds it. */
export async function tryLock(db: Db, lock: ObjectLock, now: number, expiresAt: number): Promise<boolean> {
  const result = await db.knex.raw(TAKE, [lock.workspaceId, lock.vendor, lock.objectId.slice(0, 255), lock.holder, expiresAt, now]);
  return rowsOf(db.dialect, result).length > 0;
}

/** Gives the lease back (only its holder can). */
export async function unlock(db: Db, lock: ObjectLock): Promise<void> {
  await db.knex('object_locks').where({ workspace_id: lock.workspaceId, vendor: lock.vendor, object_id: lock.objectId.slice(0, 255), holder: lock.holder }).del();
}

/** Drops leases that expired long ago (their holders crashed); called with the other housekeeping. */
export async function purgeLocks(db: Db, now: number): Promise<number> {
  return db.knex('object_locks').where('expires_at', '<', now - 60_000).del();
}
