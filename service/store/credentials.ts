// Vendor secrets set through the admin API, sealed with AES-256-GCM under the master key. The associated data
// binds each ciphertext to its workspace and vendor. Secrets from the environment are never written here.
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
