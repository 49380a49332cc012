// Audit queries at scale: one million audit rows on PostgreSQL, then a filtered page of GET /audit and a one-day
// GET /usage report, each timed over repeated runs. Target: under 100 ms each (issue 5).
// Run: npm run bench:audit   (KEYBRAKE_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres)
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { randomBase62 } from '../service/crypto';
import { auditPage, usage, type AuditFilter } from '../service/store/audit-query';
import { openDb } from '../service/store/db';
import { migrate } from '../service/store/migrations';

const ROWS = Number(process.env.KEYBRAKE_BENCH_AUDIT_ROWS ?? 1_000_000);
const RUNS = 30;
const adminUrl = process.env.KEYBRAKE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function timed(name: string, fn: () => Promise<unknown>): Promise<{ name: string; p50: number; p95: number; max: number }> {
  await fn();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { name, p50: ms[Math.floor(RUNS / 2)] as number, p95: ms[Math.floor(RUNS * 0.95)] as number, max: ms[RUNS - 1] as number };
}

async function main(): Promise<void> {
  const dbName = `kb_bench_audit_${randomBase62(8).toLowerCase()}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const db = openDb({ kind: 'postgres', url: url.toString() });
  try {
    await migrate(db);
    const now = Date.now();
    const t0 = performance.now();
    // 1,000 keys in 100 teams, 30 days of traffic, about 10% refusals spread over all keys, three vendors.
    await db.knex.raw(
      `INSERT INTO audit_log (id, workspace_id, ts, key_id, key_label, vendor, method, path, decision, code, estimated_micros,
                              reserved_micros, settled_micros, status, latency_ms, run_id, conversation_id, reconcile, window_start)
       SELECT 'aud_b' || g, 'default', ? - (g::bigint * 2592000000 / ?), 'vk_bench_' || (g % 1000),
              'team-' || (g % 100) || '/conv-' || (g % 1000),
              (ARRAY['stripe','twilio','resend'])[1 + g % 3], 'POST', '/v1/charges',
              CASE WHEN (g::bigint * 7919) % 97 < 10 THEN 'deny' ELSE 'allow' END,
              CASE WHEN (g::bigint * 7919) % 97 < 10 THEN 'daily_cap_exceeded' END,
              1000000, CASE WHEN (g::bigint * 7919) % 97 < 10 THEN 0 ELSE 1000000 END, CASE WHEN (g::bigint * 7919) % 97 < 10 THEN NULL ELSE 1000000 END,
              CASE WHEN (g::bigint * 7919) % 97 < 10 THEN 429 ELSE 200 END, 12, 'run_' || (g % 50000), 'conv_' || (g % 20000), 0, '2026-01-01'
       FROM generate_series(1, ?) AS g`,
      [now, ROWS, ROWS],
    );
    await db.knex.raw('ANALYZE audit_log');
    process.stdout.write(`inserted ${ROWS.toLocaleString('en-US')} audit rows in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

    const dayAgo = now - 86_400_000;
    const filters: [string, AuditFilter][] = [
      ['page: one key', { keyId: 'vk_bench_42' }],
      ['page: label prefix + refusals', { labelPrefix: 'team-7/', decision: 'deny' }],
      ['page: one run id', { runId: 'run_4242' }],
      ['page: all refusals', { decision: 'deny' }],
      ['page: one error code, last day', { code: 'daily_cap_exceeded', from: now - 86_400_000, to: now }],
      ['page: vendor + last day', { vendor: 'twilio', from: dayAgo, to: now }],
    ];
    const results = [];
    for (const [name, f] of filters) results.push(await timed(name, () => auditPage(db, 'default', f, 50)));
    results.push(await timed('usage: one day by key', () => usage(db, 'default', 'key', { from: dayAgo, to: now })));
    results.push(await timed('usage: one day by vendor', () => usage(db, 'default', 'vendor', { from: dayAgo, to: now })));
    process.stdout.write(`\n${'query'.padEnd(34)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)}  target 100 ms\n`);
    let failed = 0;
    for (const r of results) {
      const pass = r.p95 < 100;
      if (!pass) failed++;
      process.stdout.write(`${r.name.padEnd(34)} ${r.p50.toFixed(1).padStart(8)} ${r.p95.toFixed(1).padStart(8)} ${r.max.toFixed(1).padStart(8)}  ${pass ? 'ok' : 'SLOW'}\n`);
    }
    process.exitCode = failed === 0 ? 0 : 1;
  } finally {
    await db.knex.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

void main();
