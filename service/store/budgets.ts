import type { BudgetRecord } from '../policy/keys';
import type { Db } from './db';

interface BudgetRow {
  id: string;
  workspace_id: string;
  label: string;
  daily_cap_micros: number;
  timezone: string;
  created_at: number;
}

export interface StoredBudget extends BudgetRecord {
  createdAt: number;
}

const toBudget = (r: BudgetRow): StoredBudget => ({ id: r.id, label: r.label, dailyCapMicros: Number(r.daily_cap_micros), timezone: r.timezone, createdAt: Number(r.created_at) });

export async function insertBudget(db: Db, workspaceId: string, b: StoredBudget): Promise<void> {
  await db.knex('budgets').insert({ id: b.id, workspace_id: workspaceId, label: b.label, daily_cap_micros: b.dailyCapMicros, timezone: b.timezone, created_at: b.createdAt });
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
