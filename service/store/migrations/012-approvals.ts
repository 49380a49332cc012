// Approvals (design §3): a call above a key's (or its budget's) approval threshold is reserved and waits for a
// person. The approval row holds what was asked, what was reserved, and who decided what, when; the audit rows of the
// request and of the forwarded call carry its id. A budget's approval rules live in its own policy column.
import type { Migration } from './types';

export const migration: Migration = {
  async up(knex) {
    await knex.schema.createTable('approvals', (t) => {
      t.string('id', 40).primary();
      t.string('workspace_id', 64).notNullable();
      t.string('key_id', 40).notNullable();
      t.string('key_label', 256).notNullable();
      t.string('vendor', 64).notNullable();
      t.string('method', 10).notNullable();
      t.string('path', 1024).notNullable();
      t.string('request_hash', 64).notNullable();
      t.bigInteger('amount_micros').notNullable();
      t.text('summary').notNullable();
      t.string('status', 10).notNullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('expires_at').notNullable();
      t.bigInteger('decided_at').nullable();
      t.string('decided_by', 20).nullable();
      t.text('reason').nullable();
      t.string('request_audit_id', 40).notNullable();
      t.string('used_audit_id', 40).nullable();
      t.text('reserved_caps').notNullable();
      t.bigInteger('reserved_micros').notNullable();
      t.index(['key_id', 'request_hash', 'created_at']);
      t.index(['workspace_id', 'status', 'created_at']);
      t.index(['status', 'expires_at']);
    });
    await knex.schema.alterTable('audit_log', (t) => {
      t.string('approval_id', 40).nullable();
      t.index(['approval_id']);
    });
    await knex.schema.alterTable('budgets', (t) => {
      t.text('policy').nullable();
    });
  },
  async down(knex) {
    await knex.schema.alterTable('budgets', (t) => t.dropColumn('policy'));
    await knex.schema.alterTable('audit_log', (t) => {
      t.dropIndex(['approval_id']);
      t.dropColumn('approval_id');
    });
    await knex.schema.dropTable('approvals');
  },
};
