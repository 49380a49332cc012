// Shared budgets: several keys (e.g. every conversation of one user) draw from one daily cap.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { newId } from '../crypto';
import { ApiError } from '../errors';
import { dailyWindow, isTimeZone } from '../policy/window';
import { budgetSpendByKey, getBudget, insertBudget, listBudgets, type StoredBudget } from '../store/budgets';
import type { Db } from '../store/db';
import { spentIn } from '../store/ledger';
import { microsToUsd, usdToMicros } from '../vendors/currency';
import { usd } from './key-policy';
import { parseOrThrow } from './validate';

const CreateBudgetBody = z
  .object({
    daily_usd_cap: usd,
    label: z.string().max(256).default(''),
    timezone: z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin or America/New_York').default('UTC'),
  })
  .strict();

function budgetView(b: StoredBudget): Record<string, unknown> {
  return { id: b.id, label: b.label, daily_usd_cap: microsToUsd(b.dailyCapMicros), timezone: b.timezone, created_at: new Date(b.createdAt).toISOString() };
}

export function createBudgetRouter(deps: { db: Db; clock: () => number; workspace: (req: Request) => string }): Router {
  const { db, clock, workspace } = deps;
  const router = Router();

  router.post('/budgets', async (req, res) => {
    const body = parseOrThrow(CreateBudgetBody, req.body ?? {});
    const budget: StoredBudget = { id: newId('bud'), label: body.label, dailyCapMicros: usdToMicros(body.daily_usd_cap), timezone: body.timezone, createdAt: clock() };
    await insertBudget(db, workspace(req), budget);
    res.status(201).json(budgetView(budget));
  });

  router.get('/budgets', async (req, res) => {
    res.json({ data: (await listBudgets(db, workspace(req))).map(budgetView) });
  });

  router.get('/budgets/:id', async (req, res) => {
    const budget = await getBudget(db, workspace(req), req.params.id as string);
    if (!budget) throw new ApiError('not_found', `budget ${req.params.id} not found`);
    const window = dailyWindow(clock(), budget.timezone);
    const spent = await spentIn(db, budget.id, window.start);
    const byKey = await budgetSpendByKey(db, budget.id, window.start);
    res.json({
      ...budgetView(budget),
      window: window.start,
      spent_today_usd: microsToUsd(spent),
      remaining_today_usd: microsToUsd(Math.max(0, budget.dailyCapMicros - spent)),
      resets_at: new Date(window.resetsAt).toISOString(),
      spend_by_key: byKey.map((k) => ({ key_id: k.keyId, label: k.label, spent_usd: microsToUsd(k.micros), requests: k.requests })),
    });
  });

  return router;
}
