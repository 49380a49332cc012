// What Keybrake already counted against caps for each vendor object (a payment intent created with an amount and
// confirmed later is counted once).
import type { Db } from './db';

export async function countedFor(db: Db, workspaceId: string, vendor: string, ids: string[]): Promise<Record<string, number>> {
  if (ids.length === 0) return {};
  const rows = (await db.knex('counted_objects').where({ workspace_id: workspaceId, vendor }).whereIn('object_id', ids).select('object_id', 'counted_micros')) as {
    object_id: string;
    counted_micros: number;
  }[];
  return Object.fromEntries(rows.map((r) => [r.object_id, Number(r.counted_micros)]));
}
