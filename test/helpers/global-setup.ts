// Decides once per run whether PostgreSQL tests can run. In CI they must: an unreachable server fails the run
// instead of letting the PostgreSQL half of the suite skip as green.
import { Client } from 'pg';

export default async function globalSetup(): Promise<void> {
  const url = process.env.KEYBRAKE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    process.env.KEYBRAKE_TEST_PG_URL = url;
    process.env.KEYBRAKE_TEST_PG = '1';
  } catch (err) {
    if (process.env.CI) throw new Error(`PostgreSQL tests must run in CI, but ${url} is unreachable: ${(err as Error).message}`);
    process.env.KEYBRAKE_TEST_PG = '0';
    process.stderr.write(`\n!! PostgreSQL unreachable at ${url}: PostgreSQL tests are SKIPPED (never in CI)\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
