// npm run bench:soak: Keybrake on PostgreSQL under a steady load (SOAK_RATE charges/s over 64 keys) for SOAK_MINUTES (default 10), sampling the process's memory, its open file descriptors (sockets
// included) and the database's connections. Flat is the goal: the last third may not grow past the first.
import { readFileSync, readdirSync } from 'node:fs';
import { Client } from 'pg';
import { openLoop } from './load';
import { ADMIN, keybrakeArgs, keybrakeEnv, listening, plain, startProcess, tsx } from './processes';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const RATE = Number(process.env.SOAK_RATE ?? 300);
const PG_ADMIN = process.env.KEYBRAKE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function main(): Promise<void> {
  const fake = startProcess(tsx('bench/fake-vendor.ts'), {}, plain);
  const fakeUrl = await fake.ready;
  const dbName = `kb_soak_${Date.now()}`;
  const admin = new Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(PG_ADMIN);
  url.pathname = `/${dbName}`;
  const { child: kb, ready } = startProcess(keybrakeArgs, keybrakeEnv({ DATABASE_URL: url.toString(), STRIPE_SECRET_KEY: 'sk_test_soak', KEYBRAKE_UPSTREAM_STRIPE: fakeUrl }), listening);
  const kbUrl = await ready;
  const keys = await Promise.all(
    Array.from({ length: 64 }, async (_, i) => {
      const res = await fetch(`${kbUrl}/vault/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ vendor: 'stripe', daily_usd_cap: 10_000_000, allowed_endpoints: ['*'], dedupe_window: 'off', label: `soak/${i}` }),
      });
      return ((await res.json()) as { vault_key: string }).vault_key;
    }),
  );
  const sample = async (): Promise<{ rssMb: number; fds: number; pgConns: number }> => {
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${kb.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    const fds = readdirSync(`/proc/${kb.pid}/fd`).length;
    const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [dbName]);
    return { rssMb: rss, fds, pgConns: Number(rows[0]?.n ?? 0) };
  };
  const samples: { minute: number; rssMb: number; fds: number; pgConns: number; p50: number; p99: number }[] = [];
  process.stdout.write(`soak: ${RATE} charges/s for ${MINUTES} min over 64 keys, Keybrake on PostgreSQL\nminute   rss MB   fds  pg conns   p50 ms   p99 ms\n`);
  for (let m = 1; m <= MINUTES; m++) {
    const r = await openLoop(
      { urls: [kbUrl], path: '/stripe/v1/charges', method: 'POST', headers: (i) => ({ authorization: `Bearer ${keys[i % 64] as string}`, 'content-type': 'application/x-www-form-urlencoded' }), body: (i) => `amount=100&currency=usd&description=soak+${m}+${i}` },
      RATE,
      60,
    );
    const s = { minute: m, ...(await sample()), p50: r.p50, p99: r.p99 };
    samples.push(s);
    process.stdout.write(`${String(m).padStart(6)} ${s.rssMb.toFixed(1).padStart(8)} ${String(s.fds).padStart(5)} ${String(s.pgConns).padStart(9)} ${s.p50.toFixed(2).padStart(8)} ${s.p99.toFixed(2).padStart(8)}\n`);
  }
  const third = Math.max(1, Math.floor(samples.length / 3));
  const early = samples.slice(0, third);
  const late = samples.slice(-third);
  const max = (xs: number[]): number => Math.max(...xs);
  const flat = max(late.map((s) => s.rssMb)) <= max(early.map((s) => s.rssMb)) * 1.15 + 5 && max(late.map((s) => s.fds)) <= max(early.map((s) => s.fds)) + 4 && max(late.map((s) => s.pgConns)) <= max(early.map((s) => s.pgConns));
  process.stdout.write(flat ? 'memory, descriptors and connections flat: ok\n' : 'GROWTH: see the samples above\n');
  kb.kill('SIGTERM');
  fake.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  process.exitCode = flat ? 0 : 1;
}

void main();
