// Composition root: `npm start` and `keybrake serve`.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger, prepareStore, startServer, type Extras } from './server';
import { closeDb } from './store/db';

/**
 * Cluster mode (KEYBRAKE_WORKERS): the primary prepares the store once, then forks the workers, which share the
 * port; every decision that must be global is made in the database, so they need nothing from each other.
 */
async function runPrimary(config: Config, count: number): Promise<void> {
  const log = createLogger(config);
  const { db } = await prepareStore(config, log, (line) => process.stderr.write(line + '\n'));
  await closeDb(db);
  let stopping = false;
  for (let i = 0; i < count; i++) cluster.fork();
  cluster.on('exit', (worker, code) => {
    if (stopping) return;
    log.error({ worker_pid: worker.process.pid, code }, 'worker exited; starting another');
    cluster.fork();
  });
  const stop = (): void => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    setTimeout(() => process.exit(0), 5_000).unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log.info({ workers: count }, 'keybrake cluster started');
}

export async function main(env: Record<string, string | undefined>, extras: Extras = {}): Promise<void> {
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keybrake: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
  try {
    if (workers > 1 && cluster.isPrimary) return await runPrimary(config, workers);
    const running = await startServer(config, extras);
    const stop = (): void => {
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (err) {
    process.stderr.write(`keybrake: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

export { ConfigError };

