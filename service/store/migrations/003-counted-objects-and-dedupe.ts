// Duplicate protection and create-then-confirm: what was already counted per vendor object, and recent
// money-moving requests by content hash (responses sealed under the master key, kept for the dedupe window).
import type { Migration } from './types';

export const migration: Migration = {
  async up(knex) {
    await knex.schema.createTable('counted_objects', (t) => {
      t.string('workspace_id', 64).notNullable();
      t.string('vendor', 64).notNullable();
      t.string('object_id', 255).notNullable();
      t.bigInteger('counted_micros').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.primary(['workspace_id', 'vendor', 'object_id']);
    });
    await knex.schema.createTable('dedupe', (t) => {
      t.string('key_id', 40).notNullable();
      t.string('request_hash', 64).notNullable();
      t.bigInteger('created_at').notNullable();
      t.string('audit_id', 40).notNullable();
      t.string('idempotency_key', 80).notNullable();
      t.integer('status').nullable();
      t.text('response').nullable();
      t.primary(['key_id', 'request_hash']);
      t.index(['created_at']);
    });
  },
  async down(knex) {
    await knex.schema.dropTableIfExists('dedupe');
    await knex.schema.dropTableIfExists('counted_objects');
  },
};
