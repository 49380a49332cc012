// Audit search (the indexes GET /audit's filters use) and webhook alerts: events (each one once, by its key),
// a durable outbox with one row per event and target, and every delivery attempt.
import type { Migration } from './types';

export const migration: Migration = {
  async up(knex) {
    // Every index is written on every proxied call. PostgreSQL, where audit trails grow to millions of rows, gets
    // one per filter; SQLite (one process, a team's traffic) keeps its writes light and scans by time instead.
    if (knex.client.config.client === 'pg') {
      await knex.schema.alterTable('audit_log', (t) => {
        t.index(['workspace_id', 'vendor', 'ts']);
        t.index(['workspace_id', 'code', 'ts']);
        t.index(['run_id']);
        t.index(['conversation_id']);
      });
      // label filters are = or LIKE 'prefix%': under a non-C collation only a pattern_ops index serves a prefix.
      // decision rides along in it; on its own (two values) it is better served by the (workspace_id, ts) scan.
      await knex.raw('CREATE INDEX audit_log_label_prefix ON audit_log (workspace_id, key_label text_pattern_ops, decision, ts)');
    }
    await knex.schema.createTable('webhook_events', (t) => {
      t.string('id', 40).primary();
      t.string('workspace_id', 64).notNullable();
      t.string('event_key', 255).notNullable().unique();
      t.string('type', 40).notNullable();
      t.string('key_id', 40).nullable();
      t.text('payload').notNullable();
      t.bigInteger('created_at').notNullable();
    });
    await knex.schema.createTable('webhook_outbox', (t) => {
      t.string('id', 40).primary();
      t.string('event_id', 40).notNullable();
      t.string('workspace_id', 64).notNullable();
      t.text('url').notNullable();
      t.string('status', 12).notNullable();
      t.integer('attempts').notNullable().defaultTo(0);
      t.bigInteger('next_attempt_at').notNullable();
      t.integer('last_status').nullable();
      t.text('last_error').nullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('delivered_at').nullable();
      t.index(['status', 'next_attempt_at']);
      t.index(['workspace_id', 'created_at']);
    });
    await knex.schema.createTable('webhook_attempts', (t) => {
      t.string('id', 40).primary();
      t.string('outbox_id', 40).notNullable();
      t.bigInteger('at').notNullable();
      t.integer('status').nullable();
      t.text('error').nullable();
      t.integer('duration_ms').notNullable();
      t.index(['outbox_id', 'at']);
    });
  },
  async down(knex) {
    await knex.schema.dropTableIfExists('webhook_attempts');
    await knex.schema.dropTableIfExists('webhook_outbox');
    await knex.schema.dropTableIfExists('webhook_events');
    if (knex.client.config.client === 'pg') {
      await knex.raw('DROP INDEX IF EXISTS audit_log_label_prefix');
      await knex.schema.alterTable('audit_log', (t) => {
        t.dropIndex(['workspace_id', 'vendor', 'ts']);
        t.dropIndex(['workspace_id', 'code', 'ts']);
        t.dropIndex(['run_id']);
        t.dropIndex(['conversation_id']);
      });
    }
  },
};
