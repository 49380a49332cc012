// Vendor secrets set through the admin API, sealed with AES-256-GCM under the master key. The associated data
// binds each ciphertext to its workspace and vendor. Secrets from the environment are never written here.
// Where a call's secret comes from (CredentialResolver): one set through the admin API wins over the environment;
// decrypted secrets are cached briefly so that the hot path does not open them on every call.
import type { SecretBox } from '../crypto';
import type { Db } from './db';

const aad = (workspaceId: string, vendor: string): string => `keybrake:vendor-credentials:${workspaceId}:${vendor}`;

export async function putCredentials(db: Db, box: SecretBox, workspaceId: string, vendor: string, secrets: Record<string, string>, now: number): Promise<void> {
  const sealed = box.seal(JSON.stringify(secrets), aad(workspaceId, vendor));
  await db
    .knex('vendor_credentials')
    .insert({ workspace_id: workspaceId, vendor, sealed, updated_at: now })
    .onConflict(['workspace_id', 'vendor'])
    .merge({ sealed, updated_at: now });
}

export async function getCredentials(db: Db, box: SecretBox, workspaceId: string, vendor: string): Promise<Record<string, string> | undefined> {
  const row = (await db.knex('vendor_credentials').where({ workspace_id: workspaceId, vendor }).first('sealed')) as { sealed: string } | undefined;
  if (!row) return undefined;
  return JSON.parse(box.open(row.sealed, aad(workspaceId, vendor))) as Record<string, string>;
}

export async function credentialsUpdatedAt(db: Db, workspaceId: string): Promise<Record<string, number>> {
  const rows = (await db.knex('vendor_credentials').where({ workspace_id: workspaceId }).select('vendor', 'updated_at')) as { vendor: string; updated_at: number }[];
  return Object.fromEntries(rows.map((r) => [r.vendor, Number(r.updated_at)]));
}

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
