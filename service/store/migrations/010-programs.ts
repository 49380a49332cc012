// The money path's programs replace the hand-written batch functions: each program of store/steps.ts is compiled to
// a function of its own (store/plpgsql.ts), installed after the migrations under a name that carries a hash of its
// text. This drops the old two; on the way down it drops the compiled ones and restores the old.
import { RESERVE_BATCH } from './006-pg-batches';
import { SETTLE_UPSERT_BATCH } from './008-settle-upserts';
import type { Migration } from './types';

export const migration: Migration = {
  async up(knex) {
    if (knex.client.config.client !== 'pg') return;
    await knex.raw('DROP FUNCTION IF EXISTS kb_settle_batch(jsonb, jsonb)');
    await knex.raw('DROP FUNCTION IF EXISTS kb_reserve_batch(jsonb)');
  },
  async down(knex) {
    if (knex.client.config.client !== 'pg') return;
    const compiled = (await knex.raw("SELECT proname FROM pg_proc WHERE proname ~ '^kb_(reserve|record|settle|resolve|use_approval|decide_approval)_[0-9a-f]{12}$'")) as { rows: { proname: string }[] };
    for (const { proname } of compiled.rows) await knex.raw(`DROP FUNCTION IF EXISTS ${proname}(jsonb)`);
    await knex.raw(RESERVE_BATCH);
    await knex.raw(SETTLE_UPSERT_BATCH.replace('CREATE OR REPLACE FUNCTION', 'CREATE FUNCTION'));
  },
};
