// Fairness between keys on one instance: at most `limit` calls of one vault key are in progress at once; the rest
// wait their turn in that key's own queue. A stuck agent loop hammering one key then waits behind itself instead
// of taking the process's CPU and connections from every other key.
export class KeyGate {
  private readonly keys = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(private readonly limit: number) {}

  async enter(keyId: string): Promise<void> {
    let state = this.keys.get(keyId);
    if (!state) {
      state = { active: 0, waiting: [] };
      this.keys.set(keyId, state);
    }
    if (state.active < this.limit) {
      state.active++;
      return;
    }
    const s = state;
    await new Promise<void>((resume) => s.waiting.push(resume));
  }

  leave(keyId: string): void {
    const state = this.keys.get(keyId);
    if (!state) return;
    const next = state.waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else if (--state.active === 0) this.keys.delete(keyId);
  }

  /** Calls in progress or waiting, for tests and metrics. */
  size(keyId: string): { active: number; waiting: number } {
    const s = this.keys.get(keyId);
    return { active: s?.active ?? 0, waiting: s?.waiting.length ?? 0 };
  }
}
