// The vendors Keybrake calls, and their secrets (design §3): GET /vendors says where each one's secret comes from,
// PUT /vendors/{vendor}/credentials sets one (sealed in the store, never shown again); and the secret webhook
// receivers verify signatures with.
import { Router, type Request } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SecretBox } from '../crypto';
import { ApiError } from '../errors';
import { credentialsUpdatedAt, putCredentials, type CredentialResolver } from '../store/credentials';
import type { Db } from '../store/db';
import { endpointChoices } from '../vendors/catalogs';
import type { VendorRegistry } from '../vendors/registry';
import { parseOrThrow } from './validate';

export interface VendorRouteDeps {
  db: Db;
  registry: VendorRegistry;
  box: SecretBox;
  credentials: CredentialResolver;
  clock: () => number;
  log: Logger;
  webhookSecret: string;
  workspace: (req: Request) => string;
}

export function createVendorRouter(deps: VendorRouteDeps): Router {
  const { db, registry, clock, workspace } = deps;
  const router = Router();

  // Receivers verify Keybrake-Signature with this secret.
  router.get('/webhooks/signing-secret', (_req, res) => {
    res.json({ secret: deps.webhookSecret, header: 'Keybrake-Signature', scheme: 'v1 = hex HMAC-SHA256(secret, "<t>.<body>")' });
  });

  router.get('/vendors', async (req, res) => {
    const stored = await credentialsUpdatedAt(db, workspace(req));
    res.json({
      data: [...registry.values()].map((v) => ({
        id: v.id,
        name: v.name,
        base_url: v.baseUrl,
        credential_fields: v.credentialFields,
        credentials: deps.credentials.source(v.id, stored),
        endpoints: endpointChoices(v),
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
    await putCredentials(db, deps.box, workspace(req), vendor.id, body, now);
    deps.credentials.invalidate(workspace(req), vendor.id);
    deps.log.info({ vendor: vendor.id, fields: Object.keys(body) }, 'vendor secret changed');
    res.json({ vendor: vendor.id, fields: Object.keys(body), updated_at: new Date(now).toISOString() });
  });

  return router;
}
