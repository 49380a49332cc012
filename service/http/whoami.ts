// GET /vault/whoami with a vault key (not the admin key): what the key may do and how much room it has left. The
// Dify plugin checks a key with it when a user saves the provider's credentials.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hashSecret } from '../crypto';
import { ApiError, errorBody, errorHeaders } from '../errors';
import { checkKey } from '../policy/decide';
import { limitsFor } from '../policy/limits';
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
  const found = presented === undefined ? undefined : presented === '' ? null : ((await findKeyByHash(db, hashSecret(presented))) ?? null);
  const now = clock();
  const checked = checkKey(found, now);
  if (!checked.ok) return fail(new ApiError(checked.code, checked.message));
  const key = checked.key;
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
