// Composition root: `npm start` and `keybrake serve`.
import { ConfigError, loadConfig } from './config';
import { startServer, type Extras } from './server';

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
  try {
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

