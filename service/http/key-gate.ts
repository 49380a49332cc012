// Fairness between keys on one instance. A key alone may have up to `limit` calls in progress; while other keys
// have calls in progress too, or made one in the last second or two, each may have only `sharedLimit` (sparse
// traffic is rarely in progress at the moment a loop's next call arrives, so recent calls count). The rest wait
// their turn in their key's own queue.
// A stuck agent loop hammering one key then waits behind itself instead of taking the process's CPU and
// connections from every other key, yet a busy workflow that has the instance to itself keeps its parallelism.
// (Measured with a 32-way loop on one key beside 20 quiet keys making 100 calls/s: the quiet keys' p50 rose from
// 3.0 ms alone to 5.5 ms with a fixed limit of 8, and to 3.4 ms with a fixed limit of 2.)
interface Waiter {
  /** Hands the waiter its turn; false when it had already given up (timed out, or its caller went away). */
  admit(): boolean;
}

interface KeyState {
  active: number;
  waiting: Waiter[];
}

/** How a wait for a turn ended: the turn was taken (and must be given back with leave), or it was given up. */
export type Turn = 'entered' | 'timeout' | 'gone';

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

  /**
   * Takes a turn for the key, waiting in its queue if need be: at most `maxWaitMs`, and no longer than the caller
   * is there (`signal`). A wait that ends without a turn leaves nothing behind.
   */
  enter(keyId: string, opts: { maxWaitMs?: number; signal?: AbortSignal } = {}): Promise<Turn> {
    this.note(keyId);
    let state = this.keys.get(keyId);
    if (!state) {
      state = { active: 0, waiting: [] };
      this.keys.set(keyId, state);
    }
    if (opts.signal?.aborted) {
      this.forget(keyId, state);
      return Promise.resolve('gone');
    }
    if (state.waiting.length === 0 && state.active < this.limitFor(keyId, state)) {
      this.take(state);
      return Promise.resolve('entered');
    }
    const s = state;
    return new Promise<Turn>((resume) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const giveUp = (how: Turn): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        const i = s.waiting.indexOf(waiter);
        if (i !== -1) s.waiting.splice(i, 1);
        this.forget(keyId, s);
        resume(how);
      };
      const onAbort = (): void => giveUp('gone');
      const waiter: Waiter = {
        admit: () => {
          if (done) return false;
          done = true;
          if (timer) clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          resume('entered');
          return true;
        },
      };
      s.waiting.push(waiter);
      if (opts.maxWaitMs !== undefined) timer = setTimeout(() => giveUp('timeout'), opts.maxWaitMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
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

  /** Turns taken and waits pending over every key: zero whenever no call is in progress. */
  total(): { active: number; waiting: number; keys: number } {
    let active = 0;
    let waiting = 0;
    for (const s of this.keys.values()) {
      active += s.active;
      waiting += s.waiting.length;
    }
    return { active, waiting, keys: this.keys.size };
  }

  /** Drops a key's state once nothing of it is left. */
  private forget(keyId: string, state: KeyState): void {
    if (state.active === 0 && state.waiting.length === 0 && this.keys.get(keyId) === state) this.keys.delete(keyId);
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
      const waiter = state.waiting.shift() as Waiter;
      this.take(state);
      if (!waiter.admit()) this.untake(state);
    }
  }

  private untake(state: KeyState): void {
    state.active--;
    if (state.active === 0) this.busy--;
  }
}
