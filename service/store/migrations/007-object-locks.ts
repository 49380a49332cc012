// Calls on one vendor object, one at a time (across instances): a call priced from a lookup of an object, or one
// that changes it, holds the object's lease from before the lookup until its settlement is written. A lease that
// its holder never gave back (a crash) expires.
import type { Migration } from './types';

export const migration: Migration = {
  async up(knex) {
    await knex.schema.createTable('object_locks', (t) => {
      t.string('workspace_id', 64).notNullable();
      t.string('vendor', 64).notNullable();
      t.string('object_id', 255).notNullable();
      t.string('holder', 40).notNullable();
      t.bigInteger('expires_at').notNullable();
      t.primary(['workspace_id', 'vendor', 'object_id']);
    });
  },
  async down(knex) {
    await knex.schema.dropTableIfExists('object_locks');
  },
};
