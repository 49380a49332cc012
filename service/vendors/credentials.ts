// Where a vendor's real secret comes from: one set through the admin API (sealed in the store) wins over the
// environment. Decrypted secrets are cached briefly so that the hot path does not open them on every call.
import type { SecretBox } from '../crypto';
import type { Db } from '../store/db';
import { getCredentials } from '../store/credentials';

const TTL_MS = 5_000;

export class CredentialResolver {
  private readonly cache = new Map<string, { at: number; value: Record<string, string> | undefined }>();

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly envSecrets: Record<string, Record<string, string>>,
    private readonly clock: () => number = Date.now,
  ) {}

  async resolve(workspaceId: string, vendor: string): Promise<Record<string, string> | undefined> {
    const cacheKey = `${workspaceId}:${vendor}`;
    const hit = this.cache.get(cacheKey);
    const now = this.clock();
    if (hit && now - hit.at < TTL_MS) return hit.value;
    const stored = await getCredentials(this.db, this.box, workspaceId, vendor);
    const value = stored ?? this.envSecrets[vendor];
    this.cache.set(cacheKey, { at: now, value });
    return value;
  }

  /** The vendor's secrets from the environment, if any (still secrets when the API has set others). */
  fromEnv(vendor: string): Record<string, string> | undefined {
    return this.envSecrets[vendor];
  }

  source(vendor: string, storedVendors: Record<string, number>): 'api' | 'env' | 'none' {
    if (storedVendors[vendor] !== undefined) return 'api';
    return this.envSecrets[vendor] ? 'env' : 'none';
  }

  invalidate(workspaceId: string, vendor: string): void {
    this.cache.delete(`${workspaceId}:${vendor}`);
  }
}
