// SQLite's WAL checkpoints, off the event loop. By default the connection that commits past 1,000 WAL pages
// copies them into the database file there and then, with an fsync, which held every call on the event loop for
// 15–25 ms several times a second at a steady 500 calls/s. The server turns that off (wal_autocheckpoint=0) and a
// worker thread with its own connection runs PASSIVE checkpoints on a timer: they never block the writer, and the
// writer restarts the WAL from its start once a checkpoint has caught up, so the file stays small.
import { Worker } from 'node:worker_threads';
import type { Db } from './db';

/** Stops the serving connection's own checkpoints: the worker below runs them instead. */
export async function checkpointInWorker(db: Db): Promise<void> {
  await db.knex.raw('PRAGMA wal_autocheckpoint = 0');
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage(String(err && err.message));
  }
}, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export class SqliteCheckpointer {
  private readonly worker: Worker;

  constructor(path: string, onError: (message: string) => void, everyMs = 200) {
    this.worker = new Worker(WORKER, { eval: true, workerData: { path, everyMs, module: require.resolve('better-sqlite3') } });
    this.worker.on('message', (m: string) => onError(m));
    this.worker.on('error', (err) => onError(err.message));
    this.worker.unref();
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((ok) => this.worker.once('exit', () => ok()));
    this.worker.postMessage('stop');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((ok) => (timer = setTimeout(ok, 2_000)))]);
    clearTimeout(timer);
    await this.worker.terminate();
  }
}
