// Delivers the webhook outbox: due rows are claimed with a conditional UPDATE (so several instances never send
// the same row at once), POSTed signed, and retried with exponential backoff. Every attempt is recorded.
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { request } from 'undici';
import { newId } from '../crypto';
import type { Db } from '../store/db';
import { getKey } from '../store/keys';
import { bodyFor, enqueue, expiredKeyIds, keyEvent, type GlobalTarget } from './events';

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

interface OutboxRow {
  id: string;
  event_id: string;
  workspace_id: string;
  url: string;
  attempts: number;
  next_attempt_at: number;
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
      for (const id of await expiredKeyIds(db, now)) {
        const row = (await db.knex('vault_keys').where({ id }).first('workspace_id')) as { workspace_id: string } | undefined;
        const key = row ? await getKey(db, row.workspace_id, id) : undefined;
        if (key?.expiresAt) await enqueue(db.knex, db.dialect, key.workspaceId, [keyEvent('key.expired', key, key.expiresAt)], this.o.globals, now);
      }
    }
    const due = (await db.knex('webhook_outbox').where('status', 'pending').where('next_attempt_at', '<=', now).orderBy('next_attempt_at').limit(20)) as OutboxRow[];
    let delivered = 0;
    for (const row of due) {
      const claimed = await db.knex('webhook_outbox').where({ id: row.id, status: 'pending', next_attempt_at: row.next_attempt_at }).update({ next_attempt_at: now + LEASE_MS });
      if (claimed === 1 && (await this.deliver(row))) delivered++;
    }
    return delivered;
  }

  private async deliver(row: OutboxRow): Promise<boolean> {
    const { db, clock } = this.o;
    const event = (await db.knex('webhook_events').where({ id: row.event_id }).first('payload')) as { payload: string };
    const body = bodyFor(row.url, event.payload);
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
    await db.knex.transaction(async (trx) => {
      await trx('webhook_attempts').insert({ id: newId('wha'), outbox_id: row.id, at: started, status, error, duration_ms: now - started });
      await trx('webhook_outbox')
        .where({ id: row.id })
        .update(
          ok
            ? { status: 'delivered', attempts, last_status: status, last_error: null, delivered_at: now }
            : {
                status: attempts >= this.o.maxAttempts ? 'failed' : 'pending',
                attempts,
                last_status: status,
                last_error: error ?? `HTTP ${status}`,
                next_attempt_at: now + Math.min(3_600_000, this.o.backoffMs * 2 ** (attempts - 1)),
              },
        );
    });
    return ok;
  }
}
