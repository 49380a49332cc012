// The two drivers of the money path's programs (steps.ts), one per database, behind one batcher each: a batch is one
// transaction, and each job in it runs its first program in a savepoint of its own (a refusal undoes only that
// job's writes), then writes what it records given the outcome. SQLite runs the statements synchronously on its one
// connection; PostgreSQL calls each program's compiled function once for the whole batch (plpgsql.ts). Settlements
// on PostgreSQL commit without waiting for the WAL flush: a lost settlement leaves the reservation standing, which
// over-counts and never under-counts (the reservation itself was committed durably before anything was forwarded).
import type BetterSqlite3 from 'better-sqlite3';
import { Batcher } from './batcher';
import { perDb, type Db } from './db';
import { compile } from './plpgsql';
import { withPg, type PgConn } from './pg-direct';
import { stmt, transactionOf, withConnection } from './sqlite-direct';
import { interpret, type Item, type Outcome, type Program, type Row } from './steps';

export interface Call {
  program: Program;
  item: Item;
}

/**
 * One call's writes: a program, which may refuse (then it writes nothing), and what follows from its outcome, written
 * right after in a transaction of its own (a refusal's records: its audit row, cap.exceeded).
 */
export interface Job {
  first: Call;
  after?: ((outcome: Outcome) => Call[]) | undefined;
}

export type Result = Outcome | undefined;

// ---- SQLite -------------------------------------------------------------------------------------------------

/** Runs one program for one item on the connection, statement by statement. */
export function runSync(conn: BetterSqlite3.Database, { program, item }: Call): Outcome {
  return interpret(program, item, (sql, values, returns) => {
    const prepared = stmt(conn, sql);
    if (returns) return prepared.get(values) as Row | undefined;
    prepared.run(values);
    return undefined;
  });
}

const refusing = new WeakMap<Program, boolean>();

/** Whether a program has a step that can refuse (its writes then need a savepoint). */
function canRefuse(program: Program): boolean {
  let r = refusing.get(program);
  if (r === undefined) {
    r = program.steps.some((s) => s.refuse !== undefined);
    refusing.set(program, r);
  }
  return r;
}

class Refused extends Error {
  constructor(readonly outcome: Outcome) {
    super('refused');
  }
}

/** Runs a job's program; one that can refuse in a savepoint (inside the batch's transaction), which a refusal undoes. */
function sqliteFirst(conn: BetterSqlite3.Database, tx: <T>(work: () => T) => T, first: Call): Outcome {
  if (!canRefuse(first.program)) return runSync(conn, first);
  try {
    return tx(() => {
      const o = runSync(conn, first);
      if (o.refused !== undefined) throw new Refused(o);
      return o;
    });
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    return err.outcome;
  }
}

function sqliteBatch(db: Db): (jobs: Job[]) => Promise<Result[]> {
  // A job that fails (a constraint, say) fails the whole batch, which the batcher then runs job by job.
  return (jobs) =>
    withConnection(db, (conn) => {
      const tx = transactionOf(conn);
      const outcomes = tx(() => jobs.map((job) => sqliteFirst(conn, tx, job.first)));
      const after = jobs.flatMap((j, i) => j.after?.(outcomes[i] as Outcome) ?? []);
      if (after.length > 0) tx(() => after.forEach((call) => runSync(conn, call)));
      return outcomes;
    });
}

// ---- PostgreSQL ---------------------------------------------------------------------------------------------

/**
 * The items as a PostgreSQL escape-string literal (E'…', so that what it means does not depend on the server's
 * standard_conforming_strings). The batch goes as text in a simple query, several statements in one message: one
 * round trip where a prepared statement would need one per statement (node-postgres does not pipeline).
 */
function itemsLiteral(items: Item[]): string {
  return `E'${JSON.stringify(items).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'::jsonb`;
}

/** One statement per program among the calls, and which calls each answers for. */
function statementsFor(calls: Call[]): { sql: string[]; at: number[][] } {
  const byProgram = new Map<Program, number[]>();
  calls.forEach((c, i) => byProgram.set(c.program, [...(byProgram.get(c.program) ?? []), i]));
  const sql: string[] = [];
  const at: number[][] = [];
  for (const [program, indexes] of byProgram) {
    sql.push(`SELECT o FROM ${compile(program).name}(${itemsLiteral(indexes.map((i) => (calls[i] as Call).item))}) AS o`);
    at.push(indexes);
  }
  return { sql, at };
}

type PgResult = { rows: Record<string, unknown>[] };

/** Runs statements in one message; the results of the last `n` of them. */
async function send(conn: PgConn, statements: string[], n: number): Promise<PgResult[]> {
  const r = (await conn.query({ text: statements.join(';\n') })) as unknown as PgResult | PgResult[];
  const all = Array.isArray(r) ? r : [r];
  return n === 0 ? [] : all.slice(-n);
}

/** The outcomes of the calls from their statements' results (each row: one item's outcome, `n` its place). */
function outcomesOf(calls: Call[], at: number[][], results: PgResult[]): Outcome[] {
  const out: Outcome[] = calls.map(() => ({ kept: [] }));
  results.forEach((res, k) => {
    const indexes = at[k] as number[];
    for (const { o } of res.rows as { o: Outcome & { n: number; detail?: Row | null } }[]) {
      const { n, detail, ...rest } = o;
      out[indexes[n] as number] = detail ? { ...rest, detail } : rest;
    }
  });
  return out;
}

function pgBatch(db: Db, durable: boolean): (jobs: Job[]) => Promise<Result[]> {
  const begin = durable ? ['BEGIN'] : ['BEGIN', 'SET LOCAL synchronous_commit TO OFF'];
  return (jobs) =>
    withPg(db, async (conn) => {
      try {
        // The whole transaction is one message; what follows from the outcomes, a second one.
        const calls = jobs.map((j) => j.first);
        const first = statementsFor(calls);
        const res = await send(conn, [...begin, ...first.sql, 'COMMIT'], first.sql.length + 1);
        const outcomes = outcomesOf(calls, first.at, res.slice(0, -1));
        const after = statementsFor(jobs.flatMap((j, i) => j.after?.(outcomes[i] as Outcome) ?? [])).sql;
        if (after.length > 0) await send(conn, [...begin, ...after, 'COMMIT'], 0);
        return outcomes;
      } catch (err) {
        await conn.query({ text: 'ROLLBACK' }).catch(() => undefined);
        throw err;
      }
    });
}

// ---- Both ---------------------------------------------------------------------------------------------------

export interface MoneyPath {
  /** Reservations and the rows calls record: committed durably before the caller goes on. */
  durable: Batcher<Job, Result>;
  /** Settlements (on PostgreSQL committed without waiting for the WAL flush). */
  lazy: Batcher<Job, Result>;
}

/**
 * The store's executor, chosen once per database. PostgreSQL batches stay at 64 jobs: each refusable job is a
 * subtransaction, and a transaction with more than 64 of them slows every other session's snapshots.
 */
export const moneyPath = perDb((db): MoneyPath => {
  if (db.dialect === 'sqlite') {
    const one = new Batcher(sqliteBatch(db), 256);
    return { durable: one, lazy: one };
  }
  return { durable: new Batcher(pgBatch(db, true), 64), lazy: new Batcher(pgBatch(db, false), 64) };
});
