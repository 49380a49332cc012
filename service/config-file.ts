// KEYBRAKE_CONFIG: an optional YAML file with user-defined vendors, price tables and the FX table. Read once at
// start by loadConfig; anything wrong stops the start with one line naming the vendor and the field.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { z } from 'zod';
import { usd, VendorSchema, type CustomVendorConfig } from './vendors/custom-schema';
import type { PriceTables } from './vendors/prices';
import { EMAIL } from './alerts/email';
import { EVENT_TYPES } from './alerts/events';
import { MAILTO } from './store/outbox';
import { issueWords } from './zod-words';
import type { FxTable } from './vendors/types';

const emailAddress = z.string().regex(EMAIL, 'an email address such as ops@example.com');

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date such as 2026-11-27');
const table = z.record(z.string().regex(/^(\d{1,4}|default)$/, 'E.164 country prefixes (digits) or default'), usd);

const RESERVED = ['vault', 'vendors', 'budgets', 'dify', 'openapi', 'mcp', 'approvals', 'healthz', 'metrics', 'audit', 'usage', 'console', 'webhooks'];

const FileSchema = z
  .object({
    fx: z
      .object({
        taken: date,
        margin_pct: z.number().min(0).max(50).optional(),
        rates: z.record(z.string().regex(/^[a-z]{3}$/, 'lower-case ISO currency codes'), z.number().positive('a positive number of USD per unit')),
      })
      .strict()
      .optional(),
    prices: z
      .object({
        twilio: z
          .object({
            taken: date,
            sms_per_segment: table.optional(),
            mms_per_message: table.optional(),
            voice_per_minute: table.optional(),
            max_call_seconds: z.number().int().min(1).max(14_400).optional(),
            voice_recording_per_minute: usd.optional(),
            machine_detection_per_call: usd.optional(),
          })
          .strict()
          .optional(),
        resend: z.object({ taken: date, per_email: usd }).strict().optional(),
      })
      .strict()
      .optional(),
    vendors: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'vendor ids are lower case: letters, digits and -'), VendorSchema).optional(),
    webhooks: z
      .array(
        z
          .object({
            url: z.string().url('an http(s) URL').refine((u) => /^https?:\/\//.test(u), 'an http(s) URL'),
            events: z.array(z.enum(EVENT_TYPES)).min(1).optional(),
          })
          .strict(),
      )
      .optional(),
    // Global alert recipients, per event type (every event when `events` is left out); mailed over KEYBRAKE_SMTP_URL.
    emails: z
      .array(
        z
          .object({
            to: z.union([emailAddress, z.array(emailAddress).min(1).max(50)]),
            events: z.array(z.enum(EVENT_TYPES)).min(1).optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

export type { CustomVendorConfig };
type File = z.infer<typeof FileSchema>;

export interface FileConfig {
  fx?: File['fx'];
  prices?: File['prices'];
  vendors: CustomVendorConfig[];
  /** Alert targets: webhook URLs, and mail recipients as mailto: (from `emails`). */
  webhooks: { url: string; events?: string[] | undefined }[];
  /** Whether `emails` names any recipient (they need KEYBRAKE_SMTP_URL). */
  emails: boolean;
}

/** Reads and validates the file; returns an error line (without the variable name) or the config. */
export function loadConfigFile(path: string, builtinVendors: readonly string[]): FileConfig | string {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(path, 'utf8'), { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    return `cannot read ${path}: ${(err as Error).message.split('\n')[0]}`;
  }
  const parsed = FileSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0];
    const where = issue?.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]].join('.') : issue?.path.join('.');
    const words = issue ? issueWords(issue) : 'is not valid';
    const what = issue?.code === 'unrecognized_keys' ? 'is not a known setting' : /^(is|must) /.test(words) ? words : `expected ${words}`;
    return `${path}: ${where || 'top level'}: ${what}`;
  }
  const vendors = Object.entries(parsed.data.vendors ?? {}).map(([id, v]) => ({ ...v, id }));
  for (const v of vendors) {
    if (builtinVendors.includes(v.id) || RESERVED.includes(v.id)) return `${path}: vendors.${v.id}: the id ${v.id} is taken; choose another`;
  }
  const emails = (parsed.data.emails ?? []).flatMap((e) => (Array.isArray(e.to) ? e.to : [e.to]).map((to) => ({ url: `${MAILTO}${to}`, events: e.events })));
  return {
    ...(parsed.data.fx ? { fx: parsed.data.fx } : {}),
    ...(parsed.data.prices ? { prices: parsed.data.prices } : {}),
    vendors,
    webhooks: [...(parsed.data.webhooks ?? []), ...emails],
    emails: emails.length > 0,
  };
}

export function mergeFx(base: FxTable, override: FileConfig['fx']): FxTable {
  if (!override) return base;
  return { taken: override.taken, marginPct: override.margin_pct ?? base.marginPct, rates: { ...base.rates, ...override.rates, usd: 1 } };
}

export function mergePrices(base: PriceTables, override: FileConfig['prices']): PriceTables {
  const t = override?.twilio;
  const r = override?.resend;
  return {
    twilio: t
      ? {
          taken: t.taken,
          sms_per_segment: { ...base.twilio.sms_per_segment, ...t.sms_per_segment },
          mms_per_message: { ...base.twilio.mms_per_message, ...t.mms_per_message },
          voice_per_minute: { ...base.twilio.voice_per_minute, ...t.voice_per_minute },
          max_call_seconds: t.max_call_seconds ?? base.twilio.max_call_seconds,
          voice_recording_per_minute: t.voice_recording_per_minute ?? base.twilio.voice_recording_per_minute,
          machine_detection_per_call: t.machine_detection_per_call ?? base.twilio.machine_detection_per_call,
        }
      : base.twilio,
    resend: r ? { taken: r.taken, per_email: r.per_email } : base.resend,
  };
}
