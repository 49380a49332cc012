// Every migration goes down as well as up, on both stores: roll back to nothing, then forward again.
import { openDb } from '../../service/store/db';
import { migrate, rollbackAll } from '../../service/store/migrations';
import { createTestStore, describeEachStore, type TestStore } from '../helpers/stores';

const TABLES = ['workspaces', 'admin_keys', 'vendor_credentials', 'vault_keys', 'spend_windows', 'audit_log', 'budgets', 'rate_windows', 'counted_objects', 'dedupe', 'webhook_events', 'webhook_outbox', 'webhook_attempts'];

describeEachStore('migrations', (storeName) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await createTestStore(storeName);
  });
  afterAll(() => store.drop());

  test('up, down to nothing, and up again', async () => {
    const db = openDb(store.target);
    try {
      const present = async (): Promise<string[]> => {
        const found: string[] = [];
        for (const t of TABLES) if (await db.knex.schema.hasTable(t)) found.push(t);
        return found;
      };
      await migrate(db);
      expect(await present()).toEqual(TABLES);
      await rollbackAll(db.knex);
      expect(await present()).toEqual([]);
      await migrate(db);
      expect(await present()).toEqual(TABLES);
      expect(await db.knex('workspaces').pluck('id')).toEqual(['default']);
    } finally {
      await db.knex.destroy();
    }
  });
});
