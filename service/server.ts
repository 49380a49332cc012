// Start-up: config → master key → database and migrations → admin key → HTTP server.
import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Router } from 'express';
import { dirname, join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { createApp } from './app';
import { ConfigError, type Config } from './config';
import { randomBytes } from 'node:crypto';
import { deriveKey, parseKey32, SecretBox } from './crypto';
import { Mailer } from './alerts/email';
import { WebhookWorker } from './alerts/worker';
import { Reconciler } from './reconcile/worker';
import { Redactor } from './proxy/redact';
import { KeyGate } from './http/key-gate';
import { Metrics } from './http/metrics';
import { purgeAudit } from './store/audit-query';
import { Upstreams } from './proxy/forward';
import { DEFAULT_WORKSPACE } from './policy/keys';
import { ensureGeneratedAdminKey } from './store/admin-keys';
import { CredentialResolver, credentialsUpdatedAt } from './store/credentials';
import { VERSION } from './version';
import { expireApprovals } from './store/approvals';
import { purgeExpired, settlementsDone } from './store/ledger';
import { purgeLocks } from './store/object-locks';
import { closeDb, openDb, warmPool, type Db } from './store/db';
import { checkpointInWorker, SqliteCheckpointer } from './store/sqlite-checkpointer';
import { migrate } from './store/migrations';
import { customAdapter } from './vendors/custom';
import { createRegistry } from './vendors/registry';

/** A database URL without its password. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

export interface Running {
  server: Server;
  db: Db;
  /** The per-key turns of this instance (for metrics and tests). */
  gate: KeyGate;
  /** The reconciler of calls whose outcome is unknown (tests run its passes). */
  reconciler: Reconciler;
  url: string;
  /** Resolves once the settlements of calls answered so far have been written. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * With SQLite and no KEYBRAKE_MASTER_KEY, a key is generated next to the database file (mode 0600), so that a
 * first `npm start` needs no set-up. PostgreSQL deployments must pass the key in (checked in config.ts).
 */
function sqliteMasterKey(sqlitePath: string, log: Logger): Buffer {
  const file = join(dirname(resolve(sqlitePath)), 'master.key');
  if (existsSync(file)) {
    const key = parseKey32(readFileSync(file, 'utf8'));
    if (!key) throw new Error(`${file} does not hold a 32-byte key; restore it or set KEYBRAKE_MASTER_KEY`);
    return key;
  }
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  log.warn({ file }, 'generated a master key for vendor secrets; back it up, or set KEYBRAKE_MASTER_KEY');
  return key;
}

export interface Extras {
  log?: Logger;
  announce?: (line: string) => void;
  clock?: () => number;
  /** Public, unauthenticated routes added by the entry point (the Dify schema documents live outside service/). */
  publicRoutes?: ((ctx: { publicUrl: string | undefined }) => Router)[];
}

/**
 * What must happen once before any process serves: the master key, the migrations, the generated admin key
 * (printed once). Returns the open database.
 */
export async function prepareStore(config: Config, log: Logger, announce: (line: string) => void): Promise<{ db: Db; masterKey: Buffer }> {
  const masterKey = config.masterKey ?? (config.store.kind === 'sqlite' ? sqliteMasterKey(config.store.path, log) : undefined);
  if (!masterKey) throw new Error('KEYBRAKE_MASTER_KEY is required');
  const db = openDb(config.store, config.dbPoolSize, config.sqliteSynchronous, config.dbPoolSize);
  try {
    await migrate(db);
    await warmPool(db, config.dbPoolSize);
  } catch (err) {
    await closeDb(db).catch(() => undefined);
    // One line that names the setting, never a stack trace (and never the password).
    const what = config.store.kind === 'postgres' ? `DATABASE_URL: cannot use ${redactUrl(config.store.url)}` : `KEYBRAKE_SQLITE_PATH: cannot use ${config.store.path}`;
    throw new ConfigError(`${what} (${(err as Error).message.split('\n')[0]})`);
  }
  if (config.adminKey === undefined) {
    const generated = await ensureGeneratedAdminKey(db, Date.now());
    if (generated) {
      announce(
        `\n  Keybrake generated an admin key. It is shown only this once and stored only as a hash:\n\n    ${generated}\n\n` +
          '  Keep it somewhere safe, or set KEYBRAKE_ADMIN_KEY to choose your own.\n',
      );
    }
  }
  return { db, masterKey };
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, base: { pid: process.pid }, redact: ['req.headers.authorization', 'headers.authorization'] });
}

export async function startServer(config: Config, opts: Extras = {}): Promise<Running> {
  const log = opts.log ?? createLogger(config);
  const announce = opts.announce ?? ((line: string) => process.stderr.write(line + '\n'));
  const { db, masterKey } = await prepareStore(config, log, announce);

  const box = new SecretBox(masterKey);
  const clock = opts.clock ?? Date.now;
  const redactor = new Redactor(deriveKey(masterKey, 'keybrake audit hmac'), config.auditHashedFields);
  const webhookSecret = config.webhookSecret ?? `whsec_${deriveKey(masterKey, 'keybrake webhook signing').toString('base64url')}`;
  const registry = createRegistry(config.upstreams, config.customVendors.map(customAdapter));
  const upstreams = new Upstreams({ connectTimeoutMs: config.connectTimeoutMs, timeoutMs: config.upstreamTimeoutMs, maxResponseBytes: 16 * 1024 * 1024 });
  const credentials = new CredentialResolver(db, box, config.envSecrets, opts.clock);
  let checkpointer: SqliteCheckpointer | undefined;
  if (config.store.kind === 'sqlite' && config.store.path !== ':memory:') {
    await checkpointInWorker(db);
    checkpointer = new SqliteCheckpointer(config.store.path, (message) => log.warn({ err: message }, 'SQLite checkpoint failed'));
  }
  const gate = new KeyGate(config.maxInflightPerKey);
  // A call's lookups, forward and settlement take no longer than this: an object lease outlives it, and a row
  // still unsettled after it was lost.
  const longestCall = config.connectTimeoutMs + 2 * config.upstreamTimeoutMs + 10_000;
  const app = createApp({
    db,
    registry,
    box,
    credentials,
    upstreams,
    adminKey: config.adminKey,
    clock,
    log,
    redactor,
    webhooks: config.webhooks,
    webhookSecret,
    gate,
    turnWaitMs: config.turnWaitMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    objectLockMs: longestCall,
    reconcileDelayMs: config.reconcileDelayMs,
    metrics: new Metrics(),
    metricsToken: config.metricsToken,
    publicUrl: config.publicUrl,
    approvalKey: deriveKey(masterKey, 'keybrake approval links'),
    mailEnabled: config.smtp !== undefined,
    pricing: { fx: config.fx, prices: config.prices },
    maxBodyBytes: config.maxBodyBytes,
    auditBodyBytes: config.auditBodyBytes,
    publicRoutes: (opts.publicRoutes ?? []).map((make) => make({ publicUrl: config.publicUrl })),
  });

  const server = await new Promise<Server>((ok, fail) => {
    const s = createServer(app).listen(config.port, config.host, () => ok(s));
    s.once('error', fail);
  });
  server.keepAliveTimeout = 65_000;
  // Housekeeping in the background, in small batches so that it never holds up traffic: ended rate windows and
  // dedupe claims, and audit rows past KEYBRAKE_AUDIT_RETENTION_DAYS. A failure only delays the clean-up.
  const purge = setInterval(() => {
    void (async () => {
      await purgeExpired(db, Date.now());
      await purgeLocks(db, Date.now());
      await expireApprovals(db, Date.now());
      const before = Date.now() - config.auditRetentionDays * 86_400_000;
      for (let i = 0; i < 20 && (await purgeAudit(db, before, 500)) === 500; i++) await new Promise((r) => setTimeout(r, 50));
    })().catch((err: Error) => log.warn({ err: err.message }, 'housekeeping failed'));
  }, 60_000);
  purge.unref();
  const mailer = config.smtp ? new Mailer(config.smtp.url, config.smtp.from) : undefined;
  let consoleBase = config.publicUrl;
  const worker = new WebhookWorker({
    db,
    log,
    secret: webhookSecret,
    globals: config.webhooks,
    pollMs: config.webhookPollMs,
    backoffMs: config.webhookBackoffMs,
    maxAttempts: 10,
    clock,
    mailer,
    consoleBase: () => consoleBase,
  });
  worker.start();
  const reconciler = new Reconciler({
    db,
    registry,
    credentials,
    upstreams,
    pricing: { fx: config.fx, prices: config.prices },
    box,
    log,
    clock,
    pollMs: config.reconcilePollMs,
    delayMs: config.reconcileDelayMs,
    maxAttempts: 12,
    lostAfterMs: longestCall + 60_000,
  });
  reconciler.start();
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  consoleBase ??= url;
  // One line that says how this instance is configured: never a secret, only whether each one is set.
  const stored = await credentialsUpdatedAt(db, DEFAULT_WORKSPACE);
  log.info(
    {
      version: VERSION,
      url,
      store: config.store.kind === 'sqlite' ? { kind: 'sqlite', path: config.store.path } : { kind: 'postgres', url: redactUrl(config.store.url) },
      vendors: [...registry.values()].map((v) => ({ id: v.id, base_url: v.baseUrl, secret: credentials.source(v.id, stored) })),
      upstream_overrides: config.upstreams,
      public_url: config.publicUrl ?? null,
      alert_mail: config.smtp ? { server: redactUrl(config.smtp.url), from: config.smtp.from } : null,
      workers: config.workers,
    },
    'keybrake listening',
  );

  return {
    server,
    db,
    gate,
    url,
    settled: () => settlementsDone(db),
    reconciler,
    async close() {
      clearInterval(purge);
      await worker.stop();
      mailer?.close();
      await reconciler.stop();
      // Stop accepting, let calls in progress finish, and close what stays open after a grace period (a browser's
      // pre-connected socket, say) so that shutdown cannot hang.
      await new Promise<void>((ok) => {
        const force = setTimeout(() => server.closeAllConnections(), 2_000);
        server.close(() => {
          clearTimeout(force);
          ok();
        });
        server.closeIdleConnections();
      });
      await settlementsDone(db);
      await upstreams.close();
      await checkpointer?.stop();
      await closeDb(db);
      log.info({ url }, 'keybrake stopped');
    },
  };
}
