// Cached keys (the proxy reads a key once, not on every call): every change to a workspace's keys bumps its
// policy epoch, and each reservation checks the epoch its cached key was read under, in the same statement.
// On PostgreSQL audit rows leave room in their pages, so that settling one (an UPDATE of columns that no index
// covers, but for a failure's code) is a heap-only update instead of a new entry in every index.
import type { Migration } from './types';

export const migration: Migration = {
  async up(knex) {
    await knex.schema.alterTable('workspaces', (t) => {
      t.bigInteger('policy_epoch').notNullable().defaultTo(0);
    });
    if (knex.client.config.client === 'pg') await knex.raw('ALTER TABLE audit_log SET (fillfactor = 70)');
  },
  async down(knex) {
    if (knex.client.config.client === 'pg') await knex.raw('ALTER TABLE audit_log RESET (fillfactor)');
    await knex.schema.alterTable('workspaces', (t) => {
      t.dropColumn('policy_epoch');
    });
  },
};
