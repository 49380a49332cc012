// SQLite's hot path without the query builder: knex prepares every statement anew and builds a transaction object
// per transaction, which profiling showed to be most of a proxied call's CPU. Here statements are prepared once
// per connection, and a reservation runs as one synchronous better-sqlite3 transaction. The connection is taken
// from knex's pool (of one), so these never interleave with a knex transaction.
import type BetterSqlite3 from 'better-sqlite3';
import { perDb, type Db } from './db';
import { TickQueue, type Outcome } from './tick-queue';

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

/**
 * Group commit for SQLite: the writes queued during one turn of the event loop run in one transaction, each in a
 * savepoint of its own (a refusal rolls back only its own writes), and every caller's promise resolves only once
 * that transaction has committed. Concurrent calls then share one commit instead of paying one each.
 */
export class WriteBatcher {
  private readonly queue: TickQueue<(conn: Conn) => unknown, unknown>;

  constructor(db: Db) {
    this.queue = new TickQueue((fns) =>
      withConnection(db, (conn) => {
        const tx = transactionOf(conn);
        return tx(() =>
          fns.map((fn): Outcome<unknown> => {
            try {
              // Inside the batch's transaction the same wrapper opens a savepoint instead.
              return { ok: true, value: tx(() => fn(conn)) };
            } catch (error) {
              return { ok: false, error };
            }
          }),
        );
      }),
    );
  }

  run<T>(fn: (conn: Conn) => T): Promise<T> {
    return this.queue.push(fn) as Promise<T>;
  }
}

const transactions = new WeakMap<Conn, <T>(work: () => T) => T>();

/**
 * One better-sqlite3 transaction function per connection, taking the work as its argument: creating one per call
 * (four wrappers and twenty property definitions each time) was a visible share of a proxied call's CPU.
 */
function transactionOf(conn: Conn): <T>(work: () => T) => T {
  let tx = transactions.get(conn);
  if (!tx) {
    tx = conn.transaction((work: () => unknown) => work()) as <T>(work: () => T) => T;
    transactions.set(conn, tx);
  }
  return tx;
}

export const writes = perDb((db) => new WriteBatcher(db));
