// PostgreSQL's hot path: named (prepared) statements, so that the server parses and plans each once per
// connection, and settlements of concurrent calls applied together — one transaction, one multi-row UPDATE of
// their audit rows — committed without waiting for the WAL flush (a lost settlement leaves the reservation
// standing: over-counting, never under-counting).
import { createHash } from 'node:crypto';
import { perDb, type Db } from './db';
import { TickQueue, type Outcome } from './tick-queue';

interface PgConn {
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

export interface PgSettle {
  auditId: string;
  /** Spend adjustments: (subject, window, delta). */
  adjust: [string, string, number][];
  counted?: { workspaceId: string; vendor: string; objectId: string; micros: number };
  dedupe?: { keyId: string; hash: string; status: number; response: string };
  columns: Record<string, string | number | null>;
}

const AUDIT_SET = ['status', 'upstream_status', 'latency_ms', 'settled_micros', 'object_id', 'upstream_request_id', 'response_body', 'reconcile', 'code', 'message'] as const;
const TYPES: Record<(typeof AUDIT_SET)[number], string> = {
  status: 'int', upstream_status: 'int', latency_ms: 'int', settled_micros: 'bigint', object_id: 'text', upstream_request_id: 'text',
  response_body: 'text', reconcile: 'int', code: 'text', message: 'text',
};

async function apply(conn: PgConn, items: PgSettle[], now: number): Promise<void> {
  await conn.query({ text: 'BEGIN' });
  try {
    await conn.query({ text: 'SET LOCAL synchronous_commit TO OFF' });
    for (const item of items) {
      for (const [subject, window, delta] of item.adjust) {
        await conn.query({ name: 'kb_adjust', text: 'UPDATE spend_windows SET spent_micros = spent_micros + $1 WHERE subject_id = $2 AND window_start = $3', values: [delta, subject, window] });
      }
      if (item.dedupe) {
        const d = item.dedupe;
        await conn.query({ name: 'kb_dedupe_done', text: 'UPDATE dedupe SET status = $1, response = $2 WHERE key_id = $3 AND request_hash = $4 AND audit_id = $5', values: [d.status, d.response, d.keyId, d.hash, item.auditId] });
      }
    }
    const counted = new Map<string, { workspaceId: string; vendor: string; objectId: string; micros: number }>();
    for (const item of items) {
      const c = item.counted;
      if (!c) continue;
      const k = `${c.workspaceId}\u0000${c.vendor}\u0000${c.objectId}`;
      const prev = counted.get(k);
      counted.set(k, prev ? { ...prev, micros: prev.micros + c.micros } : c);
    }
    if (counted.size > 0) {
      const rows = [...counted.values()];
      await conn.query({
        text: `INSERT INTO counted_objects (workspace_id, vendor, object_id, counted_micros, updated_at) VALUES ${rows.map((_, i) => `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}, $${i * 5 + 4}, $${i * 5 + 5})`).join(', ')}
               ON CONFLICT (workspace_id, vendor, object_id) DO UPDATE
                 SET counted_micros = counted_objects.counted_micros + excluded.counted_micros, updated_at = excluded.updated_at`,
        values: rows.flatMap((r) => [r.workspaceId, r.vendor, r.objectId.slice(0, 255), r.micros, now]),
      });
    }
    // Every audit row of the batch in one statement; a column an item does not set keeps its value.
    const width = AUDIT_SET.length + 1;
    const values: unknown[] = [];
    const tuples = items.map((item, i) => {
      values.push(item.auditId, ...AUDIT_SET.map((c) => (c in item.columns ? item.columns[c] : null)));
      return `(${[`$${i * width + 1}::text`, ...AUDIT_SET.map((c, j) => `$${i * width + j + 2}::${TYPES[c]}`)].join(', ')})`;
    });
    const keep = (c: string): string => (c === 'code' || c === 'message' ? `COALESCE(v.${c}, a.${c})` : `v.${c}`);
    await conn.query({
      text: `UPDATE audit_log AS a SET ${AUDIT_SET.map((c) => `${c} = ${keep(c)}`).join(', ')}
             FROM (VALUES ${tuples.join(', ')}) AS v(id, ${AUDIT_SET.join(', ')}) WHERE a.id = v.id`,
      values,
    });
    await conn.query({ text: 'COMMIT' });
  } catch (err) {
    await conn.query({ text: 'ROLLBACK' }).catch(() => undefined);
    throw err;
  }
}

/**
 * Settlements queued during one turn of the event loop are applied together; each caller resumes after the commit.
 * If the batch fails, its settlements are applied one by one, so that one bad settlement fails only itself.
 */
export class PgSettleBatcher {
  private readonly queue: TickQueue<PgSettle, void>;

  constructor(db: Db, clock: () => number = Date.now) {
    this.queue = new TickQueue(async (items): Promise<Outcome<void>[]> => {
      try {
        await withPg(db, (conn) => apply(conn, items, clock()));
        return items.map(() => ({ ok: true, value: undefined }));
      } catch {
        const outcomes: Outcome<void>[] = [];
        for (const item of items) {
          outcomes.push(await withPg(db, (conn) => apply(conn, [item], clock())).then(
            () => ({ ok: true as const, value: undefined }),
            (error: unknown) => ({ ok: false as const, error }),
          ));
        }
        return outcomes;
      }
    }, 200);
  }

  run(item: PgSettle): Promise<void> {
    return this.queue.push(item);
  }
}

export const pgSettles = perDb((db) => new PgSettleBatcher(db));
