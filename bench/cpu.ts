// Where the machine's time goes: CPU time per request of each process taking part (proxy, database, fake
// vendor, load generator), read from /proc on Linux. On two shared cores throughput is whatever total CPU per
// request allows, so this column says what a ratio alone cannot.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const TICK_US = 10_000; // Linux reports utime and stime in USER_HZ (100 per second)

export const cpuMeasurable = existsSync('/proc/self/stat');

interface Stat {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}

function all(): Stat[] {
  const out: Stat[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const text = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = text.lastIndexOf(')');
      const f = text.slice(close + 2).split(' ');
      out.push({ pid: Number(d), ppid: Number(f[1]), comm: text.slice(text.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** A group: processes by pid (with their descendants, e.g. cluster workers), or every PostgreSQL process. */
export type CpuGroup = number[] | 'postgres';

/** CPU time used so far, in microseconds, by each group. */
export function cpuNow(groups: Record<string, CpuGroup>): Record<string, number> {
  const stats = all();
  const children = new Map<number, Stat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  const tree = (pid: number): number => (byPid.get(pid)?.ticks ?? 0) + (children.get(pid) ?? []).reduce((n, c) => n + tree(c.pid), 0);
  const out: Record<string, number> = {};
  for (const [name, g] of Object.entries(groups)) {
    const ticks = g === 'postgres' ? stats.filter((s) => s.comm === 'postgres').reduce((n, s) => n + s.ticks, 0) : g.reduce((n, pid) => n + tree(pid), 0);
    out[name] = ticks * TICK_US;
  }
  return out;
}
