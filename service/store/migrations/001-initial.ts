import type { Migration } from './types';

export const migration: Migration = {
  async up(knex) {
    await knex.schema.createTable('workspaces', (t) => {
      t.string('id', 64).primary();
      t.string('name', 200).notNullable();
      t.bigInteger('created_at').notNullable();
    });
    await knex('workspaces').insert({ id: 'default', name: 'Default workspace', created_at: Date.now() });

    await knex.schema.createTable('admin_keys', (t) => {
      t.string('id', 64).primary();
      t.string('workspace_id', 64).notNullable().references('workspaces.id');
      t.string('key_hash', 64).notNullable().unique();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('revoked_at').nullable();
    });

    await knex.schema.createTable('vendor_credentials', (t) => {
      t.string('workspace_id', 64).notNullable().references('workspaces.id');
      t.string('vendor', 64).notNullable();
      t.text('sealed').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.primary(['workspace_id', 'vendor']);
    });

    await knex.schema.createTable('vault_keys', (t) => {
      t.string('id', 40).primary();
      t.string('workspace_id', 64).notNullable().references('workspaces.id');
      t.string('key_hash', 64).notNullable().unique();
      t.string('key_prefix', 24).notNullable();
      t.string('vendor', 64).notNullable();
      t.string('label', 256).notNullable();
      t.bigInteger('daily_cap_micros').notNullable();
      t.text('allowed_endpoints').notNullable();
      t.text('policy').notNullable();
      t.bigInteger('expires_at').nullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('revoked_at').nullable();
      t.index(['workspace_id', 'created_at', 'id']);
      t.index(['workspace_id', 'label']);
    });

    // One row per (key, window); spent_micros includes open reservations until they settle.
    await knex.schema.createTable('spend_windows', (t) => {
      t.string('subject_id', 40).notNullable();
      t.string('window_start', 32).notNullable();
      t.bigInteger('spent_micros').notNullable();
      t.primary(['subject_id', 'window_start']);
    });

    await knex.schema.createTable('audit_log', (t) => {
      t.string('id', 40).primary();
      t.string('workspace_id', 64).notNullable();
      t.bigInteger('ts').notNullable();
      t.string('key_id', 40).nullable();
      t.string('key_label', 256).nullable();
      t.string('vendor', 64).notNullable();
      t.string('method', 10).notNullable();
      t.string('path', 1024).notNullable();
      t.string('decision', 8).notNullable();
      t.string('code', 40).nullable();
      t.text('message').nullable();
      t.bigInteger('estimated_micros').notNullable();
      t.bigInteger('reserved_micros').notNullable();
      t.bigInteger('settled_micros').nullable();
      t.string('window_start', 32).nullable();
      t.integer('status').nullable();
      t.integer('upstream_status').nullable();
      t.integer('latency_ms').nullable();
      t.string('run_id', 200).nullable();
      t.string('conversation_id', 200).nullable();
      t.string('user_ref', 200).nullable();
      t.string('idempotency_key', 255).nullable();
      t.string('object_id', 255).nullable();
      t.string('upstream_request_id', 255).nullable();
      t.text('request_body').nullable();
      t.text('response_body').nullable();
      t.integer('reconcile').notNullable().defaultTo(0);
      t.index(['workspace_id', 'ts']);
      t.index(['key_id', 'ts']);
    });
  },
  async down(knex) {
    for (const table of ['audit_log', 'spend_windows', 'vault_keys', 'vendor_credentials', 'admin_keys', 'workspaces']) {
      await knex.schema.dropTableIfExists(table);
    }
  },
};
