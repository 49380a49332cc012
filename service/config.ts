// Environment becomes typed config here, once (design §2); no other module reads process.env.
import { z } from 'zod';
import { availableParallelism } from 'node:os';
import { EMAIL, smtpUrlProblem } from './alerts/email';
import { loadConfigFile, mergeFx, mergePrices, type CustomVendorConfig } from './config-file';
import { parseKey32 } from './crypto';
import { issueWords } from './zod-words';
import { BUILTIN_FX } from './vendors/currency';
import { BUILTIN_PRICES, type PriceTables } from './vendors/prices';
import { BUILTIN_VENDOR_IDS, BUILTIN_VENDORS } from './vendors/registry';
import type { FxTable } from './vendors/types';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const httpUrl = z
  .string()
  .url('an http:// or https:// URL')
  .refine((u) => /^https?:\/\//i.test(u), 'an http:// or https:// URL');

const positiveInt = (fallback: number) => z.coerce.number({ invalid_type_error: 'a whole number' }).int('a whole number').positive('a positive whole number').default(fallback);

const EnvSchema = z.object({
  PORT: z.coerce.number({ invalid_type_error: 'a port number' }).int().min(0, 'a port number from 0 to 65535').max(65535, 'a port number from 0 to 65535').default(8787),
  HOST: z.string().min(1, 'a host name or address').default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL (unset it to use SQLite)')
    .optional(),
  KEYBRAKE_SQLITE_PATH: z.string().min(1, 'a file path').default('./data/keybrake.db'),
  KEYBRAKE_SQLITE_SYNCHRONOUS: z.enum(['normal', 'full']).default('normal'),
  KEYBRAKE_DB_POOL_SIZE: z.coerce.number({ invalid_type_error: 'a number of connections from 1 to 100' }).int('a whole number of connections').min(1, 'a number of connections from 1 to 100').max(100, 'a number of connections from 1 to 100').optional(),
  KEYBRAKE_ADMIN_KEY: z.string().min(24, 'at least 24 characters').optional(),
  KEYBRAKE_MASTER_KEY: z
    .string()
    .refine((v) => parseKey32(v) !== undefined, '32 bytes as base64 or hex (e.g. `openssl rand -base64 32`)')
    .optional(),
  STRIPE_SECRET_KEY: z.string().min(1).optional(),
  TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  RESEND_API_KEY: z.string().min(1).optional(),
  KEYBRAKE_CONFIG: z.string().min(1, 'a path to a YAML file').optional(),
  KEYBRAKE_PUBLIC_URL: httpUrl.optional(),
  KEYBRAKE_UPSTREAM_TIMEOUT_MS: positiveInt(30_000),
  KEYBRAKE_CONNECT_TIMEOUT_MS: positiveInt(10_000),
  KEYBRAKE_MAX_BODY_BYTES: positiveInt(1_048_576),
  KEYBRAKE_AUDIT_BODY_BYTES: positiveInt(8_192),
  KEYBRAKE_AUDIT_RETENTION_DAYS: positiveInt(90),
  KEYBRAKE_AUDIT_REDACT_FIELDS: z.string().regex(/^[A-Za-z0-9_.,\s-]*$/, 'a comma-separated list of field names').optional(),
  KEYBRAKE_WEBHOOK_SECRET: z.string().min(24, 'at least 24 characters').optional(),
  KEYBRAKE_METRICS_TOKEN: z.string().min(24, 'at least 24 characters').optional(),
  KEYBRAKE_WEBHOOK_POLL_MS: positiveInt(1_000),
  KEYBRAKE_MAX_INFLIGHT_PER_KEY: positiveInt(8),
  KEYBRAKE_TURN_WAIT_MS: positiveInt(15_000),
  KEYBRAKE_BODY_TIMEOUT_MS: positiveInt(10_000),
  KEYBRAKE_RECONCILE_POLL_MS: positiveInt(15_000),
  KEYBRAKE_RECONCILE_DELAY_MS: positiveInt(60_000),
  KEYBRAKE_WORKERS: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(64)], { errorMap: () => ({ message: 'auto or a number of processes from 1 to 64' }) }).default(1),
  KEYBRAKE_WEBHOOK_BACKOFF_MS: positiveInt(5_000),
  KEYBRAKE_SMTP_URL: z
    .string()
    .superRefine((v, ctx) => {
      const problem = smtpUrlProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  KEYBRAKE_ALERT_FROM: z
    .string()
    .refine((v) => EMAIL.test(v) || (/^[^<>\r\n"]{1,100} <([^<>\s]+)>$/.test(v) && EMAIL.test(/<([^<>\s]+)>$/.exec(v)?.[1] ?? '')), 'an email address, or a name and an address: Keybrake <alerts@example.com>')
    .optional(),
  KEYBRAKE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  port: number;
  host: string;
  store: { kind: 'postgres'; url: string } | { kind: 'sqlite'; path: string };
  sqliteSynchronous: 'normal' | 'full';
  /** PostgreSQL connections per process, opened at start and kept open. */
  dbPoolSize: number;
  adminKey: string | undefined;
  masterKey: Buffer | undefined;
  /** Vendor secrets given in the environment, by vendor id then field name. */
  envSecrets: Record<string, Record<string, string>>;
  /** Base URL overrides by vendor id (KEYBRAKE_UPSTREAM_<VENDOR>). */
  upstreams: Record<string, string>;
  configFile: string | undefined;
  fx: FxTable;
  prices: PriceTables;
  customVendors: CustomVendorConfig[];
  /** The URL Dify reaches Keybrake at (for generated tool schemas); the request's own origin when unset. */
  publicUrl: string | undefined;
  upstreamTimeoutMs: number;
  connectTimeoutMs: number;
  maxBodyBytes: number;
  auditBodyBytes: number;
  auditRetentionDays: number;
  /** Request and response fields stored as an HMAC instead of their value. */
  auditHashedFields: string[];
  /** Signs webhook deliveries; derived from the master key when unset. */
  webhookSecret: string | undefined;
  /** A bearer token that may read GET /metrics and nothing else. */
  metricsToken: string | undefined;
  webhookPollMs: number;
  maxInflightPerKey: number;
  /** How long a call waits for its key's turn before it is answered 429 rate_limited. */
  turnWaitMs: number;
  /** How long a request body may take to arrive (408 past it). */
  bodyTimeoutMs: number;
  /** How often the reconciler looks for calls whose outcome is unknown. */
  reconcilePollMs: number;
  /** How long after an unknown outcome the vendor is first asked (doubled per attempt). */
  reconcileDelayMs: number;
  /** Processes serving the port (node:cluster); 'auto' is one per CPU core. */
  workers: number | 'auto';
  /** First retry delay; doubled on each failure, at most an hour. */
  webhookBackoffMs: number;
  /** Global alert targets from KEYBRAKE_CONFIG: webhook URLs, and mail recipients as mailto:. */
  webhooks: { url: string; events?: string[] | undefined }[];
  /** Where alert mails go out (KEYBRAKE_SMTP_URL) and whom they are from (KEYBRAKE_ALERT_FROM). */
  smtp: { url: string; from: string } | undefined;
  logLevel: string;
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings count as unset: `FOO= npm start` is a common way of clearing a variable.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path.join('.') ?? 'environment';
    const words = issue ? issueWords(issue) : 'is not valid';
    // Schema messages here name what is expected ("a port number…"); zod's own are turned into sentences.
    throw new ConfigError(`${name}: ${/^(is|must) /.test(words) ? words : `expected ${words}`}`);
  }
  const e = parsed.data;
  if (e.DATABASE_URL !== undefined && e.KEYBRAKE_MASTER_KEY === undefined) {
    throw new ConfigError(
      'KEYBRAKE_MASTER_KEY: expected 32 bytes as base64 or hex; it is required with DATABASE_URL (PostgreSQL), so that vendor secrets are encrypted under a key kept outside the database',
    );
  }
  if ((e.TWILIO_ACCOUNT_SID === undefined) !== (e.TWILIO_AUTH_TOKEN === undefined)) {
    throw new ConfigError('TWILIO_AUTH_TOKEN: expected TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to be set together');
  }

  let file: ReturnType<typeof loadConfigFile> = { vendors: [], webhooks: [], emails: false };
  if (e.KEYBRAKE_CONFIG !== undefined) {
    file = loadConfigFile(e.KEYBRAKE_CONFIG, BUILTIN_VENDOR_IDS);
    if (typeof file === 'string') throw new ConfigError(`KEYBRAKE_CONFIG: ${file}`);
  }
  if (e.KEYBRAKE_SMTP_URL !== undefined && e.KEYBRAKE_ALERT_FROM === undefined) {
    throw new ConfigError('KEYBRAKE_ALERT_FROM: expected the address alert mails are sent from (e.g. Keybrake <alerts@example.com>); it is required with KEYBRAKE_SMTP_URL');
  }
  if (e.KEYBRAKE_ALERT_FROM !== undefined && e.KEYBRAKE_SMTP_URL === undefined) {
    throw new ConfigError('KEYBRAKE_SMTP_URL: expected smtp://[user:password@]host[:port] or smtps://…; KEYBRAKE_ALERT_FROM is set, but there is no server to send alert mails through');
  }
  if (file.emails && e.KEYBRAKE_SMTP_URL === undefined) {
    throw new ConfigError('KEYBRAKE_SMTP_URL: expected smtp://[user:password@]host[:port] or smtps://…; KEYBRAKE_CONFIG lists emails, and they are sent through it');
  }

  const vendorIds = [...BUILTIN_VENDOR_IDS, ...file.vendors.map((v) => v.id)];
  const SETTINGS = new Set(['KEYBRAKE_UPSTREAM_TIMEOUT_MS']);
  for (const name of Object.keys(present)) {
    if (!name.startsWith('KEYBRAKE_UPSTREAM_') || SETTINGS.has(name)) continue;
    const id = name.slice('KEYBRAKE_UPSTREAM_'.length).toLowerCase();
    if (!vendorIds.includes(id)) throw new ConfigError(`${name}: there is no vendor ${id} (vendors: ${vendorIds.join(', ')})`);
  }
  const upstreams: Record<string, string> = {};
  for (const id of vendorIds) {
    const name = `KEYBRAKE_UPSTREAM_${id.toUpperCase()}`;
    const value = present[name];
    if (value === undefined) continue;
    const ok = httpUrl.safeParse(value);
    if (!ok.success) throw new ConfigError(`${name}: expected an http:// or https:// URL`);
    upstreams[id] = value.replace(/\/+$/, '');
  }

  const envSecrets: Record<string, Record<string, string>> = {};
  if (e.STRIPE_SECRET_KEY) envSecrets.stripe = { secret_key: e.STRIPE_SECRET_KEY };
  if (e.TWILIO_ACCOUNT_SID && e.TWILIO_AUTH_TOKEN) {
    envSecrets.twilio = { account_sid: e.TWILIO_ACCOUNT_SID, auth_token: e.TWILIO_AUTH_TOKEN };
  }
  if (e.RESEND_API_KEY) envSecrets.resend = { api_key: e.RESEND_API_KEY };
  // Secret formats where the vendor defines one: a typo or the README's placeholder stops the start, not the first call.
  const ENV_NAMES: Record<string, string> = { secret_key: 'STRIPE_SECRET_KEY', account_sid: 'TWILIO_ACCOUNT_SID', auth_token: 'TWILIO_AUTH_TOKEN', api_key: 'RESEND_API_KEY' };
  for (const [id, secrets] of Object.entries(envSecrets)) {
    const problem = BUILTIN_VENDORS.find((v) => v.id === id)?.checkSecret?.(secrets);
    if (problem) {
      const field = problem.split(':')[0] ?? '';
      throw new ConfigError(`${ENV_NAMES[field] ?? field}${problem.slice(field.length)}`);
    }
  }
  for (const v of file.vendors) {
    const secret = v.auth.secret_env ? present[v.auth.secret_env] : undefined;
    const username = v.auth.username_env ? present[v.auth.username_env] : undefined;
    if (secret !== undefined) envSecrets[v.id] = { secret, ...(username !== undefined ? { username } : {}) };
  }

  return {
    port: e.PORT,
    host: e.HOST,
    store: e.DATABASE_URL ? { kind: 'postgres', url: e.DATABASE_URL } : { kind: 'sqlite', path: e.KEYBRAKE_SQLITE_PATH },
    sqliteSynchronous: e.KEYBRAKE_SQLITE_SYNCHRONOUS,
    // Reservations and settlements go to PostgreSQL in batches, so a few connections per core keep it busy; more
    // only add backends competing for the same cores.
    dbPoolSize: e.KEYBRAKE_DB_POOL_SIZE ?? Math.min(10, Math.max(4, 2 * availableParallelism())),
    adminKey: e.KEYBRAKE_ADMIN_KEY,
    masterKey: e.KEYBRAKE_MASTER_KEY === undefined ? undefined : parseKey32(e.KEYBRAKE_MASTER_KEY),
    envSecrets,
    upstreams,
    configFile: e.KEYBRAKE_CONFIG,
    fx: mergeFx(BUILTIN_FX, file.fx),
    prices: mergePrices(BUILTIN_PRICES, file.prices),
    customVendors: file.vendors,
    publicUrl: e.KEYBRAKE_PUBLIC_URL?.replace(/\/+$/, ''),
    upstreamTimeoutMs: e.KEYBRAKE_UPSTREAM_TIMEOUT_MS,
    connectTimeoutMs: e.KEYBRAKE_CONNECT_TIMEOUT_MS,
    maxBodyBytes: e.KEYBRAKE_MAX_BODY_BYTES,
    auditBodyBytes: e.KEYBRAKE_AUDIT_BODY_BYTES,
    auditRetentionDays: e.KEYBRAKE_AUDIT_RETENTION_DAYS,
    auditHashedFields: (e.KEYBRAKE_AUDIT_REDACT_FIELDS ?? '').split(',').map((f) => f.trim()).filter((f) => f !== ''),
    webhookSecret: e.KEYBRAKE_WEBHOOK_SECRET,
    metricsToken: e.KEYBRAKE_METRICS_TOKEN,
    webhookPollMs: e.KEYBRAKE_WEBHOOK_POLL_MS,
    maxInflightPerKey: e.KEYBRAKE_MAX_INFLIGHT_PER_KEY,
    turnWaitMs: e.KEYBRAKE_TURN_WAIT_MS,
    bodyTimeoutMs: e.KEYBRAKE_BODY_TIMEOUT_MS,
    reconcilePollMs: e.KEYBRAKE_RECONCILE_POLL_MS,
    reconcileDelayMs: e.KEYBRAKE_RECONCILE_DELAY_MS,
    workers: e.KEYBRAKE_WORKERS,
    webhookBackoffMs: e.KEYBRAKE_WEBHOOK_BACKOFF_MS,
    webhooks: file.webhooks,
    smtp: e.KEYBRAKE_SMTP_URL && e.KEYBRAKE_ALERT_FROM ? { url: e.KEYBRAKE_SMTP_URL, from: e.KEYBRAKE_ALERT_FROM } : undefined,
    logLevel: e.KEYBRAKE_LOG_LEVEL,
  };
}
