// The reconciler: in every instance, it claims the calls whose outcome is unknown and asks their vendor, with GETs
// only, what became of them. Found: the call is settled to what the vendor did, and an identical request is
// answered with it. Not there: the reservation is released, and nothing is sent again. The vendor cannot say:
// asked again later, with a growing delay, and after enough attempts handed to a person (GET /audit?reconcile=
// pending, POST /audit/{id}/settle or /release). It also finds the calls whose settlement was never written.
import type { Logger } from 'pino';
import type { SecretBox } from '../crypto';
import { upstreamHeaders, type Upstreams } from '../proxy/forward';
import { Scrubber } from '../proxy/scrub';
import type { Db } from '../store/db';
import { claimDue, objectsClaimed, resolve, retryLater, sweepLost, type UnresolvedRow } from '../store/reconcile';
import type { CredentialResolver } from '../store/credentials';
import type { VendorRegistry } from '../vendors/registry';
import type { PricingContext, ReconcileFinding, VendorAdapter } from '../vendors/types';

export interface ReconcilerDeps {
  db: Db;
  registry: VendorRegistry;
  credentials: CredentialResolver;
  upstreams: Upstreams;
  pricing: PricingContext;
  box: SecretBox;
  log: Logger;
  clock: () => number;
  /** How often due rows are looked for. */
  pollMs: number;
  /** The first wait before the vendor is asked; doubled for each attempt that finds nothing certain (an hour at most). */
  delayMs: number;
  /** Attempts before a row is handed to a person. */
  maxAttempts: number;
  /** How old an unsettled row must be before it counts as lost (longer than any call can take). */
  lostAfterMs: number;
}

const LEASE_MS = 60_000;

/** When the row is next due after `attempts` unanswered attempts. */
export function nextDue(now: number, delayMs: number, attempts: number): number {
  return now + Math.min(3_600_000, delayMs * 2 ** attempts);
}

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private sweptUntil: number;

  constructor(private readonly deps: ReconcilerDeps) {
    this.sweptUntil = deps.clock() - 86_400_000;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running = this.tick().catch((err: Error) => this.deps.log.warn({ err: err.message }, 'reconciliation pass failed'));
    }, this.deps.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass: lost settlements found, due rows asked about. Returns how many rows were looked at. */
  async tick(): Promise<number> {
    const { db, clock } = this.deps;
    const now = clock();
    const until = now - this.deps.lostAfterMs;
    if (until > this.sweptUntil) {
      const found = await sweepLost(db, this.sweptUntil, until, now);
      if (found < 500) this.sweptUntil = until;
    }
    const rows = await claimDue(db, now, LEASE_MS, 50);
    for (const row of rows) await this.one(row, now);
    return rows.length;
  }

  private async one(row: UnresolvedRow, now: number): Promise<void> {
    const { db, log } = this.deps;
    const vendor = this.deps.registry.get(row.vendor);
    const finding = vendor?.reconcile ? await this.ask(vendor, row) : ({ kind: 'manual', note: `${row.vendor} calls cannot be looked up` } as const);
    const attempts = (row.reconcile_attempts ?? 0) + 1;
    if (finding.kind === 'done') {
      const scrubbed = vendor ? await this.safe(vendor, row, finding.response) : undefined;
      const dedupe = scrubbed === undefined ? undefined : { status: 200, response: this.deps.box.seal(JSON.stringify({ headers: { 'content-type': 'application/json' }, body: Buffer.from(scrubbed).toString('base64') }), `dedupe:${row.id}`) };
      await resolve(db, row, { state: 'settled', finalMicros: finding.micros, note: `reconciler: ${finding.note}; settled to $${(finding.micros / 1e6).toFixed(6)}`, objectId: finding.objectId, dedupe });
      log.info({ audit_id: row.id, vendor: row.vendor, settled_usd: finding.micros / 1e6 }, 'reconciled: the vendor did it');
    } else if (finding.kind === 'not_done') {
      await resolve(db, row, { state: 'released', finalMicros: 0, note: `reconciler: ${finding.note}; reservation released` });
      log.info({ audit_id: row.id, vendor: row.vendor }, 'reconciled: the vendor never did it');
    } else if (finding.kind === 'manual' || attempts >= this.deps.maxAttempts) {
      await retryLater(db, row.id, attempts, null, `waiting for a person: ${finding.note}`);
      log.warn({ audit_id: row.id, vendor: row.vendor }, 'reconciliation needs a person (POST /audit/{id}/settle or /release)');
    } else {
      await retryLater(db, row.id, attempts, nextDue(now, this.deps.delayMs, attempts), `attempt ${attempts}: ${finding.note}`);
    }
  }

  private async ask(vendor: VendorAdapter, row: UnresolvedRow): Promise<ReconcileFinding> {
    const credentials = await this.deps.credentials.resolve(row.workspace_id, vendor.id);
    if (!credentials) return { kind: 'unknown', note: `no ${vendor.name} secret is configured` };
    const get = async (pathAndQuery: string): Promise<{ status: number; body: unknown }> => {
      const res = await this.deps.upstreams.forward(vendor, { method: 'GET', pathAndQuery, headers: upstreamHeaders(vendor, { accept: 'application/json' }, credentials, undefined), body: undefined });
      let body: unknown;
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch {
        body = undefined;
      }
      return { status: res.status, body };
    };
    try {
      const claimed = async (ids: string[]): Promise<Set<string>> => new Set(ids.length === 0 ? [] : await objectsClaimed(this.deps.db, row.workspace_id, vendor.id, ids, row.id, row.ts));
      return await vendor.reconcile!({ id: row.id, method: row.method, path: row.path, ts: row.ts, requestBody: row.request_body, reservedMicros: row.reserved_micros }, get, this.deps.pricing, claimed);
    } catch (err) {
      return { kind: 'unknown', note: `${vendor.name} could not be asked (${(err as Error).message})` };
    }
  }

  /** The found object as an identical request will be answered with: scrubbed like any answer. */
  private async safe(vendor: VendorAdapter, row: UnresolvedRow, response: unknown): Promise<string | undefined> {
    if (response === undefined) return undefined;
    const credentials = (await this.deps.credentials.resolve(row.workspace_id, vendor.id)) ?? {};
    const scrubber = new Scrubber(vendor.secretsOf?.(credentials) ?? Object.values(credentials), vendor.scrubFields);
    return scrubber.text(JSON.stringify(scrubber.json(response)));
  }
}
