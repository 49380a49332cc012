// Collects what callers queue during one turn of the event loop and hands it to `flush` in one batch (group
// commit); each caller's promise settles with its own item's outcome once the batch is done.

export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export class TickQueue<I, R> {
  private queue: { item: I; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly flush: (items: I[]) => Promise<Outcome<R>[]>,
    private readonly maxBatch = 256,
  ) {}

  push(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue.splice(0, this.maxBatch);
    if (this.queue.length > 0) this.schedule();
    if (batch.length === 0) return;
    let outcomes: Outcome<R>[];
    try {
      outcomes = await this.flush(batch.map((b) => b.item));
    } catch (error) {
      for (const b of batch) b.reject(error);
      return;
    }
    batch.forEach((b, i) => {
      const o = outcomes[i];
      if (o?.ok) b.resolve(o.value);
      else b.reject(o ? o.error : new Error('no outcome for a queued write'));
    });
  }
}
