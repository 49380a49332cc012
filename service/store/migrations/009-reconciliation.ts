// Reconciliation of calls whose outcome is unknown (a timeout, a reset, a 5xx; a settlement that never got
// written): the row records the caps it reserved against, where its reconciliation stands, when it is next due,
// how many times the vendor was asked, and what was found and done (by the reconciler or by a person).
import type { Migration } from './types';

export const migration: Migration = {
  async up(knex) {
    await knex.schema.alterTable('audit_log', (t) => {
      t.text('reserved_caps').nullable();
      t.string('reconcile_state', 12).nullable();
      t.integer('reconcile_attempts').nullable();
      t.bigInteger('reconcile_next_at').nullable();
      t.text('reconcile_note').nullable();
      t.index(['reconcile_state', 'reconcile_next_at']);
    });
  },
  async down(knex) {
    await knex.schema.alterTable('audit_log', (t) => {
      t.dropIndex(['reconcile_state', 'reconcile_next_at']);
      for (const c of ['reconcile_note', 'reconcile_next_at', 'reconcile_attempts', 'reconcile_state', 'reserved_caps']) t.dropColumn(c);
    });
  },
};
