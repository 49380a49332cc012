// Validation of a key's optional policy fields (design §5), shared by POST and PATCH /vault/keys. Money comes in
// as US dollars and is stored as micro-dollars. Every problem is a 400 naming the field.
import { z } from 'zod';
import { EMAIL } from '../alerts/email';
import { ApiError } from '../errors';
import { parseEndpointPattern } from '../vendors/endpoints';
import { checkEndpoints } from './endpoint-check';
import { RULE_NAMES } from '../policy/params';
import { fieldPath } from '../vendors/form';
import { isTimeZone, parseDuration } from '../policy/window';
import { microsToUsd, usdToMicros } from '../vendors/currency';
import type { KeyPolicy, VendorAdapter } from '../vendors/types';

// A dollar amount as a JSON number, or as a decimal string ("200", "12.50").
export const usd = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v),
  z
    .number({ invalid_type_error: 'must be a number of US dollars' })
    .finite()
    .positive('must be greater than 0')
    .max(1_000_000_000, 'must be at most 1000000000')
    .refine((v) => usdToMicros(v) >= 1, 'rounds to nothing: Keybrake counts in micro-dollars, so the least is 0.000001'),
);

const scalar = z.union([z.string().max(500), z.number().finite(), z.boolean()], { errorMap: () => ({ message: 'must be a string, number or boolean' }) });

const FieldRuleSchema = z
  .object({
    eq: scalar.optional(),
    in: z.array(scalar).min(1, 'must list at least one value').max(100).optional(),
    min: z.number({ invalid_type_error: 'must be a number' }).finite().optional(),
    max: z.number({ invalid_type_error: 'must be a number' }).finite().optional(),
    forbidden: z.literal(true, { errorMap: () => ({ message: 'must be true' }) }).optional(),
  })
  .strict();

const timezone = z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin or America/New_York');

/** Endpoint patterns (`POST /v1/refunds`, `* /v1/**`), each checked as allowed_endpoints are. */
const endpointPatterns = z
  .array(z.string().max(300))
  .min(1, 'must list at least one endpoint pattern')
  .max(100)
  .superRefine((list, ctx) => {
    list.forEach((source, i) => {
      const p = parseEndpointPattern(source);
      if (typeof p === 'string') ctx.addIssue({ code: 'custom', path: [i], message: p });
    });
  });

/** When a call waits for a person (policy/approvals.ts): for keys and shared budgets alike. */
export const ApprovalFields = {
  approval_above_usd: usd.nullable().optional(),
  approval_endpoints: endpointPatterns.nullable().optional(),
};

/** Fields a PATCH may set to null to remove them. */
export const PolicyFields = {
  ...ApprovalFields,
  approval_wait: z
    .number({ invalid_type_error: 'must be a whole number of seconds' })
    .int('must be a whole number of seconds')
    .min(0, 'must be at least 0')
    .max(50, "must be at most 50 (Dify's tool calls time out at 60 s)")
    .nullable()
    .optional(),
  max_usd_per_call: usd.nullable().optional(),
  total_usd_cap: usd.nullable().optional(),
  params: z.record(z.record(FieldRuleSchema)).nullable().optional(),
  rate_limit: z
    .object({ requests_per_minute: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1_000_000) })
    .strict()
    .nullable()
    .optional(),
  timezone: timezone.nullable().optional(),
  dedupe_window: z
    .string()
    .refine((v) => v === 'off' || parseDuration(v) !== undefined, 'a duration such as 10m or 24h, or off')
    .nullable()
    .optional(),
  alert_thresholds: z
    .array(z.number().gt(0, 'must be above 0').max(1, 'must be at most 1 (a fraction of the cap)'))
    .min(1)
    .max(10)
    .nullable()
    .optional(),
  alert_emails: z.array(z.string().regex(EMAIL, 'an email address such as ops@example.com')).min(1, 'must list at least one address').max(20, 'at most 20 addresses').nullable().optional(),
  webhook_url: z
    .string()
    .url('an http(s) URL')
    .refine((u) => /^https?:\/\//.test(u), 'an http(s) URL')
    .nullable()
    .optional(),
  max_call_seconds: z.number().int('must be a whole number of seconds').min(1, 'must be at least 1').max(14_400, 'must be at most 14400 (4 hours)').nullable().optional(),
  max_call_legs: z.number().int('must be a whole number of legs').min(1, 'must be at least 1').max(50, 'must be at most 50').nullable().optional(),
  budget: z.string().regex(/^bud_[A-Za-z0-9]+$/, 'must be a budget id (bud_…)').nullable().optional(),
  mcp: z.boolean({ invalid_type_error: 'must be true or false' }).nullable().optional(),
  stripe_accounts: z.array(z.string().regex(/^acct_[A-Za-z0-9]+$/, 'Stripe account ids look like acct_…')).max(100).nullable().optional(),
  metadata: z
    .record(z.string().max(500))
    .refine((m) => Object.keys(m).length <= 50, 'at most 50 entries')
    .nullable()
    .optional(),
};

type PolicyInput = { [K in keyof typeof PolicyFields]?: z.infer<(typeof PolicyFields)[K]> };

const bad = (param: string, message: string): ApiError => new ApiError('invalid_request', `${param}: ${message}`, { param });

function validateParams(params: NonNullable<PolicyInput['params']>, vendor: VendorAdapter): void {
  for (const [source, fields] of Object.entries(params)) {
    const pattern = parseEndpointPattern(source);
    if (typeof pattern === 'string') throw bad(`params.${source}`, pattern);
    for (const [field, rule] of Object.entries(fields)) {
      const where = `params.${source}.${field}`;
      if (fieldPath(field).length === 0) throw bad(where, 'is not a field name');
      const given = RULE_NAMES.filter((r) => rule[r] !== undefined);
      if (given.length === 0) throw bad(where, `give a rule: one of ${RULE_NAMES.join(', ')}`);
      if (rule.forbidden && given.length > 1) throw bad(`${where}.forbidden`, 'cannot be combined with other rules');
      if (rule.min !== undefined && rule.max !== undefined && rule.min > rule.max) throw bad(`${where}.min`, 'must not be greater than max');
      const type = vendor.fieldTypes?.[field];
      for (const r of ['min', 'max'] as const) {
        if (rule[r] !== undefined && type !== undefined && type !== 'number') {
          throw bad(`${where}.${r}`, `${r} applies to numbers, and ${vendor.name}'s ${field} is a ${type}`);
        }
      }
    }
  }
}

/**
 * Merges validated policy input over an existing policy (null removes a field). `budgetExists` checks that a
 * named budget belongs to the workspace.
 */
export async function applyPolicy(current: KeyPolicy, input: PolicyInput, vendor: VendorAdapter, budgetExists: (id: string) => Promise<boolean>): Promise<KeyPolicy> {
  const next: KeyPolicy = { ...current };
  const set = <K extends keyof KeyPolicy>(k: K, v: KeyPolicy[K] | null | undefined): void => {
    if (v === undefined) return;
    if (v === null) delete next[k];
    else next[k] = v;
  };
  if (input.params) validateParams(input.params, vendor);
  // An approval endpoint that can never match a call would wait for nobody: checked as allowed_endpoints are.
  if (input.approval_endpoints) checkEndpoints(vendor, input.approval_endpoints, 'approval_endpoints');
  if (input.budget && !(await budgetExists(input.budget))) throw bad('budget', `no budget ${input.budget} in this workspace`);
  if (input.stripe_accounts && vendor.id !== 'stripe') throw bad('stripe_accounts', 'applies only to Stripe keys');
  set('max_per_call_micros', input.max_usd_per_call === null ? null : input.max_usd_per_call === undefined ? undefined : usdToMicros(input.max_usd_per_call));
  set('total_cap_micros', input.total_usd_cap === null ? null : input.total_usd_cap === undefined ? undefined : usdToMicros(input.total_usd_cap));
  set('params', input.params);
  set('rate_limit', input.rate_limit);
  set('timezone', input.timezone);
  if (input.max_call_seconds && vendor.id !== 'twilio') throw bad('max_call_seconds', 'applies only to Twilio keys');
  set('max_call_seconds', input.max_call_seconds);
  if (input.max_call_legs && vendor.id !== 'twilio') throw bad('max_call_legs', 'applies only to Twilio keys');
  set('max_call_legs', input.max_call_legs);
  set('alert_thresholds', input.alert_thresholds === null || input.alert_thresholds === undefined ? input.alert_thresholds : [...new Set(input.alert_thresholds)].sort());
  set('webhook_url', input.webhook_url);
  set('alert_emails', input.alert_emails === null || input.alert_emails === undefined ? input.alert_emails : [...new Set(input.alert_emails)]);
  set('dedupe_ms', input.dedupe_window === undefined || input.dedupe_window === null ? input.dedupe_window : input.dedupe_window === 'off' ? 0 : parseDuration(input.dedupe_window));
  set('budget', input.budget);
  set('mcp', input.mcp === undefined ? undefined : input.mcp === false ? false : null);
  set('stripe_accounts', input.stripe_accounts);
  set('metadata', input.metadata);
  set('approval_above_micros', input.approval_above_usd === null ? null : input.approval_above_usd === undefined ? undefined : usdToMicros(input.approval_above_usd));
  set('approval_endpoints', input.approval_endpoints);
  set('approval_wait_s', input.approval_wait === 0 ? null : input.approval_wait);
  return next;
}

/** The policy as the API shows it. */
export function policyView(p: KeyPolicy): Record<string, unknown> {
  return {
    timezone: p.timezone ?? 'UTC',
    ...(p.max_per_call_micros !== undefined ? { max_usd_per_call: microsToUsd(p.max_per_call_micros) } : {}),
    ...(p.total_cap_micros !== undefined ? { total_usd_cap: microsToUsd(p.total_cap_micros) } : {}),
    ...(p.params ? { params: p.params } : {}),
    ...(p.rate_limit ? { rate_limit: p.rate_limit } : {}),
    ...(p.max_call_seconds !== undefined ? { max_call_seconds: p.max_call_seconds } : {}),
    ...(p.max_call_legs !== undefined ? { max_call_legs: p.max_call_legs } : {}),
    alert_thresholds: p.alert_thresholds ?? [0.8],
    ...(p.webhook_url ? { webhook_url: p.webhook_url } : {}),
    ...(p.alert_emails ? { alert_emails: p.alert_emails } : {}),
    dedupe_window: p.dedupe_ms === undefined ? '10m' : p.dedupe_ms === 0 ? 'off' : `${Math.round(p.dedupe_ms / 60_000)}m`,
    ...(p.budget ? { budget: p.budget } : {}),
    mcp: p.mcp !== false,
    ...(p.stripe_accounts ? { stripe_accounts: p.stripe_accounts } : {}),
    ...(p.metadata ? { metadata: p.metadata } : {}),
    ...(p.approval_above_micros !== undefined ? { approval_above_usd: microsToUsd(p.approval_above_micros) } : {}),
    ...(p.approval_endpoints ? { approval_endpoints: p.approval_endpoints } : {}),
    approval_wait: p.approval_wait_s ?? 0,
  };
}
