// Schema migrations, kept in code (not globbed from disk) so they run the same from ts-jest, tsx and dist/.
// Times are epoch milliseconds and money is integer micro-USD (1e-6 USD) in BIGINT columns, on both databases.
// Every row belongs to a workspace (design §8); there is one, 'default', for now.
import type { Knex } from 'knex';
import type { Db } from '../db';
import { installPrograms } from '../plpgsql';
import { migration as m001 } from './001-initial';
import { migration as m002 } from './002-budgets-and-rate-limits';
import { migration as m003 } from './003-counted-objects-and-dedupe';
import { migration as m004 } from './004-audit-indexes-and-webhooks';
import { migration as m005 } from './005-policy-epoch';
import { migration as m006 } from './006-pg-batches';
import { migration as m007 } from './007-object-locks';
import { migration as m008 } from './008-settle-upserts';
import { migration as m009 } from './009-reconciliation';
import { migration as m010 } from './010-programs';
import { migration as m011 } from './011-mcp';
import { migration as m012 } from './012-approvals';
import type { Migration } from './types';

const migrations: Record<string, Migration> = {
  '001_initial': m001,
  '002_budgets_and_rate_limits': m002,
  '003_counted_objects_and_dedupe': m003,
  '004_audit_indexes_and_webhooks': m004,
  '005_policy_epoch': m005,
  '006_pg_batches': m006,
  '007_object_locks': m007,
  '008_settle_upserts': m008,
  '009_reconciliation': m009,
  '010_programs': m010,
  '011_mcp': m011,
  '012_approvals': m012,
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
    await installPrograms(trx);
  });
}

export async function rollbackAll(knex: Knex): Promise<void> {
  await knex.migrate.rollback({ migrationSource: source }, true);
}
