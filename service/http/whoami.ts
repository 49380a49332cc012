// GET /vault/whoami with a vault key (not the admin key): what the key may do and how much room it has left. The
// Dify plugin checks a key with it when a user saves the provider's credentials.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hashSecret } from '../crypto';
import { ApiError, errorBody, errorHeaders } from '../errors';
import { limitsFor } from './limits';
import type { Db } from '../store/db';
import { findKeyByHash } from '../store/keys';
import { spentIn } from '../store/ledger';
import { microsToUsd } from '../vendors/currency';
import { presentedVaultKey } from './vault-key';

export async function whoami(db: Db, clock: () => number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const fail = (err: ApiError): void => {
    res.writeHead(err.status, { 'content-type': 'application/json', ...errorHeaders(err) });
    res.end(JSON.stringify(errorBody(err)));
  };
  const presented = presentedVaultKey(req.headers);
  if (presented === undefined) return fail(new ApiError('vault_key_missing', 'No vault key: send it as Authorization: Bearer vault_key_…'));
  const key = presented === '' ? undefined : await findKeyByHash(db, hashSecret(presented));
  const now = clock();
  if (!key) return fail(new ApiError('vault_key_invalid', 'This vault key is not known to Keybrake.'));
  if (key.revokedAt !== null) return fail(new ApiError('vault_key_revoked', 'This vault key has been revoked.'));
  if (key.expiresAt !== null && key.expiresAt <= now) return fail(new ApiError('vault_key_expired', `This vault key expired at ${new Date(key.expiresAt).toISOString()}.`));
  const limits = limitsFor(key, now);
  const spent = await spentIn(db, key.id, limits.keyWindow.start);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      key_id: key.id,
      vendor: key.vendor,
      label: key.label,
      allowed_endpoints: key.allowedEndpoints.map((p) => p.source),
      daily_usd_cap: microsToUsd(key.dailyCapMicros),
      spent_today_usd: microsToUsd(spent),
      remaining_today_usd: microsToUsd(Math.max(0, key.dailyCapMicros - spent)),
      resets_at: new Date(limits.keyWindow.resetsAt).toISOString(),
      expires_at: key.expiresAt === null ? null : new Date(key.expiresAt).toISOString(),
    }),
  );
}
