// Objects a price depends on (a payment intent to confirm, a charge to refund), fetched with the real key before
// anything is reserved or forwarded. The GETs go through the same pool, with the caller's account headers
// (the adapter's scopeHeaders and lookupHeaders).
import type { Db } from '../store/db';
import { countedFor } from '../store/counted';
import { settlementsDone } from '../store/ledger';
import type { LookupNeed, LookupResult, Lookups, VendorAdapter } from '../vendors/types';
import { upstreamHeaders, type Upstreams } from '../proxy/forward';

export async function performLookups(
  deps: { db: Db; upstreams: Upstreams },
  vendor: VendorAdapter,
  workspaceId: string,
  need: LookupNeed,
  credentials: Record<string, string>,
  inbound: Record<string, string>,
): Promise<Lookups> {
  const carried = [...(vendor.scopeHeaders ?? []), ...(vendor.lookupHeaders ?? [])];
  const headers = Object.fromEntries(Object.entries(inbound).filter(([k]) => carried.includes(k)));
  const objects: Record<string, LookupResult> = {};
  await Promise.all(
    need.paths.map(async (path) => {
      const res = await deps.upstreams.forward(vendor, { method: 'GET', pathAndQuery: path, headers: upstreamHeaders(vendor, headers, credentials, undefined), body: undefined });
      let body: unknown;
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch {
        body = undefined;
      }
      objects[path] = res.status >= 200 && res.status < 300 && body !== undefined ? { ok: true, body } : { ok: false, status: res.status };
    }),
  );
  await settlementsDone(deps.db); // a create answered a moment ago has its object counted
  return { objects, counted: await countedFor(deps.db, workspaceId, vendor.id, need.counted) };
}
