import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { compile } from './plpgsql';
import { PROGRAMS } from './steps';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  knex: Knex;
  dialect: Dialect;
}

// int8 columns hold micro-USD and epoch milliseconds, both far below 2^53: read them as numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));

export type StoreTarget = { kind: 'postgres'; url: string } | { kind: 'sqlite'; path: string };

/** `poolMin` PostgreSQL connections stay open once made (the server keeps its whole pool: see warmPool). */
export function openDb(target: StoreTarget, poolMax = 10, sqliteSync: 'full' | 'normal' = 'normal', poolMin = 0): Db {
  if (target.kind === 'postgres') {
    const knex = knexFactory({
      client: 'pg',
      connection: target.url,
      pool: { min: Math.min(poolMin, poolMax), max: poolMax },
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

/**
 * Opens the PostgreSQL pool's connections before the first call needs them, and has each compile the batch
 * functions once: a cold pool met by a burst otherwise makes every call of the burst wait for new backends.
 */
export async function warmPool(db: Db, size: number): Promise<void> {
  if (db.dialect !== 'postgres') return;
  const client = db.knex.client as unknown as { acquireConnection(): Promise<pg.Client>; releaseConnection(c: pg.Client): unknown };
  const conns = await Promise.all(Array.from({ length: size }, () => client.acquireConnection()));
  try {
    await Promise.all(conns.map(async (c) => {
      for (const program of PROGRAMS) await c.query(`SELECT count(*) FROM ${compile(program).name}('[]'::jsonb)`);
    }));
  } finally {
    for (const c of conns) client.releaseConnection(c);
  }
}

/** Whether the database answers (GET /healthz). */
export async function ping(db: Db): Promise<void> {
  await db.knex.raw('select 1');
}

export async function closeDb(db: Db): Promise<void> {
  await db.knex.destroy();
}

/** What GET /metrics reports of the store: keys in use, webhook deliveries pending, calls awaiting reconciliation. */
export async function gauges(db: Db): Promise<{ activeKeys: number; webhooksPending: number; reconcilePending: number }> {
  const count = async (q: Knex.QueryBuilder): Promise<number> => Number(((await q.count({ n: '*' })) as { n: number | string }[])[0]?.n ?? 0);
  return {
    activeKeys: await count(db.knex('vault_keys').whereNull('revoked_at')),
    webhooksPending: await count(db.knex('webhook_outbox').where('status', 'pending')),
    reconcilePending: await count(db.knex('audit_log').whereIn('reconcile_state', ['pending', 'manual'])),
  };
}
