// Calls that came over MCP (design §3, /mcp): the audit row says so, with the MCP session they belong to.
import type { Migration } from './types';

export const migration: Migration = {
  async up(knex) {
    await knex.schema.alterTable('audit_log', (t) => {
      t.string('channel', 10).nullable();
      t.string('mcp_session', 100).nullable();
    });
  },
  async down(knex) {
    await knex.schema.alterTable('audit_log', (t) => {
      t.dropColumn('mcp_session');
      t.dropColumn('channel');
    });
  },
};
