// Schema migrations, kept in code (not globbed from disk) so they run the same from ts-jest, tsx and dist/.
// Times are epoch milliseconds and money is integer micro-USD (1e-6 USD) in BIGINT columns, on both databases.
// Every row belongs to a workspace (design §8); there is one, 'default', for now.
import type { Knex } from 'knex';
import type { Db } from './db';

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
  // Policy depth: shared budgets, per-minute rate windows, and the budget a reservation also drew from.
  '002_budgets_and_rate_limits': {
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
  },
  // Duplicate protection and create-then-confirm: what was already counted per vendor object, and recent
  // money-moving requests by content hash (responses sealed under the master key, kept for the dedupe window).
  '003_counted_objects_and_dedupe': {
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
  },
  // Audit search (the indexes GET /audit's filters use) and webhook alerts: events (each one once, by its key),
  // a durable outbox with one row per event and target, and every delivery attempt.
  '004_audit_indexes_and_webhooks': {
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
  },
  // Cached keys (the proxy reads a key once, not on every call): every change to a workspace's keys bumps its
  // policy epoch, and each reservation checks the epoch its cached key was read under, in the same statement.
  // On PostgreSQL audit rows leave room in their pages, so that settling one (an UPDATE of columns that no index
  // covers, but for a failure's code) is a heap-only update instead of a new entry in every index.
  '005_policy_epoch': {
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
  },
  // Group commit on PostgreSQL: the calls that arrive together are reserved by one function call, one transaction
  // and one durable commit instead of one each; each item is still its own conditional upsert, taken in order, and
  // its audit row is written only when its reservation stands. Their settlements likewise go in one call, committed
  // without waiting for the WAL flush (store/pg-direct.ts).
  '006_pg_batches': {
    async up(knex) {
      if (knex.client.config.client !== 'pg') return;
      await knex.raw(`
        CREATE FUNCTION kb_reserve_batch(items jsonb) RETURNS TABLE (n int, spent bigint, stale boolean)
        LANGUAGE plpgsql AS $fn$
        DECLARE
          item jsonb;
          i int := 0;
          current_epoch bigint;
          got bigint;
        BEGIN
          FOR item IN SELECT value FROM jsonb_array_elements(items) LOOP
            n := i;
            i := i + 1;
            spent := NULL;
            stale := false;
            IF item->>'epoch' IS NOT NULL THEN
              SELECT policy_epoch INTO current_epoch FROM workspaces WHERE id = item->>'workspace_id';
              IF current_epoch IS DISTINCT FROM (item->>'epoch')::bigint THEN
                stale := true;
                RETURN NEXT;
                CONTINUE;
              END IF;
            END IF;
            IF (item->>'micros')::bigint > 0 THEN
              INSERT INTO spend_windows (subject_id, window_start, spent_micros)
                VALUES (item->>'subject_id', item->>'window_start', (item->>'micros')::bigint)
              ON CONFLICT (subject_id, window_start) DO UPDATE
                SET spent_micros = spend_windows.spent_micros + excluded.spent_micros
                WHERE spend_windows.spent_micros + excluded.spent_micros <= (item->>'cap')::bigint
              RETURNING spend_windows.spent_micros INTO got;
              IF got IS NULL THEN
                RETURN NEXT;
                CONTINUE;
              END IF;
              spent := got;
            ELSE
              spent := 0;
            END IF;
            INSERT INTO audit_log SELECT * FROM jsonb_populate_record(NULL::audit_log, item->'row');
            RETURN NEXT;
          END LOOP;
        END
        $fn$`);
      await knex.raw(`
        CREATE FUNCTION kb_settle_batch(adjust jsonb, items jsonb) RETURNS void
        LANGUAGE plpgsql AS $fn$
        DECLARE
          a jsonb;
          item jsonb;
          c jsonb;
        BEGIN
          -- A lost settlement leaves its reservation standing: over-counting, never under-counting.
          PERFORM set_config('synchronous_commit', 'off', true);
          FOR a IN SELECT value FROM jsonb_array_elements(adjust) LOOP
            UPDATE spend_windows SET spent_micros = spent_micros + (a->>2)::bigint WHERE subject_id = a->>0 AND window_start = a->>1;
          END LOOP;
          FOR item IN SELECT value FROM jsonb_array_elements(items) LOOP
            IF item->'counted' IS NOT NULL THEN
              c := item->'counted';
              INSERT INTO counted_objects (workspace_id, vendor, object_id, counted_micros, updated_at)
                VALUES (c->>'workspace_id', c->>'vendor', c->>'object_id', (c->>'micros')::bigint, (item->>'now')::bigint)
              ON CONFLICT (workspace_id, vendor, object_id) DO UPDATE
                SET counted_micros = counted_objects.counted_micros + excluded.counted_micros, updated_at = excluded.updated_at;
            END IF;
            IF item->'dedupe' IS NOT NULL THEN
              c := item->'dedupe';
              UPDATE dedupe SET status = (c->>'status')::int, response = c->>'response'
                WHERE key_id = c->>'key_id' AND request_hash = c->>'hash' AND audit_id = item->>'audit_id';
            END IF;
            c := item->'columns';
            UPDATE audit_log SET
                status = (c->>'status')::int, upstream_status = (c->>'upstream_status')::int, latency_ms = (c->>'latency_ms')::int,
                settled_micros = (c->>'settled_micros')::bigint, object_id = c->>'object_id', upstream_request_id = c->>'upstream_request_id',
                response_body = c->>'response_body', reconcile = COALESCE((c->>'reconcile')::int, 0),
                code = COALESCE(c->>'code', code), message = COALESCE(c->>'message', message)
              WHERE id = item->>'audit_id';
          END LOOP;
        END
        $fn$`);
    },
    async down(knex) {
      if (knex.client.config.client !== 'pg') return;
      await knex.raw('DROP FUNCTION IF EXISTS kb_settle_batch(jsonb, jsonb)');
      await knex.raw('DROP FUNCTION IF EXISTS kb_reserve_batch(jsonb)');
    },
  },
};

const source: Knex.MigrationSource<string> = {
  getMigrations: () => Promise.resolve(Object.keys(migrations).sort()),
  getMigrationName: (name) => name,
  getMigration: (name) => Promise.resolve(migrations[name] as Migration),
};

// An arbitrary constant: the PostgreSQL advisory lock that serialises Keybrake instances' migrations.
const MIGRATION_LOCK = 4_207_160_173;

/**
 * Runs pending migrations. Several instances may start at once against one PostgreSQL: an advisory lock held
 * in a transaction makes them take turns, so knex's own lock table is never contended (nor left locked by a
 * race on its creation) and can be freed safely if a killed instance left it set.
 */
export async function migrate(db: Db): Promise<void> {
  if (db.dialect === 'sqlite') {
    await db.knex.migrate.latest({ migrationSource: source });
    return;
  }
  await db.knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
    if (await db.knex.schema.hasTable('knex_migrations_lock')) await db.knex.migrate.forceFreeMigrationsLock({ migrationSource: source });
    await db.knex.migrate.latest({ migrationSource: source });
  });
}

export async function rollbackAll(knex: Knex): Promise<void> {
  await knex.migrate.rollback({ migrationSource: source }, true);
}
