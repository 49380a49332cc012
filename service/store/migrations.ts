// Schema migrations, kept in code (not globbed from disk) so they run the same from ts-jest, tsx and dist/.
// Times are epoch milliseconds and money is integer micro-USD (1e-6 USD) in BIGINT columns, on both databases.
// Every row belongs to a workspace (design §8); there is one, 'default', for now.
import type { Knex } from 'knex';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const migrations: Record<string, Migration> = {
  '001_initial': {
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
  },
};

const source: Knex.MigrationSource<string> = {
  getMigrations: () => Promise.resolve(Object.keys(migrations).sort()),
  getMigrationName: (name) => name,
  getMigration: (name) => Promise.resolve(migrations[name] as Migration),
};

/**
 * Runs pending migrations. Several instances may start at once against one PostgreSQL: knex's lock makes the
 * losers fail fast, so they wait and retry until the winner has finished.
 */
export async function migrate(knex: Knex, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await knex.migrate.latest({ migrationSource: source });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
    }
  }
}

export async function rollbackAll(knex: Knex): Promise<void> {
  await knex.migrate.rollback({ migrationSource: source }, true);
}
