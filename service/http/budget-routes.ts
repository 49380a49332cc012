// Shared budgets: several keys (e.g. every conversation of one user) draw from one daily cap.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { newId } from '../crypto';
import { ApiError } from '../errors';
import { dailyWindow, isTimeZone } from '../policy/window';
import type { ApprovalRules } from '../policy/keys';
import { budgetSpendByKey, getBudget, insertBudget, listBudgets, updateBudget, type StoredBudget } from '../store/budgets';
import type { Db } from '../store/db';
import { spentIn } from '../store/ledger';
import { microsToUsd, usdToMicros } from '../vendors/currency';
import { pattern } from '../vendors/endpoints';
import { ApprovalFields, usd } from './key-policy';
import { parseOrThrow } from './validate';

const timezone = z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin or America/New_York');

const CreateBudgetBody = z
  .object({
    daily_usd_cap: usd,
    label: z.string().max(256).default(''),
    timezone: timezone.default('UTC'),
    ...ApprovalFields,
  })
  .strict();

const UpdateBudgetBody = z
  .object({ daily_usd_cap: usd.optional(), label: z.string().max(256).optional(), timezone: timezone.optional(), ...ApprovalFields })
  .strict();

type ApprovalInput = { approval_above_usd?: number | null | undefined; approval_endpoints?: string[] | null | undefined };

/** A budget's approval rules with a change applied (null removes a rule). */
function approvalOf(current: ApprovalRules | undefined, input: ApprovalInput): ApprovalRules | undefined {
  const above = input.approval_above_usd === undefined ? current?.aboveMicros : input.approval_above_usd === null ? undefined : usdToMicros(input.approval_above_usd);
  const endpoints = input.approval_endpoints === undefined ? current?.endpoints : input.approval_endpoints?.map(pattern);
  return above === undefined && !endpoints ? undefined : { aboveMicros: above, endpoints };
}

function budgetView(b: StoredBudget): Record<string, unknown> {
  return {
    id: b.id,
    label: b.label,
    daily_usd_cap: microsToUsd(b.dailyCapMicros),
    timezone: b.timezone,
    ...(b.approval?.aboveMicros !== undefined ? { approval_above_usd: microsToUsd(b.approval.aboveMicros) } : {}),
    ...(b.approval?.endpoints ? { approval_endpoints: b.approval.endpoints.map((p) => p.source) } : {}),
    created_at: new Date(b.createdAt).toISOString(),
  };
}

export function createBudgetRouter(deps: { db: Db; clock: () => number; workspace: (req: Request) => string }): Router {
  const { db, clock, workspace } = deps;
  const router = Router();

  router.post('/budgets', async (req, res) => {
    const body = parseOrThrow(CreateBudgetBody, req.body ?? {});
    const budget: StoredBudget = { id: newId('bud'), label: body.label, dailyCapMicros: usdToMicros(body.daily_usd_cap), timezone: body.timezone, createdAt: clock(), approval: approvalOf(undefined, body) };
    await insertBudget(db, workspace(req), budget);
    res.status(201).json(budgetView(budget));
  });

  router.get('/budgets', async (req, res) => {
    res.json({ data: (await listBudgets(db, workspace(req))).map(budgetView) });
  });

  router.patch('/budgets/:id', async (req, res) => {
    const body = parseOrThrow(UpdateBudgetBody, req.body ?? {});
    const current = await getBudget(db, workspace(req), req.params.id as string);
    if (!current) throw new ApiError('not_found', `budget ${req.params.id} not found`);
    const next: StoredBudget = {
      ...current,
      label: body.label ?? current.label,
      dailyCapMicros: body.daily_usd_cap === undefined ? current.dailyCapMicros : usdToMicros(body.daily_usd_cap),
      timezone: body.timezone ?? current.timezone,
      approval: approvalOf(current.approval, body),
    };
    if (!(await updateBudget(db, workspace(req), next))) throw new ApiError('not_found', `budget ${req.params.id} not found`);
    res.json(budgetView(next));
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
