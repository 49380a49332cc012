// PostgreSQL's hot path: named (prepared) statements, so that the server parses and plans each once per
// connection, and the reservations and settlements of concurrent calls each applied together, by one function
// call (migration 006): one round trip and one commit for the batch. Settlements commit without waiting for the
// WAL flush (a lost settlement leaves the reservation standing: over-counting, never under-counting).
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
  dedupe?: { keyId: string; hash: string; status: number; response: string | null };
  columns: Record<string, string | number | null>;
}

/**
 * Applies settlements with one call of kb_settle_batch (migration 006), which commits without waiting for the WAL
 * flush. Spend adjustments are summed per window and taken in a fixed order, so that concurrent batches never
 * wait on each other in a cycle.
 */
async function apply(conn: PgConn, items: PgSettle[], now: number): Promise<void> {
  const adjust = new Map<string, [string, string, number]>();
  for (const item of items) {
    for (const [subject, window, delta] of item.adjust) {
      const k = `${subject}\u0000${window}`;
      const prev = adjust.get(k);
      adjust.set(k, [subject, window, (prev?.[2] ?? 0) + delta]);
    }
  }
  const sorted = [...adjust.entries()].sort(([a], [b]) => byKey(a, b)).map(([, v]) => v);
  const payload = items.map((item) => ({
    audit_id: item.auditId,
    now,
    columns: item.columns,
    ...(item.counted ? { counted: { workspace_id: item.counted.workspaceId, vendor: item.counted.vendor, object_id: item.counted.objectId.slice(0, 255), micros: item.counted.micros } } : {}),
    ...(item.dedupe ? { dedupe: { key_id: item.dedupe.keyId, hash: item.dedupe.hash, status: item.dedupe.status, response: item.dedupe.response } } : {}),
  }));
  await conn.query({ name: 'kb_settle_batch', text: 'SELECT kb_settle_batch($1::jsonb, $2::jsonb)', values: [JSON.stringify(sorted), JSON.stringify(payload)] });
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

/** One reservation for kb_reserve_batch: at most one cap; the audit row is written only if it stands. */
export interface PgReserve {
  /** Present when the key was read from a cache: the reservation stands only under this epoch. */
  guard?: { workspaceId: string; epoch: number };
  cap?: { subjectId: string; windowStart: string; capMicros: number };
  micros: number;
  row: Record<string, string | number | null>;
}

/** What became of a reservation: the cap's spend after it, or why it did not stand. */
export type PgReserved = { ok: true; spent: number } | { ok: false; stale: boolean };

const RESERVE = { name: 'kb_reserve_batch', text: 'SELECT n, spent, stale FROM kb_reserve_batch($1::jsonb)' };

async function reserveBatch(db: Db, items: PgReserve[]): Promise<PgReserved[]> {
  const payload = items.map((it) => ({
    ...(it.guard ? { workspace_id: it.guard.workspaceId, epoch: it.guard.epoch } : {}),
    ...(it.cap ? { subject_id: it.cap.subjectId, window_start: it.cap.windowStart, cap: it.cap.capMicros } : {}),
    micros: it.micros,
    row: it.row,
  }));
  const { rows } = await withPg(db, (conn) => conn.query({ ...RESERVE, values: [JSON.stringify(payload)] }));
  const out: PgReserved[] = items.map(() => ({ ok: false, stale: false }));
  for (const r of rows as { n: number; spent: number | string | null; stale: boolean }[]) {
    out[r.n] = r.stale ? { ok: false, stale: true } : r.spent === null ? { ok: false, stale: false } : { ok: true, spent: Number(r.spent) };
  }
  return out;
}

/**
 * Reservations queued during one turn of the event loop go to PostgreSQL together: one round trip, one
 * transaction, one durable commit (group commit), each caller resuming once it is committed. Items are taken in
 * the order of the spend rows they lock, so that concurrent batches never wait on each other in a cycle. Items
 * whose spend row an earlier batch of this instance still holds (a hot key) go in a batch of their own, so that
 * the calls of other keys never queue behind that row's lock. If a batch fails, its items are reserved one by
 * one, so that one bad item fails only itself.
 */
export class PgReserveBatcher {
  private jobs: ReserveJob[] = [];
  private scheduled = false;
  /** Spend rows locked by batches in flight, with how many hold or wait for each. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly maxBatch = 200,
  ) {}

  run(item: PgReserve): Promise<PgReserved> {
    return new Promise<PgReserved>((resolve, reject) => {
      this.jobs.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.jobs.splice(0, this.maxBatch);
    if (this.jobs.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    const clear: ReserveJob[] = [];
    const contended: ReserveJob[] = [];
    for (const job of jobs) (this.held.has(rowOf(job.item)) ? contended : clear).push(job);
    void this.batch(clear);
    void this.batch(contended);
  }

  /** One batch; each caller resumes when its own batch has committed. */
  private async batch(jobs: ReserveJob[]): Promise<void> {
    if (jobs.length === 0) return;
    jobs.sort((a, b) => lockOrder(a.item, b.item));
    const rows = jobs.map((j) => rowOf(j.item)).filter((r) => r !== '');
    for (const r of rows) this.held.set(r, (this.held.get(r) ?? 0) + 1);
    try {
      const results = await reserveBatch(this.db, jobs.map((j) => j.item));
      jobs.forEach((j, i) => j.resolve(results[i] as PgReserved));
    } catch {
      for (const j of jobs) await reserveBatch(this.db, [j.item]).then((r) => j.resolve(r[0] as PgReserved), j.reject);
    } finally {
      for (const r of rows) {
        const n = (this.held.get(r) ?? 1) - 1;
        if (n === 0) this.held.delete(r);
        else this.held.set(r, n);
      }
    }
  }
}

interface ReserveJob {
  item: PgReserve;
  resolve: (r: PgReserved) => void;
  reject: (e: unknown) => void;
}

/** The spend row an item locks ('' for none). */
function rowOf(item: PgReserve): string {
  return item.cap ? `${item.cap.subjectId}\u0000${item.cap.windowStart}` : '';
}

/** Code-unit order of two row keys: the one order in which every batch takes its row locks. */
function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function lockOrder(a: PgReserve, b: PgReserve): number {
  return byKey(rowOf(a), rowOf(b));
}

export const pgReserves = perDb((db) => new PgReserveBatcher(db));
