// The same tests run on SQLite and on PostgreSQL (backstage's TestDatabases idea): each test file gets a fresh
// SQLite file or a fresh PostgreSQL database, dropped afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { randomBase62 } from '../../service/crypto';
import type { StoreTarget } from '../../service/store/db';

export type StoreName = 'sqlite' | 'postgres';

export const PG_ENABLED = process.env.KEYBRAKE_TEST_PG === '1';
const PG_ADMIN_URL = process.env.KEYBRAKE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestStore {
  target: StoreTarget;
  /** Environment variables that select this store for a service process. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

export async function createTestStore(name: StoreName): Promise<TestStore> {
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'keybrake-test-'));
    const path = join(dir, 'keybrake.db');
    return { target: { kind: 'sqlite', path }, env: { KEYBRAKE_SQLITE_PATH: path }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const dbName = `kb_test_${randomBase62(10).toLowerCase()}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${dbName}`;
  return {
    target: { kind: 'postgres', url: url.toString() },
    env: { DATABASE_URL: url.toString() },
    async drop() {
      const c = new Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** `describe` once per store; PostgreSQL is skipped only outside CI when no server answers (global-setup). */
export function describeEachStore(title: string, body: (store: StoreName) => void): void {
  for (const name of ['sqlite', 'postgres'] as const) {
    const d = name === 'postgres' && !PG_ENABLED ? describe.skip : describe;
    d(`${title} [${name}]`, () => body(name));
  }
}
