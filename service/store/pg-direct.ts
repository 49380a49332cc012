// PostgreSQL's hot path without the query builder: a connection from knex's pool, and named (prepared) statements,
// so that the server parses and plans each once per connection.
import { createHash } from 'node:crypto';
import type { Db } from './db';

export interface PgConn {
  query(q: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}
interface PoolClient {
  acquireConnection(): Promise<PgConn>;
  releaseConnection(conn: PgConn): unknown;
}

export async function withPg<T>(db: Db, fn: (conn: PgConn) => Promise<T>): Promise<T> {
  const client = db.knex.client as unknown as PoolClient;
  const conn = await client.acquireConnection();
  try {
    return await fn(conn);
  } finally {
    client.releaseConnection(conn);
  }
}

/** Knex's `?` placeholders → PostgreSQL's `$n`. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Runs a statement as a named prepared statement (its name derives from its text). */
export async function prepared(db: Db, sql: string, values: unknown[]): Promise<Record<string, unknown>[]> {
  const text = numbered(sql);
  const name = `kb_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
  return withPg(db, async (conn) => (await conn.query({ name, text, values })).rows);
}
