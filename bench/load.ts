// One load generator for every target: closed loop at a fixed concurrency (throughput), or open loop at a fixed
// rate (latency at a steady load). Latencies are measured per request with hrtime.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface Target {
  urls: string[];
  path: string;
  method: 'GET' | 'POST';
  /** The request body for the i-th request (distinct bodies: no two charges are duplicates). */
  body?: (i: number) => string;
  headers: Record<string, string> | ((i: number) => Record<string, string>);
}

export interface Result {
  /** Every request that got an answer, warm-up included (what the audit must hold). */
  total: number;
  requests: number;
  errors: number;
  statuses: Record<number, number>;
  rps: number;
  p50: number;
  p99: number;
}

function summarize(lat: number[], seconds: number, errors: number, statuses: Record<number, number>, total: number): Result {
  lat.sort((a, b) => a - b);
  const at = (q: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * q))] ?? NaN;
  return { total, requests: lat.length, errors, statuses, rps: lat.length / seconds, p50: at(0.5), p99: at(0.99) };
}

let counter = 0;

function pools(t: Target, connections: number): Pool[] {
  return t.urls.map((u) => new Pool(u, { connections: Math.max(1, Math.ceil(connections / t.urls.length)), pipelining: 1, keepAliveTimeout: 30_000 }));
}

async function once(pool: Pool, t: Target): Promise<number> {
  const i = counter++;
  const headers = typeof t.headers === 'function' ? t.headers(i) : t.headers;
  const res = await pool.request({ method: t.method, path: t.path, headers, body: t.body?.(i) });
  await res.body.dump();
  return res.statusCode;
}

/** `concurrency` workers send back to back for `seconds` (after a warm-up that is not counted). */
export async function closedLoop(t: Target, concurrency: number, seconds: number, warmup = 1): Promise<Result> {
  const ps = pools(t, concurrency);
  const lat: number[] = [];
  const statuses: Record<number, number> = {};
  let errors = 0;
  let total = 0;
  const startAt = performance.now() + warmup * 1000;
  const end = startAt + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      const pool = ps[w % ps.length] as Pool;
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const status = await once(pool, t);
          total++;
          if (t0 >= startAt) {
            lat.push(performance.now() - t0);
            statuses[status] = (statuses[status] ?? 0) + 1;
          }
        } catch {
          errors++;
        }
      }
    }),
  );
  await Promise.all(ps.map((p) => p.close()));
  return summarize(lat, seconds, errors, statuses, total);
}

/**
 * Requests started at a steady `rate` per second for `seconds`, whatever the answers' pace, after a warm-up second
 * at the same rate that is not counted (connections opened, code paths warm): the steady state is what is measured.
 */
export async function openLoop(t: Target, rate: number, seconds: number, warmup = 1): Promise<Result> {
  const ps = pools(t, 64);
  const lat: number[] = [];
  const statuses: Record<number, number> = {};
  let errors = 0;
  let total = 0;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  const counted = rate * warmup;
  for (let i = 0; i < rate * (seconds + warmup); i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const pool = ps[i % ps.length] as Pool;
    inflight.push(
      (async () => {
        const t0 = performance.now();
        try {
          const status = await once(pool, t);
          total++;
          if (i < counted) return;
          lat.push(performance.now() - t0);
          statuses[status] = (statuses[status] ?? 0) + 1;
        } catch {
          errors++;
        }
      })(),
    );
  }
  await Promise.all(inflight);
  await Promise.all(ps.map((p) => p.close()));
  return summarize(lat, seconds, errors, statuses, total);
}

/**
 * Like closedLoop, but the load generator stops dead after `seconds`: its connections are torn down with calls
 * still in flight, as a client that gives up would. Returns how many calls it started.
 */
export async function abandonedLoop(t: Target, concurrency: number, seconds: number): Promise<number> {
  const ps = pools(t, concurrency);
  let started = 0;
  const end = performance.now() + seconds * 1000;
  const workers = Array.from({ length: concurrency }, async (_, w) => {
    const pool = ps[w % ps.length] as Pool;
    while (performance.now() < end) {
      started++;
      await once(pool, t).catch(() => undefined);
    }
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await Promise.all(ps.map((p) => p.destroy()));
  await Promise.allSettled(workers);
  return started;
}
