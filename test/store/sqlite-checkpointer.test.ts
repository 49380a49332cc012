// With automatic checkpoints off, the worker thread's checkpoints keep SQLite's WAL from growing: once one has
// caught up, the next write starts the log over from its beginning.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteCheckpointer } from '../../service/store/sqlite-checkpointer';

function writeMany(db: Database.Database, n: number): void {
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < n; i++) insert.run('x'.repeat(2000));
}

/** Frames in the WAL now (a PASSIVE checkpoint reports them; it is called only after the measurement matters). */
const logFrames = (db: Database.Database): number => (db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!.log;

describe('SQLite checkpoints off the event loop', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kb-ckpt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const open = (): Database.Database => {
    const db = new Database(join(dir, 'db.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)');
    return db;
  };

  test('without the checkpointer the log keeps every frame', async () => {
    const db = open();
    writeMany(db, 1500);
    await new Promise((r) => setTimeout(r, 500));
    writeMany(db, 1);
    expect(logFrames(db)).toBeGreaterThan(1500);
    db.close();
  });

  test('with it the log starts over after a checkpoint', async () => {
    const db = open();
    const errors: string[] = [];
    const ckpt = new SqliteCheckpointer(join(dir, 'db.sqlite'), (m) => errors.push(m), 50);
    try {
      writeMany(db, 1500);
      await new Promise((r) => setTimeout(r, 500));
      writeMany(db, 1);
      expect(logFrames(db)).toBeLessThan(10);
      expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1501 });
      expect(errors).toEqual([]);
    } finally {
      await ckpt.stop();
      db.close();
    }
  });
});
