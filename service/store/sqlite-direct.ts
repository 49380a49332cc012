// SQLite's hot path without the query builder: knex prepares every statement anew and builds a transaction object
// per transaction, which profiling showed to be most of a proxied call's CPU. Here statements are prepared once
// per connection, and a batch of the money path's jobs runs as one synchronous better-sqlite3 transaction
// (executor.ts). The connection is taken from knex's pool (of one), so these never interleave with a knex transaction.
import type BetterSqlite3 from 'better-sqlite3';
import type { Db } from './db';

type Conn = BetterSqlite3.Database;

const statements = new WeakMap<Conn, Map<string, BetterSqlite3.Statement>>();

export function stmt(conn: Conn, sql: string): BetterSqlite3.Statement {
  let cache = statements.get(conn);
  if (!cache) {
    cache = new Map();
    statements.set(conn, cache);
  }
  let s = cache.get(sql);
  if (!s) {
    s = conn.prepare(sql);
    cache.set(sql, s);
  }
  return s;
}

interface PoolClient {
  acquireConnection(): Promise<Conn>;
  releaseConnection(conn: Conn): unknown;
}

export async function withConnection<T>(db: Db, fn: (conn: Conn) => T): Promise<T> {
  const client = db.knex.client as unknown as PoolClient;
  const conn = await client.acquireConnection();
  try {
    return fn(conn);
  } finally {
    client.releaseConnection(conn);
  }
}

const transactions = new WeakMap<Conn, <T>(work: () => T) => T>();

/**
 * One better-sqlite3 transaction function per connection, taking the work as its argument: creating one per call
 * (four wrappers and twenty property definitions each time) was a visible share of a proxied call's CPU.
 */
export function transactionOf(conn: Conn): <T>(work: () => T) => T {
  let tx = transactions.get(conn);
  if (!tx) {
    tx = conn.transaction((work: () => unknown) => work()) as <T>(work: () => T) => T;
    transactions.set(conn, tx);
  }
  return tx;
}

