// SQLite's hot path without the query builder: knex prepares every statement anew and builds a transaction object
// per transaction, which profiling showed to be most of a proxied call's CPU. Here statements are prepared once
// per connection, and a reservation runs as one synchronous better-sqlite3 transaction. The connection is taken
// from knex's pool (of one), so these never interleave with a knex transaction.
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

/** An INSERT for a row given as column → value, with its statement cached by column list. */
export function insertRow(conn: Conn, table: string, row: Record<string, string | number | null>): void {
  const columns = Object.keys(row);
  stmt(conn, `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`).run(...columns.map((c) => row[c] ?? null));
}

type Item = { fn: (conn: Conn) => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void };

/**
 * Group commit for SQLite: the writes queued during one turn of the event loop run in one transaction, each in a
 * savepoint of its own (a refusal rolls back only its own writes), and every caller's promise resolves only once
 * that transaction has committed. Concurrent calls then share one commit instead of paying one each.
 */
export class WriteBatcher {
  private queue: Item[] = [];
  private scheduled = false;

  constructor(private readonly db: Db) {}

  run<T>(fn: (conn: Conn) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    let results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[];
    try {
      results = await withConnection(this.db, (conn) =>
        conn.transaction(() =>
          batch.map((item) => {
            try {
              return { ok: true as const, value: conn.transaction(item.fn)(conn) };
            } catch (error) {
              return { ok: false as const, error };
            }
          }),
        )(),
      );
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    results.forEach((r, i) => {
      const item = batch[i] as Item;
      if (r.ok) item.resolve(r.value);
      else item.reject(r.error);
    });
  }
}

const batchers = new WeakMap<Db, WriteBatcher>();

export function writes(db: Db): WriteBatcher {
  let b = batchers.get(db);
  if (!b) {
    b = new WriteBatcher(db);
    batchers.set(db, b);
  }
  return b;
}
