// What the key routes (http/admin-routes.ts) take and give: the bodies and queries of /vault/keys, validated, and a
// key as the API shows it.
import { z } from 'zod';
import { ApiError } from '../errors';
import { parseDuration } from '../policy/window';
import type { StoredKey } from '../store/keys';
import { microsToUsd } from '../vendors/currency';
import { PolicyFields, policyView, usd } from './key-policy';

export const CreateKeyBody = z
  .object({
    vendor: z.string(),
    daily_usd_cap: usd,
    allowed_endpoints: z.array(z.string()).min(1, 'list at least one endpoint such as "POST /v1/payment_intents" (or "*" for all)').max(200),
    expires_in: z.string().optional(),
    expires_at: z.string().datetime({ offset: true, message: 'an ISO 8601 date-time' }).optional(),
    label: z.string().max(256).default(''),
    ...PolicyFields,
  })
  .strict();

export const PatchKeyBody = z
  .object({
    daily_usd_cap: usd.optional(),
    allowed_endpoints: CreateKeyBody.shape.allowed_endpoints.optional(),
    expires_in: z.string().optional(),
    expires_at: z.string().datetime({ offset: true, message: 'an ISO 8601 date-time' }).nullable().optional(),
    label: z.string().max(256).optional(),
    ...PolicyFields,
  })
  .strict();

export const ListQuery = z
  .object({
    label: z.string().optional(),
    label_prefix: z.string().optional(),
    vendor: z.string().optional(),
    status: z.enum(['active', 'revoked', 'expired']).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().optional(),
  })
  .strict();

export const RevokeBody = z
  .object({ label_prefix: z.string().min(1, 'must not be empty (it would revoke every key)').optional(), ids: z.array(z.string().min(1)).min(1, 'must list at least one key id').max(1000).optional() })
  .strict()
  .superRefine((b, ctx) => {
    if ((b.label_prefix === undefined) === (b.ids === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give label_prefix (revoke every key whose label starts with it) or ids (a list of key ids), one of the two' });
    }
  });

export function keyStatus(k: StoredKey, now: number): 'active' | 'revoked' | 'expired' {
  if (k.revokedAt !== null) return 'revoked';
  if (k.expiresAt !== null && k.expiresAt <= now) return 'expired';
  return 'active';
}

export function keyView(k: StoredKey, now: number): Record<string, unknown> {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: k.id,
    vendor: k.vendor,
    label: k.label,
    key_prefix: k.keyPrefix,
    status: keyStatus(k, now),
    daily_usd_cap: microsToUsd(k.dailyCapMicros),
    allowed_endpoints: k.allowedEndpoints.map((p) => p.source),
    ...policyView(k.policy),
    expires_at: iso(k.expiresAt),
    created_at: iso(k.createdAt),
    revoked_at: iso(k.revokedAt),
  };
}

/** `expires_in` or `expires_at` → epoch ms (null: never); undefined when neither was given. */
export function expiry(body: { expires_in?: string | undefined; expires_at?: string | null | undefined }, now: number): number | null | undefined {
  if (body.expires_in !== undefined && body.expires_at !== undefined) {
    throw new ApiError('invalid_request', 'expires_in: give expires_in or expires_at, not both', { param: 'expires_in' });
  }
  if (body.expires_in !== undefined) {
    const ms = parseDuration(body.expires_in);
    if (ms === undefined) throw new ApiError('invalid_request', 'expires_in: expected a duration such as 30m, 2h, 72h or 7d (at most 366d)', { param: 'expires_in' });
    return now + ms;
  }
  if (body.expires_at === null) return null;
  if (body.expires_at !== undefined) {
    const at = Date.parse(body.expires_at);
    if (at <= now) throw new ApiError('invalid_request', 'expires_at: must be in the future', { param: 'expires_at' });
    return at;
  }
  return undefined;
}

