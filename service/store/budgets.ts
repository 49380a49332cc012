import type { BudgetRecord } from '../policy/keys';
import type { Db } from './db';
import { budgetApproval, bumpEpoch } from './keys';

interface BudgetRow {
  id: string;
  workspace_id: string;
  label: string;
  daily_cap_micros: number;
  timezone: string;
  created_at: number;
  policy: string | null;
}

export interface StoredBudget extends BudgetRecord {
  createdAt: number;
}

const toBudget = (r: BudgetRow): StoredBudget => ({
  id: r.id,
  label: r.label,
  dailyCapMicros: Number(r.daily_cap_micros),
  timezone: r.timezone,
  createdAt: Number(r.created_at),
  approval: budgetApproval(r.policy),
});

/** The policy column: the budget's approval rules (keys.ts budgetApproval reads it back). */
function policyColumn(b: Pick<BudgetRecord, 'approval'>): string | null {
  const a = b.approval;
  if (!a || (a.aboveMicros === undefined && !a.endpoints)) return null;
  return JSON.stringify({ approval_above_micros: a.aboveMicros, approval_endpoints: a.endpoints?.map((p) => p.source) });
}

export async function insertBudget(db: Db, workspaceId: string, b: StoredBudget): Promise<void> {
  await db.knex('budgets').insert({ id: b.id, workspace_id: workspaceId, label: b.label, daily_cap_micros: b.dailyCapMicros, timezone: b.timezone, created_at: b.createdAt, policy: policyColumn(b) });
}

/**
 * Changes a budget; every key drawing from it sees the change on its next request, on every instance (the epoch).
 * False for an unknown budget.
 */
export async function updateBudget(db: Db, workspaceId: string, b: StoredBudget): Promise<boolean> {
  return db.knex.transaction(async (trx) => {
    const row = { label: b.label, daily_cap_micros: b.dailyCapMicros, timezone: b.timezone, policy: policyColumn(b) };
    const changed = (await trx('budgets').where({ workspace_id: workspaceId, id: b.id }).update(row)) > 0;
    if (changed) await bumpEpoch(trx, workspaceId);
    return changed;
  });
}

export async function getBudget(db: Db, workspaceId: string, id: string): Promise<StoredBudget | undefined> {
  const row = (await db.knex('budgets').where({ workspace_id: workspaceId, id }).first()) as BudgetRow | undefined;
  return row ? toBudget(row) : undefined;
}

export async function listBudgets(db: Db, workspaceId: string): Promise<StoredBudget[]> {
  const rows = (await db.knex('budgets').where({ workspace_id: workspaceId }).orderBy('created_at', 'desc').limit(1000)) as BudgetRow[];
  return rows.map(toBudget);
}

/** What each key drew from a budget in one window: settled amounts, or the reservation while it is open. */
export async function budgetSpendByKey(db: Db, budgetId: string, windowStart: string): Promise<{ keyId: string; label: string; micros: number; requests: number }[]> {
  const rows = (await db
    .knex('audit_log')
    .where({ budget_id: budgetId, budget_window: windowStart, decision: 'allow' })
    .groupBy('key_id', 'key_label')
    .select('key_id', 'key_label')
    .sum({ micros: db.knex.raw('CASE WHEN settled_micros IS NULL THEN reserved_micros ELSE settled_micros END') })
    .count({ requests: '*' })
    .orderBy('key_id')) as { key_id: string; key_label: string; micros: number | string; requests: number | string }[];
  return rows.map((r) => ({ keyId: r.key_id, label: r.key_label, micros: Number(r.micros), requests: Number(r.requests) }));
}
