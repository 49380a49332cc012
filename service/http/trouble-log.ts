// One line per interval while the database is down, not one (or two) per refused call: the first failure is
// logged at once; the ones after it are counted and summed up every interval until they stop.
import type { Logger } from 'pino';

export class TroubleLog {
  private counts = new Map<string, number>();
  private last = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  note(err: Error, what: string): void {
    this.last = err.message;
    if (this.timer === undefined) {
      this.log.error({ err: err.message }, `${what}; further failures are counted and logged every ${this.intervalMs / 1000} s`);
      this.timer = setInterval(() => this.flush(), this.intervalMs);
      this.timer.unref();
      return;
    }
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
  }

  /** Logs what was counted since the last line; stops once an interval passes without a failure. */
  flush(): void {
    if (this.counts.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const failures = Object.fromEntries(this.counts);
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    this.log.error({ failures, last_err: this.last }, `${total} calls failed on the store in the last ${this.intervalMs / 1000} s`);
    this.counts = new Map();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
