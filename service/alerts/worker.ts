// Delivers the alert outbox: due rows are claimed with a conditional UPDATE (so several instances never send the
// same row at once), POSTed signed (a webhook) or mailed (a mailto: recipient, alerts/email.ts), and retried with
// exponential backoff. Every attempt is recorded.
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { request } from 'undici';
import type { Db } from '../store/db';
import { getKey } from '../store/keys';
import { record } from '../store/ledger';
import { claimDue, eventPayload, expiredKeys, MAILTO, recordAttempt, type OutboxRow } from '../store/outbox';
import { mailFor, type Mailer } from './email';
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
  /** Sends the mailto: deliveries; without it (no KEYBRAKE_SMTP_URL) they fail and are retried. */
  mailer?: Mailer | undefined;
  /** Where the console is, for the links in mails (KEYBRAKE_PUBLIC_URL, or this instance's address). */
  consoleBase?: (() => string | undefined) | undefined;
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

  /** Mails one recipient; a failure is recorded like a webhook's (status: the SMTP reply code, when there was one). */
  private async mail(row: OutboxRow, payload: string): Promise<{ status: number | null; error: string | null; ok: boolean }> {
    if (!this.o.mailer) return { status: null, error: 'KEYBRAKE_SMTP_URL is not set: no mail can be sent', ok: false };
    const r = await this.o.mailer.send(row.url.slice(MAILTO.length), mailFor(payload, this.o.consoleBase?.()), row.event_id);
    return { ...r, ok: r.error === null };
  }

  private async deliver(row: OutboxRow): Promise<boolean> {
    const { db, clock } = this.o;
    const payload = (await eventPayload(db, row.event_id)) ?? '{}';
    const started = clock();
    if (row.url.startsWith(MAILTO)) {
      const sent = await this.mail(row, payload);
      await recordAttempt(db, row, { startedAt: started, endedAt: clock(), ...sent, retryAt: this.retryAt(row, sent.ok) });
      return sent.ok;
    }
    const body = bodyFor(row.url, payload);
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
    await recordAttempt(db, row, { startedAt: started, endedAt: clock(), status, error, ok, retryAt: this.retryAt(row, ok) });
    return ok;
  }

  /** When a failed delivery is tried again: exponential backoff, up to an hour; never after the last attempt. */
  private retryAt(row: OutboxRow, ok: boolean): number | null {
    const attempts = row.attempts + 1;
    return ok || attempts >= this.o.maxAttempts ? null : this.o.clock() + Math.min(3_600_000, this.o.backoffMs * 2 ** (attempts - 1));
  }
}
