// Decides once per run what the environment can run, and says so in one line at the start. npm test needs, beyond
// Node: PostgreSQL (KEYBRAKE_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres, allowed to create
// databases), Chromium at /usr/bin/chromium (the console's browser tests) and python3 (the Dify plugin's tools).
// In CI a missing one fails the run; elsewhere the tests that need it are skipped, loudly.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Client } from 'pg';

export const CHROMIUM = '/usr/bin/chromium';

async function postgres(url: string): Promise<string | undefined> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL at ${url} (${(err as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function python(): string | undefined {
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'python3';
  }
}

export default async function globalSetup(): Promise<void> {
  const url = process.env.KEYBRAKE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const missing = { pg: await postgres(url), chromium: existsSync(CHROMIUM) ? undefined : `Chromium at ${CHROMIUM}`, python: python() };
  process.env.KEYBRAKE_TEST_PG_URL = url;
  process.env.KEYBRAKE_TEST_PG = missing.pg ? '0' : '1';
  process.env.KEYBRAKE_TEST_CHROMIUM = missing.chromium ? '0' : '1';
  process.env.KEYBRAKE_TEST_PYTHON = missing.python ? '0' : '1';
  const absent = Object.values(missing).filter((m): m is string => m !== undefined);
  if (absent.length === 0) return;
  const line = `npm test needs ${absent.join(', ')}`;
  if (process.env.CI) throw new Error(`${line}: in CI these tests must run, not skip (.ci/run installs Chromium and python3 and starts PostgreSQL)`);
  process.stderr.write(`\n!! ${line}: the tests that need ${absent.length === 1 ? 'it are' : 'them are'} SKIPPED (never in CI)\n`);
}
