// SQLite's group commit (store/sqlite-direct.ts): the writes queued in one turn of the event loop share one
// transaction, each in a savepoint of its own, so a write that fails takes back only what it wrote itself.
import type BetterSqlite3 from 'better-sqlite3';
import { openDb, type Db } from '../../service/store/db';
import { writes } from '../../service/store/sqlite-direct';
import { createTestStore, type TestStore } from '../helpers/stores';

describe('SQLite write batches', () => {
  let store: TestStore;
  let db: Db;
  beforeAll(async () => {
    store = await createTestStore('sqlite');
    db = openDb(store.target);
    await db.knex.raw('CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)');
  });
  afterAll(async () => {
    await db.knex.destroy();
    await store.drop();
  });

  const put = (conn: BetterSqlite3.Database, k: string, n: number): void => void conn.prepare('INSERT INTO t (k, n) VALUES (?, ?)').run(k, n);
  const rows = async (): Promise<{ k: string; n: number }[]> => (await db.knex('t').orderBy('k').select('k', 'n')) as { k: string; n: number }[];

  test('a failing write takes back its own writes only; the others of its batch commit', async () => {
    const [a, b, c] = await Promise.allSettled([
      writes(db).run((conn) => put(conn, 'a', 1)),
      writes(db).run((conn) => {
        put(conn, 'b1', 2);
        put(conn, 'b2', 3);
        throw new Error('refused after two writes');
      }),
      writes(db).run((conn) => {
        put(conn, 'c', 4);
        return 'c done';
      }),
    ]);
    expect(a.status).toBe('fulfilled');
    expect(b).toMatchObject({ status: 'rejected', reason: { message: 'refused after two writes' } });
    expect(c).toEqual({ status: 'fulfilled', value: 'c done' });
    expect(await rows()).toEqual([
      { k: 'a', n: 1 },
      { k: 'c', n: 4 },
    ]);
  });

  test('a constraint error fails its own write; the same batch runs on, and the next batch too', async () => {
    const [dup, fresh] = await Promise.allSettled([writes(db).run((conn) => put(conn, 'a', 9)), writes(db).run((conn) => put(conn, 'd', 5))]);
    expect(dup).toMatchObject({ status: 'rejected', reason: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' } });
    expect(fresh.status).toBe('fulfilled');
    await writes(db).run((conn) => put(conn, 'e', 6));
    expect((await rows()).map((r) => r.k)).toEqual(['a', 'c', 'd', 'e']);
    expect(await db.knex('t').where({ k: 'a' }).first('n')).toEqual({ n: 1 });
  });
});
