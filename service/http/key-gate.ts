// Fairness between keys on one instance. A key alone may have up to `limit` calls in progress; while other keys
// have calls in progress too, or made one in the last second or two, each may have only `sharedLimit` (sparse
// traffic is rarely in progress at the moment a loop's next call arrives, so recent calls count). The rest wait
// their turn in their key's own queue.
// A stuck agent loop hammering one key then waits behind itself instead of taking the process's CPU and
// connections from every other key, yet a busy workflow that has the instance to itself keeps its parallelism.
// (Measured with a 32-way loop on one key beside 20 quiet keys making 100 calls/s: the quiet keys' p50 rose from
// 3.0 ms alone to 5.5 ms with a fixed limit of 8, and to 3.4 ms with a fixed limit of 2.)
interface KeyState {
  active: number;
  waiting: (() => void)[];
}

export class KeyGate {
  private readonly keys = new Map<string, KeyState>();
  /** Keys with at least one call in progress. */
  private busy = 0;
  /** Keys that started a call in the current second and in the one before. */
  private seen = new Set<string>();
  private seenBefore = new Set<string>();
  private second = 0;

  constructor(
    private readonly limit: number,
    private readonly sharedLimit = Math.min(limit, 2),
    private readonly clock: () => number = () => performance.now(),
  ) {}

  async enter(keyId: string): Promise<void> {
    this.note(keyId);
    let state = this.keys.get(keyId);
    if (!state) {
      state = { active: 0, waiting: [] };
      this.keys.set(keyId, state);
    }
    if (state.waiting.length === 0 && state.active < this.limitFor(keyId, state)) {
      this.take(state);
      return;
    }
    const s = state;
    await new Promise<void>((resume) => s.waiting.push(resume));
  }

  leave(keyId: string): void {
    const state = this.keys.get(keyId);
    if (!state || state.active === 0) return;
    state.active--;
    if (state.active === 0) this.busy--;
    this.admit(keyId, state);
    if (state.active === 0 && state.waiting.length === 0) {
      this.keys.delete(keyId);
      // One key fewer is busy: the others' limits may have risen.
      for (const [id, other] of this.keys) if (other.waiting.length > 0) this.admit(id, other);
    }
  }

  /** Calls in progress or waiting, for tests and metrics. */
  size(keyId: string): { active: number; waiting: number } {
    const s = this.keys.get(keyId);
    return { active: s?.active ?? 0, waiting: s?.waiting.length ?? 0 };
  }

  private note(keyId: string): void {
    this.rotate();
    this.seen.add(keyId);
  }

  private rotate(): void {
    const second = Math.floor(this.clock() / 1000);
    if (second === this.second) return;
    this.seenBefore = second === this.second + 1 ? this.seen : new Set();
    this.seen = new Set();
    this.second = second;
  }

  private limitFor(keyId: string, state: KeyState): number {
    this.rotate();
    const busyOthers = this.busy - (state.active > 0 ? 1 : 0);
    const recentOthers = (set: Set<string>): boolean => set.size > (set.has(keyId) ? 1 : 0);
    return busyOthers > 0 || recentOthers(this.seen) || recentOthers(this.seenBefore) ? this.sharedLimit : this.limit;
  }

  private take(state: KeyState): void {
    if (state.active === 0) this.busy++;
    state.active++;
  }

  /** Lets waiting calls of a key in, in order, while it is under its limit; each is handed its slot. */
  private admit(keyId: string, state: KeyState): void {
    while (state.waiting.length > 0 && state.active < this.limitFor(keyId, state)) {
      this.take(state);
      (state.waiting.shift() as () => void)();
    }
  }
}
