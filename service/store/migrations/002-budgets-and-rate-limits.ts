// Policy depth: shared budgets, per-minute rate windows, and the budget a reservation also drew from.
import type { Migration } from './types';

export const migration: Migration = {
  async up(knex) {
    await knex.schema.createTable('budgets', (t) => {
      t.string('id', 40).primary();
      t.string('workspace_id', 64).notNullable().references('workspaces.id');
      t.string('label', 256).notNullable();
      t.bigInteger('daily_cap_micros').notNullable();
      t.string('timezone', 64).notNullable();
      t.bigInteger('created_at').notNullable();
      t.index(['workspace_id', 'created_at']);
    });
    await knex.schema.createTable('rate_windows', (t) => {
      t.string('subject_id', 40).notNullable();
      t.string('window_start', 32).notNullable();
      t.integer('requests').notNullable();
      t.bigInteger('expires_at').notNullable();
      t.primary(['subject_id', 'window_start']);
      t.index(['expires_at']);
    });
    await knex.schema.alterTable('audit_log', (t) => {
      t.string('budget_id', 40).nullable();
      t.string('budget_window', 32).nullable();
      t.index(['budget_id', 'budget_window']);
    });
    await knex.schema.alterTable('vault_keys', (t) => {
      t.string('budget_id', 40).nullable();
      t.index(['budget_id']);
    });
  },
  async down(knex) {
    await knex.schema.alterTable('vault_keys', (t) => {
      t.dropIndex(['budget_id']);
      t.dropColumn('budget_id');
    });
    await knex.schema.alterTable('audit_log', (t) => {
      t.dropIndex(['budget_id', 'budget_window']);
      t.dropColumn('budget_window');
      t.dropColumn('budget_id');
    });
    await knex.schema.dropTableIfExists('rate_windows');
    await knex.schema.dropTableIfExists('budgets');
  },
};
