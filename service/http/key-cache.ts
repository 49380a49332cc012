// Vault keys as the proxy last read them, by the hash of the secret. A cached key is only a guess: each
// reservation carries the policy epoch the key was read under and the store refuses it as stale when a key of the
// workspace has been revoked or changed since (store/ledger.ts), on any instance; the proxy then reads the key
// afresh and decides again. So the hot path reads a key once, not on every call, and a revocation is still seen
// by the very next request everywhere.
import type { Db } from '../store/db';
import { findKeyByHash, type StoredKey } from '../store/keys';

export class KeyCache {
  private readonly entries = new Map<string, StoredKey>();

  constructor(
    private readonly db: Db,
    private readonly max = 10_000,
  ) {}

  /** The key for a hash, from the cache unless `fresh`; `cached` tells which. Unknown keys are not cached. */
  async get(keyHash: string, fresh: boolean): Promise<{ key: StoredKey | undefined; cached: boolean }> {
    if (!fresh) {
      const hit = this.entries.get(keyHash);
      if (hit) return { key: hit, cached: true };
    }
    const key = await findKeyByHash(this.db, keyHash);
    this.entries.delete(keyHash);
    if (key) {
      if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
      this.entries.set(keyHash, key);
    }
    return { key, cached: false };
  }

  get size(): number {
    return this.entries.size;
  }
}
