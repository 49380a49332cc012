// Admin API (design §3), behind `Authorization: Bearer <admin key>`. Every body is validated; a bad one gets a
// 400 naming the field and changes nothing.
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { hashSecret, newId, newVaultKey, safeEqual, type SecretBox } from '../crypto';
import { ApiError } from '../errors';
import { parseDuration } from '../policy/window';
import { workspaceForAdminKey } from '../store/admin-keys';
import { credentialsUpdatedAt, putCredentials } from '../store/credentials';
import type { Knex } from 'knex';
import type { Db } from '../store/db';
import { getBudget } from '../store/budgets';
import { getKey, insertKey, listKeys, revokeKeys, updateKey, type StoredKey } from '../store/keys';
import { spentIn, spentInMany } from '../store/ledger';
import type { CredentialResolver } from '../vendors/credentials';
import { microsToUsd, usdToMicros } from '../vendors/currency';
import type { VendorRegistry } from '../vendors/registry';
import type { VendorAdapter } from '../vendors/types';
import { enqueue, keyEvent, type GlobalTarget } from '../alerts/events';
import type { Redactor } from '../proxy/redact';
import { auditView, createAuditRouter } from './audit-routes';
import { createReconcileRouter } from './reconcile-routes';
import { auditById } from '../store/audit-query';
import type { Metrics } from './metrics';
import { createBudgetRouter } from './budget-routes';
import { applyPolicy, PolicyFields, policyView, usd } from './key-policy';
import { limitsFor, TOTAL_WINDOW } from './limits';
import { checkEndpoints } from './endpoint-check';
import { parseOrThrow } from './validate';

export interface AdminDeps {
  db: Db;
  registry: VendorRegistry;
  box: SecretBox;
  credentials: CredentialResolver;
  adminKey: string | undefined;
  clock: () => number;
  redactor: Redactor;
  webhooks: readonly GlobalTarget[];
  webhookSecret: string;
  metrics: Metrics;
  /** A token that may read GET /metrics and nothing else (KEYBRAKE_METRICS_TOKEN). */
  metricsToken: string | undefined;
  log: Logger;
}

const CreateKeyBody = z
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

const PatchKeyBody = z
  .object({
    daily_usd_cap: usd.optional(),
    allowed_endpoints: CreateKeyBody.shape.allowed_endpoints.optional(),
    expires_in: z.string().optional(),
    expires_at: z.string().datetime({ offset: true, message: 'an ISO 8601 date-time' }).nullable().optional(),
    label: z.string().max(256).optional(),
    ...PolicyFields,
  })
  .strict();

const ListQuery = z
  .object({
    label: z.string().optional(),
    label_prefix: z.string().optional(),
    vendor: z.string().optional(),
    status: z.enum(['active', 'revoked', 'expired']).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().optional(),
  })
  .strict();

const RevokeBody = z
  .object({ label_prefix: z.string().min(1, 'must not be empty (it would revoke every key)').optional(), ids: z.array(z.string().min(1)).min(1, 'must list at least one key id').max(1000).optional() })
  .strict()
  .superRefine((b, ctx) => {
    if ((b.label_prefix === undefined) === (b.ids === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give label_prefix (revoke every key whose label starts with it) or ids (a list of key ids), one of the two' });
    }
  });

function keyStatus(k: StoredKey, now: number): 'active' | 'revoked' | 'expired' {
  if (k.revokedAt !== null) return 'revoked';
  if (k.expiresAt !== null && k.expiresAt <= now) return 'expired';
  return 'active';
}

function keyView(k: StoredKey, now: number): Record<string, unknown> {
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
function expiry(body: { expires_in?: string | undefined; expires_at?: string | null | undefined }, now: number): number | null | undefined {
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

function encodeCursor(k: StoredKey): string {
  return Buffer.from(`${k.createdAt}:${k.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  const m = /^(\d+):([A-Za-z0-9_]+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new ApiError('invalid_request', 'cursor: is not a cursor returned by this API', { param: 'cursor' });
  return { createdAt: Number(m[1]), id: m[2] as string };
}

type Authed = Request & { workspaceId?: string };

export function createAdminRouter(deps: AdminDeps): Router {
  const { db, registry, clock } = deps;
  const router = Router();

  const bearer = (req: Request): string | undefined => /^Bearer\s+(\S+)$/i.exec((req.headers.authorization ?? '').trim())?.[1];

  // /metrics may be scraped with its own token (KEYBRAKE_METRICS_TOKEN), which opens nothing else; or the admin key.
  router.get('/metrics', async (req, res, next) => {
    const token = bearer(req);
    if (deps.metricsToken === undefined || token === undefined || !safeEqual(token, deps.metricsToken)) return next();
    await sendMetrics(res);
  });

  router.use(async (req: Authed, _res: Response, next: NextFunction) => {
    const token = bearer(req);
    if (!token) return next(new ApiError('admin_key_missing', 'The admin API needs Authorization: Bearer <admin key> (KEYBRAKE_ADMIN_KEY, or the key printed at first start).'));
    if (token.startsWith('vault_key_')) {
      return next(new ApiError('admin_key_invalid', `That is a vault key: it calls vendors through the proxy (/{vendor}/…, e.g. /stripe/v1/payment_intents). ${req.method} ${req.path} is an admin route and needs the admin key.`));
    }
    try {
      const ws = await workspaceForAdminKey(db, token, deps.adminKey);
      if (ws === undefined) {
        deps.log.info({ route: `${req.method} ${req.path}`, ip: req.socket.remoteAddress }, 'admin sign-in failed: the key is not valid');
        return next(new ApiError('admin_key_invalid', 'This admin key is not valid.'));
      }
      req.workspaceId = ws;
      next();
    } catch (err) {
      next(err);
    }
  });
  const ws = (req: Request): string => (req as Authed).workspaceId as string;

  async function sendMetrics(res: Response): Promise<void> {
    const count = async (q: Knex.QueryBuilder): Promise<number> => Number(((await q.count({ n: '*' })) as { n: number | string }[])[0]?.n ?? 0);
    deps.metrics.activeKeys.set(await count(db.knex('vault_keys').whereNull('revoked_at')));
    deps.metrics.webhooksPending.set(await count(db.knex('webhook_outbox').where('status', 'pending')));
    deps.metrics.reconcilePending.set(await count(db.knex('audit_log').whereIn('reconcile_state', ['pending', 'manual'])));
    res.type(deps.metrics.contentType).send(await deps.metrics.render());
  }

  const budgetExists = (req: Request) => async (id: string): Promise<boolean> => (await getBudget(db, ws(req), id)) !== undefined;

  router.post('/vault/keys', async (req, res) => {
    const body = parseOrThrow(CreateKeyBody, req.body ?? {});
    const vendor = registry.get(body.vendor);
    if (!vendor) {
      throw new ApiError('invalid_request', `vendor: unknown vendor "${body.vendor}" (known: ${[...registry.keys()].join(', ')})`, { param: 'vendor' });
    }
    const { sources: allowed, warnings } = checkEndpoints(vendor, body.allowed_endpoints);
    const now = clock();
    const expiresAt = expiry(body, now) ?? null;
    const policy = await applyPolicy({}, body, vendor, budgetExists(req));
    const credentials = await deps.credentials.resolve(ws(req), vendor.id);
    if (!credentials) warnings.push(`Keybrake has no ${vendor.name} secret yet: calls with this key are refused (vendor_not_configured) until one is set (${vendor.id === 'stripe' ? 'STRIPE_SECRET_KEY' : vendor.id === 'twilio' ? 'TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN' : vendor.id === 'resend' ? 'RESEND_API_KEY' : 'its secret_env'}, or PUT /vendors/${vendor.id}/credentials).`);
    const secret = newVaultKey();
    const id = newId('vk');
    await insertKey(db, {
      id,
      workspaceId: ws(req),
      keyHash: hashSecret(secret),
      keyPrefix: secret.slice(0, 14),
      vendor: vendor.id,
      label: body.label,
      dailyCapMicros: usdToMicros(body.daily_usd_cap),
      allowedEndpoints: allowed,
      policy,
      expiresAt,
      createdAt: now,
    });
    const key = (await getKey(db, ws(req), id)) as StoredKey;
    deps.log.info({ key_id: id, vendor: vendor.id, label: body.label, daily_usd_cap: body.daily_usd_cap }, 'vault key issued');
    res.status(201).json({ ...keyView(key, now), vault_key: secret, ...(warnings.length > 0 ? { warnings } : {}) });
  });

  router.patch('/vault/keys/:id', async (req, res) => {
    const body = parseOrThrow(PatchKeyBody, req.body ?? {});
    const key = await getKey(db, ws(req), req.params.id as string);
    if (!key) throw new ApiError('not_found', `vault key ${req.params.id} not found`);
    if (key.revokedAt !== null) throw new ApiError('invalid_request', 'id: this key is revoked; issue a new one', { param: 'id' });
    const now = clock();
    const expiresAt = expiry(body, now);
    const policy = await applyPolicy(key.policy, body, registry.get(key.vendor) as VendorAdapter, budgetExists(req));
    await updateKey(db, ws(req), key.id, {
      ...(body.label !== undefined ? { label: body.label } : {}),
      ...(body.daily_usd_cap !== undefined ? { dailyCapMicros: usdToMicros(body.daily_usd_cap) } : {}),
      ...(body.allowed_endpoints !== undefined ? { allowedEndpoints: checkEndpoints(registry.get(key.vendor) as VendorAdapter, body.allowed_endpoints).sources } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      policy,
    });
    deps.log.info({ key_id: key.id, fields: Object.keys(body) }, 'vault key changed');
    res.json(keyView((await getKey(db, ws(req), key.id)) as StoredKey, now));
  });

  router.get('/vault/keys', async (req, res) => {
    const q = parseOrThrow(ListQuery, req.query);
    const now = clock();
    const keys = await listKeys(db, ws(req), {
      ...(q.label !== undefined ? { label: q.label } : {}),
      ...(q.label_prefix !== undefined ? { labelPrefix: q.label_prefix } : {}),
      ...(q.vendor !== undefined ? { vendor: q.vendor } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(q.cursor !== undefined ? { before: decodeCursor(q.cursor) } : {}),
      limit: q.limit + 1,
      now,
    });
    const page = keys.slice(0, q.limit);
    const last = page[page.length - 1];
    // Today's spend of every key on the page, in one query (each key's day is in its own time zone).
    const windows = page.map((k) => [k.id, limitsFor(k, now).keyWindow.start] as [string, string]);
    const spent = await spentInMany(db, windows);
    res.json({
      data: page.map((k, i) => ({ ...keyView(k, now), spent_today_usd: microsToUsd(spent.get(`${k.id} ${windows[i]?.[1] ?? ''}`) ?? 0) })),
      next_cursor: keys.length > q.limit && last ? encodeCursor(last) : null,
    });
  });

  router.get('/vault/keys/:id', async (req, res) => {
    const key = await getKey(db, ws(req), req.params.id as string);
    if (!key) throw new ApiError('not_found', `vault key ${req.params.id} not found`);
    const now = clock();
    const limits = limitsFor(key, now);
    const spent = await spentIn(db, key.id, limits.keyWindow.start);
    const total = key.policy.total_cap_micros === undefined ? undefined : await spentIn(db, key.id, TOTAL_WINDOW);
    res.json({
      ...keyView(key, now),
      window: limits.keyWindow.start,
      spent_today_usd: microsToUsd(spent),
      remaining_today_usd: microsToUsd(Math.max(0, key.dailyCapMicros - spent)),
      resets_at: new Date(limits.keyWindow.resetsAt).toISOString(),
      ...(total !== undefined ? { spent_total_usd: microsToUsd(total), remaining_total_usd: microsToUsd(Math.max(0, (key.policy.total_cap_micros ?? 0) - total)) } : {}),
    });
  });

  /** Revokes, then announces key.revoked for each key this call revoked. */
  const revoke = async (req: Request, by: { ids: string[] } | { labelPrefix: string }): Promise<string[]> => {
    const now = clock();
    const ids = await revokeKeys(db, ws(req), by, now);
    const keys = (await Promise.all(ids.map((id) => getKey(db, ws(req), id)))).filter((k): k is StoredKey => k !== undefined);
    await enqueue(db.knex, db.dialect, ws(req), keys.map((k) => keyEvent('key.revoked', k, now)), deps.webhooks, now);
    deps.log.info({ key_ids: ids.slice(0, 50), revoked: ids.length, ...('labelPrefix' in by ? { label_prefix: by.labelPrefix } : {}) }, 'vault keys revoked');
    return ids;
  };

  router.delete('/vault/keys/:id', async (req, res) => {
    const id = req.params.id as string;
    await revoke(req, { ids: [id] });
    const key = await getKey(db, ws(req), id);
    if (!key) throw new ApiError('not_found', `vault key ${id} not found`);
    res.json(keyView(key, clock()));
  });

  router.post('/vault/keys/revoke', async (req, res) => {
    const body = parseOrThrow(RevokeBody, req.body ?? {});
    const ids = await revoke(req, body.ids ? { ids: body.ids } : { labelPrefix: body.label_prefix as string });
    res.json({ revoked: ids.length, ids });
  });

  // Receivers verify Keybrake-Signature with this secret.
  router.get('/webhooks/signing-secret', (_req, res) => {
    res.json({ secret: deps.webhookSecret, header: 'Keybrake-Signature', scheme: 'v1 = hex HMAC-SHA256(secret, "<t>.<body>")' });
  });

  router.get('/vendors', async (req, res) => {
    const stored = await credentialsUpdatedAt(db, ws(req));
    res.json({
      data: [...registry.values()].map((v) => ({
        id: v.id,
        name: v.name,
        base_url: v.baseUrl,
        credential_fields: v.credentialFields,
        credentials: deps.credentials.source(v.id, stored),
      })),
    });
  });

  router.put('/vendors/:vendor/credentials', async (req, res) => {
    const vendor = registry.get(req.params.vendor as string);
    if (!vendor) throw new ApiError('not_found', `unknown vendor ${req.params.vendor}`);
    const fields = vendor.credentialFields;
    const unknown = Object.keys((req.body ?? {}) as object).find((f) => !fields.includes(f));
    if (unknown !== undefined) throw new ApiError('invalid_request', `${unknown}: ${vendor.name} takes ${fields.join(' and ')}, not ${unknown}`, { param: unknown });
    const shape = Object.fromEntries(fields.map((f) => [f, z.string({ required_error: 'is required' }).min(1, 'must not be empty').max(4096)]));
    const body = parseOrThrow(z.object(shape).strict(), req.body ?? {}) as Record<string, string>;
    const problem = vendor.checkSecret?.(body);
    if (problem) throw new ApiError('invalid_request', problem, { param: problem.split(':')[0] });
    const now = clock();
    await putCredentials(db, deps.box, ws(req), vendor.id, body, now);
    deps.credentials.invalidate(ws(req), vendor.id);
    deps.log.info({ vendor: vendor.id, fields: Object.keys(body) }, 'vendor secret changed');
    res.json({ vendor: vendor.id, fields: Object.keys(body), updated_at: new Date(now).toISOString() });
  });

  router.get('/metrics', async (_req, res) => {
    await sendMetrics(res);
  });

  router.use(createBudgetRouter({ db, clock, workspace: ws }));
  router.use(createAuditRouter({ db, redactor: deps.redactor, workspace: ws }));
  router.use(
    createReconcileRouter({
      db,
      box: deps.box,
      clock,
      workspace: ws,
      view: async (id, workspace) => {
        const row = await auditById(db, workspace, id);
        return row ? auditView(row) : undefined;
      },
    }),
  );

  return router;
}
