// KEYBRAKE_CONFIG: an optional YAML file. This version reads the FX table (`fx:`); bad content fails at start
// naming the field.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { z } from 'zod';
import { ConfigError } from './config';
import type { FxTable } from './vendors/types';

const FileSchema = z
  .object({
    fx: z
      .object({
        taken: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date such as 2026-11-27'),
        margin_pct: z.number().min(0).max(50).optional(),
        rates: z.record(z.string().regex(/^[a-z]{3}$/, 'lower-case ISO currency codes'), z.number().positive('a positive number of USD per unit')),
      })
      .strict()
      .optional(),
  })
  .strict();

export interface FileConfig {
  fx?: { taken: string; marginPct?: number; rates: Record<string, number> };
}

export function loadConfigFile(path: string): FileConfig {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(path, 'utf8'), { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    throw new ConfigError(`KEYBRAKE_CONFIG: cannot read ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = FileSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]].join('.') : issue?.path.join('.');
    const what = issue?.code === 'unrecognized_keys' ? 'is not a known setting (this version reads: fx)' : `expected ${issue?.message}`;
    throw new ConfigError(`KEYBRAKE_CONFIG: ${path}: ${where || 'top level'}: ${what}`);
  }
  const fx = parsed.data.fx;
  return fx ? { fx: { taken: fx.taken, rates: fx.rates, ...(fx.margin_pct !== undefined ? { marginPct: fx.margin_pct } : {}) } } : {};
}

export function mergeFx(base: FxTable, override: FileConfig['fx']): FxTable {
  if (!override) return base;
  return { taken: override.taken, marginPct: override.marginPct ?? base.marginPct, rates: { ...base.rates, ...override.rates, usd: 1 } };
}
