// Admin API (design §3), behind `Authorization: Bearer <admin key>`. Every body is validated; a bad one gets a
// 400 naming the field and changes nothing.
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { hashSecret, newId, newVaultKey, safeEqual, type SecretBox } from '../crypto';
import { ApiError } from '../errors';
import { workspaceForAdminKey } from '../store/admin-keys';
import type { CredentialResolver } from '../store/credentials';
import { gauges, type Db } from '../store/db';
import { getBudget } from '../store/budgets';
import { withdrawApprovals } from '../store/approvals';
import { getKey, insertKey, listKeys, revokeKeys, updateKey, type StoredKey } from '../store/keys';
import { record, spentIn, spentInMany } from '../store/ledger';
import { microsToUsd, usdToMicros } from '../vendors/currency';
import type { VendorRegistry } from '../vendors/registry';
import type { KeyPolicy, VendorAdapter } from '../vendors/types';
import { alertRows, keyEvent, type GlobalTarget } from '../alerts/events';
import type { Redactor } from '../proxy/redact';
import { auditView, createAuditRouter } from './audit-routes';
import { createReconcileRouter } from './reconcile-routes';
import { auditById } from '../store/audit-query';
import type { Metrics } from './metrics';
import { createApprovalRouter } from './approval-routes';
import { createBudgetRouter } from './budget-routes';
import { createVendorRouter } from './vendor-routes';
import { CreateKeyBody, expiry, keyView, ListQuery, PatchKeyBody, RevokeBody } from './key-bodies';
import { applyPolicy } from './key-policy';
import { limitsFor, TOTAL_WINDOW } from '../policy/limits';
import { MCP_CLIENTS, mcpConfig } from '../mcp/clients';
import { checkEndpoints } from './endpoint-check';
import { decodeCursor, encodeCursor, parseOrThrow } from './validate';

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
  /** Whether alert mails can be sent (KEYBRAKE_SMTP_URL is set). */
  mailEnabled?: boolean | undefined;
  /** Where callers reach this service (KEYBRAKE_PUBLIC_URL), when it is not the address the admin API was called at. */
  publicUrl?: string | undefined;
  log: Logger;
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
    const g = await gauges(db);
    deps.metrics.activeKeys.set(g.activeKeys);
    deps.metrics.webhooksPending.set(g.webhooksPending);
    deps.metrics.reconcilePending.set(g.reconcilePending);
    res.type(deps.metrics.contentType).send(await deps.metrics.render());
  }

  const budgetExists = (req: Request) => async (id: string): Promise<boolean> => (await getBudget(db, ws(req), id)) !== undefined;

  /** Alert mails need a server to go through: said when a key names recipients and none is configured. */
  const mailWarning = (policy: KeyPolicy): string | undefined =>
    policy.alert_emails && !deps.mailEnabled ? 'alert_emails: no mail is sent until an operator sets KEYBRAKE_SMTP_URL and KEYBRAKE_ALERT_FROM; the deliveries wait in GET /webhooks/deliveries meanwhile.' : undefined;

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
    const mail = mailWarning(policy);
    if (mail) warnings.push(mail);
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
    const mail = body.alert_emails ? mailWarning(policy) : undefined;
    res.json({ ...keyView((await getKey(db, ws(req), key.id)) as StoredKey, now), ...(mail ? { warnings: [mail] } : {}) });
  });

  router.get('/vault/keys', async (req, res) => {
    const q = parseOrThrow(ListQuery, req.query);
    const now = clock();
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    const keys = await listKeys(db, ws(req), {
      ...(q.label !== undefined ? { label: q.label } : {}),
      ...(q.label_prefix !== undefined ? { labelPrefix: q.label_prefix } : {}),
      ...(q.vendor !== undefined ? { vendor: q.vendor } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(after ? { before: { createdAt: after.at, id: after.id } } : {}),
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
      next_cursor: keys.length > q.limit && last ? encodeCursor(last.createdAt, last.id) : null,
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

  // What an MCP client needs to use this key over /mcp, in each client's own format (the vault key as a placeholder:
  // it is shown only when issued).
  router.get('/vault/keys/:id/mcp', async (req, res) => {
    const key = await getKey(db, ws(req), req.params.id as string);
    if (!key) throw new ApiError('not_found', `vault key ${req.params.id} not found`);
    const base = deps.publicUrl ?? `${req.protocol}://${req.get('host') ?? '127.0.0.1'}`;
    res.json({
      url: `${base}/mcp`,
      enabled: key.policy.mcp !== false,
      clients: MCP_CLIENTS.map((c) => mcpConfig(c, base, 'vault_key_…', `keybrake-${key.vendor}`)),
    });
  });

  /** Revokes, withdraws what the keys wait for approval of, then announces key.revoked for each key this call revoked. */
  const revoke = async (req: Request, by: { ids: string[] } | { labelPrefix: string }): Promise<string[]> => {
    const now = clock();
    const ids = await revokeKeys(db, ws(req), by, now);
    await withdrawApprovals(db, ws(req), ids, 'the key was revoked', now);
    const keys = (await Promise.all(ids.map((id) => getKey(db, ws(req), id)))).filter((k): k is StoredKey => k !== undefined);
    await record(db, { alerts: alertRows(ws(req), keys.map((k) => keyEvent('key.revoked', k, now)), deps.webhooks, now) });
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

  router.get('/metrics', async (_req, res) => {
    await sendMetrics(res);
  });

  router.use(createVendorRouter({ db, registry, box: deps.box, credentials: deps.credentials, clock, log: deps.log, webhookSecret: deps.webhookSecret, workspace: ws }));
  router.use(createBudgetRouter({ db, clock, workspace: ws }));
  router.use(createApprovalRouter({ db, clock, workspace: ws }));
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
