// Group commit on PostgreSQL: the calls that arrive together are reserved by one function call, one transaction
// and one durable commit instead of one each; each item is still its own conditional upsert, taken in order, and
// its audit row is written only when its reservation stands. Their settlements likewise go in one call, committed
// without waiting for the WAL flush (store/pg-direct.ts).
import type { Migration } from './types';

/** kb_settle_batch as this migration made it (migration 008 replaces it and restores it on the way down). */
export const SETTLE_BATCH = `
      CREATE FUNCTION kb_settle_batch(adjust jsonb, items jsonb) RETURNS void
      LANGUAGE plpgsql AS $fn$
      DECLARE
        a jsonb;
        item jsonb;
        c jsonb;
      BEGIN
        -- A lost settlement leaves its reservation standing: over-counting, never under-counting.
        PERFORM set_config('synchronous_commit', 'off', true);
        FOR a IN SELECT value FROM jsonb_array_elements(adjust) LOOP
          UPDATE spend_windows SET spent_micros = spent_micros + (a->>2)::bigint WHERE subject_id = a->>0 AND window_start = a->>1;
        END LOOP;
        FOR item IN SELECT value FROM jsonb_array_elements(items) LOOP
          IF item->'counted' IS NOT NULL THEN
            c := item->'counted';
            INSERT INTO counted_objects (workspace_id, vendor, object_id, counted_micros, updated_at)
              VALUES (c->>'workspace_id', c->>'vendor', c->>'object_id', (c->>'micros')::bigint, (item->>'now')::bigint)
            ON CONFLICT (workspace_id, vendor, object_id) DO UPDATE
              SET counted_micros = counted_objects.counted_micros + excluded.counted_micros, updated_at = excluded.updated_at;
          END IF;
          IF item->'dedupe' IS NOT NULL THEN
            c := item->'dedupe';
            UPDATE dedupe SET status = (c->>'status')::int, response = c->>'response'
              WHERE key_id = c->>'key_id' AND request_hash = c->>'hash' AND audit_id = item->>'audit_id';
          END IF;
          c := item->'columns';
          UPDATE audit_log SET
              status = (c->>'status')::int, upstream_status = (c->>'upstream_status')::int, latency_ms = (c->>'latency_ms')::int,
              settled_micros = (c->>'settled_micros')::bigint, object_id = c->>'object_id', upstream_request_id = c->>'upstream_request_id',
              response_body = c->>'response_body', reconcile = COALESCE((c->>'reconcile')::int, 0),
              code = COALESCE(c->>'code', code), message = COALESCE(c->>'message', message)
            WHERE id = item->>'audit_id';
        END LOOP;
      END
      $fn$`;

/** kb_reserve_batch as this migration made it (migration 010 drops it and restores it on the way down). */
export const RESERVE_BATCH = `
      CREATE FUNCTION kb_reserve_batch(items jsonb) RETURNS TABLE (n int, spent bigint, stale boolean)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        item jsonb;
        i int := 0;
        current_epoch bigint;
        got bigint;
      BEGIN
        FOR item IN SELECT value FROM jsonb_array_elements(items) LOOP
          n := i;
          i := i + 1;
          spent := NULL;
          stale := false;
          IF item->>'epoch' IS NOT NULL THEN
            SELECT policy_epoch INTO current_epoch FROM workspaces WHERE id = item->>'workspace_id';
            IF current_epoch IS DISTINCT FROM (item->>'epoch')::bigint THEN
              stale := true;
              RETURN NEXT;
              CONTINUE;
            END IF;
          END IF;
          IF (item->>'micros')::bigint > 0 THEN
            INSERT INTO spend_windows (subject_id, window_start, spent_micros)
              VALUES (item->>'subject_id', item->>'window_start', (item->>'micros')::bigint)
            ON CONFLICT (subject_id, window_start) DO UPDATE
              SET spent_micros = spend_windows.spent_micros + excluded.spent_micros
              WHERE spend_windows.spent_micros + excluded.spent_micros <= (item->>'cap')::bigint
            RETURNING spend_windows.spent_micros INTO got;
            IF got IS NULL THEN
              RETURN NEXT;
              CONTINUE;
            END IF;
            spent := got;
          ELSE
            spent := 0;
          END IF;
          INSERT INTO audit_log SELECT * FROM jsonb_populate_record(NULL::audit_log, item->'row');
          RETURN NEXT;
        END LOOP;
      END
      $fn$`;

export const migration: Migration = {
  async up(knex) {
    if (knex.client.config.client !== 'pg') return;
    await knex.raw(RESERVE_BATCH);
    await knex.raw(SETTLE_BATCH);
  },
  async down(knex) {
    if (knex.client.config.client !== 'pg') return;
    await knex.raw('DROP FUNCTION IF EXISTS kb_settle_batch(jsonb, jsonb)');
    await knex.raw('DROP FUNCTION IF EXISTS kb_reserve_batch(jsonb)');
  },
};
