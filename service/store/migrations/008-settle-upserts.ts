// A call reserved at $0 may still move money (the vendor reports it in its answer): its settlement adds to a spend
// row that may not exist yet, so kb_settle_batch upserts instead of updating.
import { SETTLE_BATCH } from './006-pg-batches';
import type { Migration } from './types';

const UPDATE = 'UPDATE spend_windows SET spent_micros = spent_micros + (a->>2)::bigint WHERE subject_id = a->>0 AND window_start = a->>1;';
const UPSERT = `INSERT INTO spend_windows (subject_id, window_start, spent_micros) VALUES (a->>0, a->>1, (a->>2)::bigint)
            ON CONFLICT (subject_id, window_start) DO UPDATE SET spent_micros = spend_windows.spent_micros + excluded.spent_micros;`;

/** kb_settle_batch as this migration made it (migration 010 drops it and restores it on the way down). */
export const SETTLE_UPSERT_BATCH = SETTLE_BATCH.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION').replace(UPDATE, UPSERT);

export const migration: Migration = {
  async up(knex) {
    if (knex.client.config.client !== 'pg') return;
    if (!SETTLE_BATCH.includes(UPDATE)) throw new Error('kb_settle_batch is not the one migration 006 made');
    await knex.raw(SETTLE_UPSERT_BATCH);
  },
  async down(knex) {
    if (knex.client.config.client !== 'pg') return;
    await knex.raw(SETTLE_BATCH.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'));
  },
};
