// Group commit (design §5): the jobs queued during one turn of the event loop run in one transaction, and each
// caller resumes once that transaction has committed. Jobs name the spend rows they write; a job whose rows a batch
// still in flight holds waits for it here rather than on the database's row lock, so that batches of this instance
// never wait on each other (no deadlock cycle among them) and a hot key's calls go in the next batch together.
// If a batch fails, its jobs are run again one by one, so that one bad job fails only itself.

export interface Queued<J, R> {
  job: J;
  rows: readonly string[];
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class Batcher<J, R> {
  private queue: Queued<J, R>[] = [];
  private scheduled = false;
  /** Rows held by batches in flight, with how many of those batches hold each. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly run: (jobs: J[]) => Promise<R[]>,
    private readonly maxBatch: number,
  ) {}

  push(job: J, rows: readonly string[]): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ job, rows, resolve, reject });
      this.schedule();
    });
  }

  /** Jobs waiting for a batch (for tests and metrics). */
  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const taken: Queued<J, R>[] = [];
    const left: Queued<J, R>[] = [];
    for (const q of this.queue) {
      if (taken.length < this.maxBatch && !q.rows.some((r) => this.held.has(r))) taken.push(q);
      else left.push(q);
    }
    this.queue = left;
    if (taken.length === 0) return;
    // One order in which every batch takes its rows.
    taken.sort((a, b) => compare(a.rows.join('\u0001'), b.rows.join('\u0001')));
    void this.batch(taken);
    if (left.length > 0 && left.some((q) => !q.rows.some((r) => this.held.has(r)))) this.schedule();
  }

  private async batch(taken: Queued<J, R>[]): Promise<void> {
    const rows = [...new Set(taken.flatMap((q) => q.rows))];
    for (const r of rows) this.held.set(r, (this.held.get(r) ?? 0) + 1);
    try {
      const results = await this.run(taken.map((q) => q.job));
      taken.forEach((q, i) => q.resolve(results[i] as R));
    } catch {
      for (const q of taken) {
        await this.run([q.job]).then((r) => q.resolve(r[0] as R), q.reject);
      }
    } finally {
      for (const r of rows) {
        const n = (this.held.get(r) ?? 1) - 1;
        if (n === 0) this.held.delete(r);
        else this.held.set(r, n);
      }
      if (this.queue.length > 0) this.schedule();
    }
  }
}

/** Code-unit order: the same on every instance. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
