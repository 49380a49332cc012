import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  knex: Knex;
  dialect: Dialect;
}

// int8 columns hold micro-USD and epoch milliseconds, both far below 2^53: read them as numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));

export type StoreTarget = { kind: 'postgres'; url: string } | { kind: 'sqlite'; path: string };

export function openDb(target: StoreTarget, poolMax = 10, sqliteSync: 'full' | 'normal' = 'normal'): Db {
  if (target.kind === 'postgres') {
    const knex = knexFactory({
      client: 'pg',
      connection: target.url,
      pool: { min: 0, max: poolMax },
      acquireConnectionTimeout: 5_000,
    });
    return { knex, dialect: 'postgres' };
  }
  if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
  const knex = knexFactory({
    client: 'better-sqlite3',
    connection: { filename: target.path },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        // WAL for concurrent readers. synchronous=NORMAL (the default here) never loses a commit when the process
        // crashes, only on an OS crash or power cut; FULL syncs every commit to disk, at a large cost in throughput.
        conn.pragma('journal_mode = WAL');
        conn.pragma(`synchronous = ${sqliteSync === 'full' ? 'FULL' : 'NORMAL'}`);
        conn.pragma('busy_timeout = 5000');
        conn.pragma('foreign_keys = ON');
        done(null, conn);
      },
    },
  });
  return { knex, dialect: 'sqlite' };
}

/** One instance of something per open database (its write queue, say), made on first use. */
export function perDb<T>(make: (db: Db) => T): (db: Db) => T {
  const made = new WeakMap<Db, T>();
  return (db) => {
    let t = made.get(db);
    if (t === undefined) {
      t = make(db);
      made.set(db, t);
    }
    return t;
  };
}

/** Rows of a raw query, whichever driver answered. */
export function rowsOf<T>(dialect: Dialect, result: unknown): T[] {
  if (dialect === 'postgres') return (result as { rows: T[] }).rows;
  return result as T[];
}
