// npm run bench: one load generator, fixed concurrency levels, five targets side by side —
//   (a) the fake vendor directly, (b) a bare undici pass-through proxy (the baseline), (c) Keybrake on SQLite,
//   (d) Keybrake on PostgreSQL, (e) two Keybrake processes on one PostgreSQL, (f) cluster mode (a worker per core) —
// for a money-moving call and a zero-cost read; then latency at a steady 500 requests/s, a hot key beside quiet
// ones, and checks that spend equals what the vendor accepted and that every request has its audit row.
// BENCH_SECONDS (default 5) sets each throughput run's length.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { cpuMeasurable, cpuNow, type CpuGroup } from './cpu';
import { abandonedLoop, closedLoop, openLoop, type Result, type Target } from './load';
import { ADMIN, keybrakeArgs, keybrakeEnv, listening, plain, startProcess, tsx } from './processes';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PG_ADMIN = process.env.KEYBRAKE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const children: ChildProcess[] = [];
const pidOf = new Map<string, number>();

async function start(args: string[], env: Record<string, string>, pick: (line: string) => string | undefined): Promise<string> {
  const { child, ready } = startProcess(args, env, pick);
  children.push(child);
  const url = await ready;
  pidOf.set(url, child.pid as number);
  return url;
}

async function keybrake(env: Record<string, string>): Promise<string> {
  return start(keybrakeArgs, keybrakeEnv({ KEYBRAKE_LOG_LEVEL: 'info', ...env }), listening);
}

/** A key with duplicate protection off (as the rows before this change measured), or as issued by default. */
async function issueKey(url: string, label: string, asDefault = false): Promise<{ id: string; vault_key: string }> {
  const res = await fetch(`${url}/vault/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ vendor: 'stripe', daily_usd_cap: 10_000_000, allowed_endpoints: ['POST /v1/charges', 'GET /v1/customers/{id}'], ...(asDefault ? {} : { dedupe_window: 'off' }), label }),
  });
  return (await res.json()) as { id: string; vault_key: string };
}

/** Requests rotate over the given vault keys. */
const auth =
  (keys: string[] | undefined) =>
  (i: number): Record<string, string> =>
    keys && keys.length > 0 ? { authorization: `Bearer ${keys[i % keys.length] as string}` } : {};
const charge = (urls: string[], prefix: string, keys?: string[]): Target => ({
  urls,
  path: `${prefix}/v1/charges`,
  method: 'POST',
  headers: (i) => ({ 'content-type': 'application/x-www-form-urlencoded', ...auth(keys)(i) }),
  body: (i) => `amount=100&currency=usd&description=bench+${i}`,
});
const read = (urls: string[], prefix: string, keys?: string[]): Target => ({ urls, path: `${prefix}/v1/customers/cus_bench`, method: 'GET', headers: auth(keys) });
const vk = (list: { vault_key: string }[]): string[] => list.map((k) => k.vault_key);

const fmt = (r: Result): string => `${r.rps.toFixed(0).padStart(7)} ${r.p50.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(7)}`;

async function main(): Promise<void> {
  process.stdout.write(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; ${SECONDS} s per run\n\n`);
  const fake = await start(tsx('bench/fake-vendor.ts'), {}, plain);
  const stats = async (): Promise<{ acceptedMinor: number }> => (await (await fetch(`${fake}/__stats`)).json()) as { acceptedMinor: number };
  const baseline = await start(tsx('bench/baseline-proxy.ts', fake), {}, plain);
  const upstream = { STRIPE_SECRET_KEY: 'sk_test_bench', KEYBRAKE_UPSTREAM_STRIPE: fake };
  const sqlite = await keybrake({ ...upstream, KEYBRAKE_SQLITE_PATH: join(mkdtempSync(join(tmpdir(), 'kb-bench-')), 'kb.db') });
  const dbName = `kb_bench_${Date.now()}`;
  const pgAdmin = new Client({ connectionString: PG_ADMIN });
  await pgAdmin.connect();
  await pgAdmin.query(`CREATE DATABASE ${dbName}`);
  const pgUrl = new URL(PG_ADMIN);
  pgUrl.pathname = `/${dbName}`;
  const pg1 = await keybrake({ ...upstream, DATABASE_URL: pgUrl.toString() });
  const pg2 = await keybrake({ ...upstream, DATABASE_URL: pgUrl.toString() });
  const clustered = await keybrake({ ...upstream, DATABASE_URL: pgUrl.toString(), KEYBRAKE_WORKERS: 'auto' });

  // Throughput runs spread over 64 keys, as many conversations would; the hot-key run below uses one.
  const many = async (url: string, label: string, asDefault = false): Promise<{ id: string; vault_key: string }[]> => Promise.all(Array.from({ length: 64 }, (_, i) => issueKey(url, `${label}/${i}`, asDefault)));
  const keys = {
    sqlite: await many(sqlite, 'bench-sqlite'),
    sqliteDefault: await many(sqlite, 'bench-sqlite-default', true),
    pg: await many(pg1, 'bench-pg'),
    pgDefault: await many(pg1, 'bench-pg-default', true),
    pg2: await many(pg1, 'bench-pg2'),
    cluster: await many(pg1, 'bench-cluster'),
  };
  const hotKey = await issueKey(pg1, 'bench-hot');
  const targets = (kind: 'charge' | 'read'): [string, Target, string | undefined][] => {
    const make = kind === 'charge' ? charge : read;
    return [
      ['(a) direct', make([fake], ''), undefined],
      ['(b) bare proxy', make([baseline], '/stripe'), undefined],
      ['(c) Keybrake SQLite', make([sqlite], '/stripe', vk(keys.sqlite)), 'sqlite'],
      // The key as POST /vault/keys issues it: duplicate protection on (each charge here is a different one).
      ...(kind === 'charge' ? [['(c′) SQLite, default key', make([sqlite], '/stripe', vk(keys.sqliteDefault)), 'sqliteDefault'] as [string, Target, string]] : []),
      ['(d) Keybrake PostgreSQL', make([pg1], '/stripe', vk(keys.pg)), 'pg'],
      ...(kind === 'charge' ? [['(d′) PostgreSQL, default key', make([pg1], '/stripe', vk(keys.pgDefault)), 'pgDefault'] as [string, Target, string]] : []),
      ['(e) 2 × Keybrake, 1 PostgreSQL', make([pg1, pg2], '/stripe', vk(keys.pg2)), 'pg2'],
      ['(f) cluster (1/core), PostgreSQL', make([clustered], '/stripe', vk(keys.cluster)), 'cluster'],
    ];
  };

  const sent: Record<string, number> = {};
  const accepted: Record<string, number> = {};
  for (const kind of ['charge', 'read'] as const) {
    process.stdout.write(`${kind === 'charge' ? 'POST /v1/charges (money-moving)' : 'GET /v1/customers/{id} (zero cost)'}\n`);
    process.stdout.write(`${'concurrency'.padEnd(12)}${'target'.padEnd(32)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}  vs (b)  +p50 over (a)  ${cpuMeasurable ? 'CPU µs per request: proxy / database / vendor / load generator' : ''}\n`);
    for (const c of [1, 32, 128]) {
      const rows: [string, Result, string][] = [];
      for (const [name, target, id] of targets(kind)) {
        const before = (await stats()).acceptedMinor;
        const proxies = target.urls.filter((u) => u !== fake).map((u) => pidOf.get(u) as number);
        const groups: Record<string, CpuGroup> = { proxy: proxies, database: id && !id.startsWith('sqlite') ? 'postgres' : [], vendor: [pidOf.get(fake) as number] };
        const cpu0 = cpuMeasurable ? cpuNow(groups) : {};
        const self0 = process.cpuUsage();
        const r = await closedLoop(target, c, SECONDS);
        const self = process.cpuUsage(self0);
        const cpu1 = cpuMeasurable ? cpuNow(groups) : {};
        const per = (us: number): string => (us / Math.max(1, r.total)).toFixed(0);
        const used = (g: string): string => (Array.isArray(groups[g]) && (groups[g] as number[]).length === 0 ? '–' : per((cpu1[g] ?? 0) - (cpu0[g] ?? 0)));
        const cpu = cpuMeasurable ? [...['proxy', 'database', 'vendor'].map(used), per(self.user + self.system)].join(' / ') : '';
        if (id) {
          sent[id] = (sent[id] ?? 0) + r.total;
          accepted[id] = (accepted[id] ?? 0) + ((await stats()).acceptedMinor - before);
        }
        rows.push([name, r, cpu]);
      }
      const base = rows[1]?.[1] as Result;
      const direct = rows[0]?.[1] as Result;
      for (const [name, r, cpu] of rows) {
        const ratio = name.startsWith('(a)') || name.startsWith('(b)') ? '' : `${((r.rps / base.rps) * 100).toFixed(0)}%`;
        const added = name.startsWith('(a)') ? '' : `+${(r.p50 - direct.p50).toFixed(2)} ms`;
        const bad = r.errors + Object.entries(r.statuses).filter(([s]) => Number(s) >= 400).reduce((n, [, v]) => n + v, 0);
        process.stdout.write(`${String(c).padEnd(12)}${name.padEnd(32)} ${fmt(r)}  ${ratio.padStart(5)}  ${added.padEnd(13)}  ${cpu}${bad ? `  (${bad} failed)` : ''}\n`);
      }
    }
    process.stdout.write('\n');
  }

  // The throughput runs leave PostgreSQL with dirty pages and tables due for autovacuum; checkpoint and vacuum now,
  // so that the latency runs measure the proxies rather than that housekeeping running on the same two cores.
  const bench = new Client({ connectionString: pgUrl.toString() });
  await bench.connect();
  await bench.query('CHECKPOINT');
  await bench.query('VACUUM (ANALYZE)');
  await bench.end();
  process.stdout.write('steady 500 req/s of POST /v1/charges for 10 s\n');
  const steady: [string, Target][] = [
    ['(a) direct', charge([fake], '')],
    ['(b) bare proxy', charge([baseline], '/stripe')],
    ['(c) Keybrake SQLite', charge([sqlite], '/stripe', vk(keys.sqlite))],
    ['(d) Keybrake PostgreSQL', charge([pg1], '/stripe', vk(keys.pg))],
  ];
  let directSteady: Result | undefined;
  for (const [name, target] of steady) {
    const before = (await stats()).acceptedMinor;
    const r = await openLoop(target, 500, 10);
    const id = name.includes('SQLite') ? 'sqlite' : name.includes('PostgreSQL') ? 'pg' : undefined;
    if (id) {
      sent[id] = (sent[id] ?? 0) + r.total;
      accepted[id] = (accepted[id] ?? 0) + ((await stats()).acceptedMinor - before);
    }
    directSteady ??= r;
    const added = name.startsWith('(a)') ? '' : `added p50 +${(r.p50 - directSteady.p50).toFixed(2)} ms, p99 +${(r.p99 - directSteady.p99).toFixed(2)} ms`;
    process.stdout.write(`${name.padEnd(32)} ${fmt(r)}  ${added}\n`);
  }

  process.stdout.write('\nhot key (32 concurrent charges) beside 20 quiet keys (100 reads/s together), Keybrake PostgreSQL, 10 s\n');
  const quiet = vk(await Promise.all(Array.from({ length: 20 }, (_, i) => issueKey(pg1, `bench-quiet-${i}`))));
  const alone = await openLoop(read([pg1], '/stripe', quiet), 100, 10);
  const before = (await stats()).acceptedMinor;
  const [hot, beside] = await Promise.all([closedLoop(charge([pg1], '/stripe', [hotKey.vault_key]), 32, 10, 0), openLoop(read([pg1], '/stripe', quiet), 100, 10)]);
  const hotAccepted = (await stats()).acceptedMinor - before;
  process.stdout.write(`quiet keys alone                 ${fmt(alone)}\nquiet keys beside the hot key    ${fmt(beside)}\nthe hot key                      ${fmt(hot)}\n`);

  process.stdout.write('\nchecks\n');
  let failed = false;
  const usageOf = async (url: string, labelPrefix: string): Promise<{ spent: number; rows: number }> => {
    const res = (await (await fetch(`${url}/usage?group_by=label&label_prefix=${encodeURIComponent(labelPrefix)}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
      data: { spent_usd: number; requests: number }[];
    };
    return { spent: res.data.reduce((n, r) => n + r.spent_usd, 0), rows: res.data.reduce((n, r) => n + r.requests, 0) };
  };
  const checks: [string, string, string, number, number][] = [
    ['sqlite', sqlite, 'bench-sqlite/', accepted.sqlite ?? 0, sent.sqlite ?? 0],
    ['sqlite default key', sqlite, 'bench-sqlite-default/', accepted.sqliteDefault ?? 0, sent.sqliteDefault ?? 0],
    ['pg', pg1, 'bench-pg/', accepted.pg ?? 0, sent.pg ?? 0],
    ['pg default key', pg1, 'bench-pg-default/', accepted.pgDefault ?? 0, sent.pgDefault ?? 0],
    ['pg × 2', pg1, 'bench-pg2/', accepted.pg2 ?? 0, sent.pg2 ?? 0],
    ['cluster', pg1, 'bench-cluster/', accepted.cluster ?? 0, sent.cluster ?? 0],
    ['hot key', pg1, 'bench-hot', hotAccepted, hot.total],
  ];
  for (const [name, url, prefix, acceptedMinor, requests] of checks) {
    const { spent, rows } = await usageOf(url, prefix);
    const vendor = acceptedMinor / 100;
    const ok = Math.abs(spent - vendor) < 1e-6 && rows === requests;
    failed ||= !ok;
    process.stdout.write(`${name.padEnd(18)} spend $${spent.toFixed(2)} vs accepted by the vendor $${vendor.toFixed(2)}; audit rows ${rows} vs requests ${requests}  ${ok ? 'ok' : 'MISMATCH'}\n`);
  }
  // A load generator that stops with calls in flight (its connections torn down mid-call) must leave every key
  // usable: afterwards each key answers a call at once.
  for (const [name, url, list] of [
    ['sqlite', sqlite, keys.sqlite],
    ['pg', pg1, keys.pg],
  ] as const) {
    const abandoned = await abandonedLoop(charge([url], '/stripe', vk(list)), 128, 2);
    let stuck = 0;
    await Promise.all(
      list.map(async (k) => {
        const res = await fetch(`${url}/stripe/v1/customers/cus_bench`, { headers: { authorization: `Bearer ${k.vault_key}` }, signal: AbortSignal.timeout(3000) }).catch(() => undefined);
        if (!res || res.status !== 200) stuck++;
      }),
    );
    failed ||= stuck > 0;
    process.stdout.write(`${name.padEnd(18)} after ${abandoned} calls cut off in flight, ${list.length - stuck} of ${list.length} keys answer at once  ${stuck === 0 ? 'ok' : 'STUCK'}\n`);
  }
  for (const child of children) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  await pgAdmin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await pgAdmin.end();
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  for (const child of children) child.kill('SIGTERM');
  process.exitCode = 1;
});
