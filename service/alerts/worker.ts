// Delivers the webhook outbox: due rows are claimed with a conditional UPDATE (so several instances never send
// the same row at once), POSTed signed, and retried with exponential backoff. Every attempt is recorded.
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { request } from 'undici';
import type { Db } from '../store/db';
import { getKey } from '../store/keys';
import { record } from '../store/ledger';
import { claimDue, eventPayload, expiredKeys, recordAttempt, type OutboxRow } from '../store/outbox';
import { alertRows, bodyFor, keyEvent, type GlobalTarget } from './events';

export interface WorkerOptions {
  db: Db;
  log: Logger;
  secret: string;
  globals: readonly GlobalTarget[];
  pollMs: number;
  backoffMs: number;
  maxAttempts: number;
  clock: () => number;
}

const LEASE_MS = 30_000;

/** `Keybrake-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, as Stripe signs its webhooks. */
export function sign(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

export class WebhookWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastExpiryScan = 0;

  constructor(private readonly o: WorkerOptions) {}

  start(): void {
    const loop = (): void => {
      this.running = this.tick()
        .then(() => undefined)
        .catch((err: Error) => this.o.log.warn({ err: err.message }, 'webhook delivery round failed'))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(loop, this.o.pollMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round: announce newly expired keys, then deliver what is due. */
  async tick(): Promise<number> {
    const { db, clock } = this.o;
    const now = clock();
    if (now - this.lastExpiryScan >= 30_000) {
      this.lastExpiryScan = now;
      for (const { id, workspace_id } of await expiredKeys(db, now)) {
        const key = await getKey(db, workspace_id, id);
        if (key?.expiresAt) await record(db, { alerts: alertRows(key.workspaceId, [keyEvent('key.expired', key, key.expiresAt)], this.o.globals, now) });
      }
    }
    let delivered = 0;
    for (const row of await claimDue(db, now, LEASE_MS, 20)) {
      if (await this.deliver(row)) delivered++;
    }
    return delivered;
  }

  private async deliver(row: OutboxRow): Promise<boolean> {
    const { db, clock } = this.o;
    const body = bodyFor(row.url, (await eventPayload(db, row.event_id)) ?? '{}');
    const started = clock();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await request(row.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'keybrake-webhooks/1', 'keybrake-signature': sign(this.o.secret, body, Math.floor(started / 1000)), 'keybrake-event-id': row.event_id },
        body,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      status = res.statusCode;
      await res.body.dump();
    } catch (err) {
      error = ((err as { code?: string }).code ?? (err as Error).message).slice(0, 200);
    }
    const ok = status !== null && status >= 200 && status < 300;
    const attempts = row.attempts + 1;
    const now = clock();
    const retryAt = ok || attempts >= this.o.maxAttempts ? null : now + Math.min(3_600_000, this.o.backoffMs * 2 ** (attempts - 1));
    await recordAttempt(db, row, { startedAt: started, endedAt: now, status, error, ok, retryAt });
    return ok;
  }
}
