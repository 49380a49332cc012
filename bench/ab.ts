// npm run bench:ab -- DIR_A DIR_B: two builds of Keybrake (checkouts with a built dist/) measured in turns on this
// machine, so that a change is judged against the run-to-run noise rather than against a number from another day:
// at concurrency 32, money-moving charges over 64 keys with the default key (duplicate protection on) and with
// dedupe_window off, free reads, and charges on one hot key, on SQLite and on PostgreSQL. Each round runs A then B
// (then B then A), ROUNDS times; it prints
// each run and the medians. Run it with the same build twice (A = B) to see the noise alone.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { cpuMeasurable, cpuNow } from './cpu';
import { closedLoop, type Target } from './load';
import { ADMIN, keybrakeEnv, listening, plain, startProcess, tsx } from './processes';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** BENCH_ONLY="free read,dedupe off" measures only those runs; BENCH_STORES="sqlite" only that store. */
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',').map((s) => s.trim());
const PG_ADMIN = process.env.KEYBRAKE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const [dirA, dirB] = process.argv.slice(2).map((d) => resolve(d));
if (!dirA || !dirB) throw new Error('usage: bench/ab.ts DIR_A DIR_B (checkouts with dist/ built)');

async function keys(url: string, dedupe: boolean, count = 64): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await fetch(`${url}/vault/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ vendor: 'stripe', daily_usd_cap: 10_000_000, allowed_endpoints: ['POST /v1/charges', 'GET /v1/customers/{id}'], label: `ab/${i}`, ...(dedupe ? {} : { dedupe_window: 'off' }) }),
      });
      return ((await res.json()) as { vault_key: string }).vault_key;
    }),
  );
}

const charge = (url: string, vk: string[]): Target => ({
  urls: [url],
  path: '/stripe/v1/charges',
  method: 'POST',
  headers: (i) => ({ 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${vk[i % vk.length] as string}` }),
  body: (i) => `amount=100&currency=usd&description=ab+${i}`,
});
const read = (url: string, vk: string[]): Target => ({ urls: [url], path: '/stripe/v1/customers/cus_ab', method: 'GET', headers: (i) => ({ authorization: `Bearer ${vk[i % vk.length] as string}` }) });

/** What each run measures: 64 keys as issued (dedupe on) or with dedupe off, free reads, and one hot key. */
const RUNS: [string, (url: string) => Promise<Target>][] = [
  ['default key', async (url) => charge(url, await keys(url, true))],
  ['dedupe off', async (url) => charge(url, await keys(url, false))],
  ['free read', async (url) => read(url, await keys(url, true))],
  ['one hot key', async (url) => charge(url, await keys(url, true, 1))],
];

async function main(): Promise<void> {
  const fake = startProcess(tsx('bench/fake-vendor.ts'), {}, plain);
  const fakeUrl = await fake.ready;
  const pg = new Client({ connectionString: PG_ADMIN });
  await pg.connect();
  const results: Record<string, number[]> = {};
  const cpus: Record<string, number[]> = {};
  const children: ChildProcess[] = [fake.child];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [['A', dirA], ['B', dirB]] : [['B', dirB], ['A', dirA]];
      for (const [name, dir] of order as [string, string][]) {
        for (const store of STORES) {
          const dbName = `kb_ab_${Date.now()}`;
          let env: Record<string, string> = { STRIPE_SECRET_KEY: 'sk_test_bench', KEYBRAKE_UPSTREAM_STRIPE: fakeUrl, KEYBRAKE_LOG_LEVEL: 'info' };
          if (store === 'sqlite') env = { ...env, KEYBRAKE_SQLITE_PATH: join(mkdtempSync(join(tmpdir(), 'kb-ab-')), 'kb.db') };
          else {
            await pg.query(`CREATE DATABASE ${dbName}`);
            const u = new URL(PG_ADMIN);
            u.pathname = `/${dbName}`;
            env = { ...env, DATABASE_URL: u.toString() };
          }
          const kb = startProcess([join(dir, 'dist', 'cli', 'main.js'), 'serve'], keybrakeEnv(env), listening);
          children.push(kb.child);
          const url = await kb.ready;
          for (const [what, target] of RUNS.filter(([w]) => !ONLY || ONLY.includes(w))) {
            const label = `${store} ${what} ${name}`;
            const t = await target(url);
            const groups = { proxy: [kb.child.pid as number], database: store === 'postgres' ? ('postgres' as const) : [] };
            const before = cpuMeasurable ? cpuNow(groups) : {};
            const r = await closedLoop(t, 32, SECONDS);
            const after = cpuMeasurable ? cpuNow(groups) : {};
            const per = (g: string): number => ((after[g] ?? 0) - (before[g] ?? 0)) / Math.max(1, r.total);
            (results[label] ??= []).push(r.rps);
            (cpus[label] ??= []).push(per('proxy') + per('database'));
            process.stdout.write(`${label.padEnd(34)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(2)} ms  CPU ${(per('proxy') + per('database')).toFixed(0)} µs/call${r.errors ? `  (${r.errors} errors)` : ''}\n`);
          }
          kb.child.kill('SIGTERM');
          await new Promise((ok) => kb.child.once('exit', ok));
          if (store === 'postgres') await pg.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
        }
      }
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await pg.end();
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  process.stdout.write('\nmedians (req/s; CPU µs per call, proxy + PostgreSQL)\n');
  for (const label of Object.keys(results).sort()) {
    process.stdout.write(`${label.padEnd(34)} ${median(results[label] as number[]).toFixed(0).padStart(6)}  (${(results[label] as number[]).map((x) => x.toFixed(0)).join(', ')})  CPU ${median(cpus[label] as number[]).toFixed(0)}\n`);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
