// What Keybrake already counted against caps for each vendor object (a payment intent created with an amount and
// confirmed later is counted once).
import type { Knex } from 'knex';
import type { Db } from './db';

export async function countedFor(db: Db, workspaceId: string, vendor: string, ids: string[]): Promise<Record<string, number>> {
  if (ids.length === 0) return {};
  const rows = (await db.knex('counted_objects').where({ workspace_id: workspaceId, vendor }).whereIn('object_id', ids).select('object_id', 'counted_micros')) as {
    object_id: string;
    counted_micros: number;
  }[];
  return Object.fromEntries(rows.map((r) => [r.object_id, Number(r.counted_micros)]));
}

export async function addCounted(trx: Knex.Transaction, workspaceId: string, vendor: string, objectId: string, micros: number, now: number): Promise<void> {
  await trx.raw(
    `INSERT INTO counted_objects (workspace_id, vendor, object_id, counted_micros, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (workspace_id, vendor, object_id) DO UPDATE
       SET counted_micros = counted_objects.counted_micros + excluded.counted_micros, updated_at = excluded.updated_at`,
    [workspaceId, vendor, objectId.slice(0, 255), micros, now],
  );
}
