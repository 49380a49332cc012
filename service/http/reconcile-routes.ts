// POST /audit/{id}/settle and /release (design §3): a person resolves a call whose outcome the reconciler could
// not find out. Each is recorded in the call's audit row (who, what, when), moves the spend once, and answers an
// identical request waiting on the call.
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { SecretBox } from '../crypto';
import { ApiError } from '../errors';
import type { Db } from '../store/db';
import { resolve, unresolved } from '../store/reconcile';
import { usdToMicros } from '../vendors/currency';
import { parseOrThrow } from './validate';

const Settle = z.object({ usd: z.number({ required_error: 'required: what the call really cost, in US dollars (0 or more)', invalid_type_error: 'must be a number of US dollars' }).finite().min(0, 'must be 0 or more').max(1_000_000_000), note: z.string().max(500).optional() }).strict();
const Release = z.object({ note: z.string().max(500).optional() }).strict();

export function createReconcileRouter(deps: { db: Db; box: SecretBox; clock: () => number; workspace: (req: Request) => string; view: (id: string, workspace: string) => Promise<unknown> }): Router {
  const router = Router();

  const waiting = async (req: Request) => {
    const row = await unresolved(deps.db, deps.workspace(req), String(req.params.id));
    if (!row) throw new ApiError('not_found', `No call waiting for reconciliation has the id ${String(req.params.id).slice(0, 60)} (GET /audit?reconcile=pending lists them).`);
    return row;
  };
  const when = (): string => new Date(deps.clock()).toISOString();

  router.post('/audit/:id/settle', async (req, res) => {
    const body = parseOrThrow(Settle, req.body ?? {});
    const row = await waiting(req);
    const micros = usdToMicros(body.usd);
    const answer = { keybrake: `The first attempt (${row.id}) took effect: an operator settled it at $${body.usd.toFixed(2)}. It is not made again.` };
    const sealed = deps.box.seal(JSON.stringify({ headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(answer)).toString('base64') }), `dedupe:${row.id}`);
    const done = await resolve(deps.db, row, { state: 'settled', finalMicros: micros, note: `settled by an admin at ${when()} to $${body.usd}${body.note ? `: ${body.note}` : ''}`, dedupe: { status: 200, response: sealed } });
    if (!done) throw new ApiError('not_found', `The call ${row.id} was resolved meanwhile.`);
    res.json(await deps.view(row.id, deps.workspace(req)));
  });

  router.post('/audit/:id/release', async (req, res) => {
    const body = parseOrThrow(Release, req.body ?? {});
    const row = await waiting(req);
    const done = await resolve(deps.db, row, { state: 'released', finalMicros: 0, note: `released by an admin at ${when()}${body.note ? `: ${body.note}` : ''}` });
    if (!done) throw new ApiError('not_found', `The call ${row.id} was resolved meanwhile.`);
    res.json(await deps.view(row.id, deps.workspace(req)));
  });

  return router;
}
