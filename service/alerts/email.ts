// Alerts by email (design §6): the same events as the webhooks, through the same outbox. A recipient is a delivery
// target written `mailto:<address>` (from KEYBRAKE_CONFIG's `emails` and a key's `alert_emails`); the worker sends it
// over SMTP (nodemailer, KEYBRAKE_SMTP_URL) instead of POSTing it. A mail says what happened, for which key, the
// spend against the cap and when it resets, with a link to the key in the console; never a secret, a vault key or a
// request body (the events carry none).
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { formatUsd } from '../vendors/currency';
import { alertText } from './events';

/** A plain address: no display name, no list, nothing a header could be injected with. */
export const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** Checks KEYBRAKE_SMTP_URL: what was expected instead, or undefined. Never repeats the URL (it may hold a password). */
export function smtpUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'smtp://[user:password@]host[:port] or smtps://… (e.g. smtps://user:pass@smtp.example.com:465)';
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') return `an smtp:// or smtps:// URL, not ${u.protocol}//`;
  if (!u.hostname) return 'a host: smtp://[user:password@]host[:port]';
  if (u.port !== '' && (Number(u.port) < 1 || Number(u.port) > 65_535)) return 'a port from 1 to 65535';
  return undefined;
}

export interface Mail {
  subject: string;
  text: string;
  html: string;
}

interface EventPayload {
  id: string;
  type: string;
  created_at: string;
  data: Record<string, unknown>;
}

/** Text made safe inside HTML, attributes included (mails here, the approval confirmation page). */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const money = (v: unknown): string => formatUsd(Number(v));

/** The lines of facts under the sentence: the key, the cap and its spend, when it resets, and the links. */
function facts(e: EventPayload, consoleBase: string | undefined): [string, string, boolean][] {
  const d = e.data;
  const rows: [string, string, boolean][] = [];
  if (d.key_id) rows.push(['Key', `${String(d.label || '(no label)')} (${String(d.key_id)})`, false]);
  if (d.vendor) rows.push(['Vendor', String(d.vendor), false]);
  if (d.cap_usd !== undefined) rows.push([`Spend against the ${String(d.cap)} cap`, `${money(d.spent_usd)} of ${money(d.cap_usd)}${d.budget_id ? ` (shared budget ${String(d.budget_id)})` : ''}`, false]);
  if (d.refused_usd !== undefined) rows.push(['Refused call', money(d.refused_usd), false]);
  if (d.resets_at !== undefined) rows.push(['Resets', d.resets_at === null ? 'never (a lifetime cap)' : String(d.resets_at), false]);
  if (d.endpoint) rows.push(['Call', String(d.endpoint), false]);
  if (d.amount_usd !== undefined) rows.push(['Amount', money(d.amount_usd), false]);
  if (d.expires_at) rows.push(['Decide before', String(d.expires_at), false]);
  if (d.approve_url) rows.push(['Approve', String(d.approve_url), true]);
  if (d.deny_url) rows.push(['Deny', String(d.deny_url), true]);
  const link = typeof d.console_url === 'string' ? d.console_url : consoleBase && d.key_id ? `${consoleBase}/console/#/keys/${encodeURIComponent(String(d.key_id))}` : undefined;
  if (link) rows.push(['In the console', link, true]);
  rows.push(['Event', `${e.type} ${e.id} at ${e.created_at}`, false]);
  return rows;
}

/** The mail for an event: the sentence as subject and first line, then the facts; as text and as HTML. */
export function mailFor(payload: string, consoleBase: string | undefined): Mail {
  const e = JSON.parse(payload) as EventPayload;
  const sentence = alertText(e);
  const rows = facts(e, consoleBase);
  const text = [sentence, '', ...rows.map(([k, v]) => `${k}: ${v}`), '', 'Sent by Keybrake. Change who gets these with the key\'s alert_emails, or the emails of KEYBRAKE_CONFIG.'].join('\n');
  const cell = (v: string, link: boolean): string => (link ? `<a href="${escapeHtml(v)}">${escapeHtml(v)}</a>` : escapeHtml(v));
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5">
<p><strong>${escapeHtml(sentence)}</strong></p>
<table cellpadding="4">${rows.map(([k, v, link]) => `<tr><th align="left" valign="top">${escapeHtml(k)}</th><td>${cell(v, link)}</td></tr>`).join('')}</table>
<p style="color:#555">Sent by Keybrake. Change who gets these with the key's alert_emails, or the emails of KEYBRAKE_CONFIG.</p>
</body></html>`;
  return { subject: sentence.length <= 250 ? sentence : `${sentence.slice(0, 249)}…`, text, html };
}

export interface MailResult {
  /** The SMTP reply code the server accepted the mail with (250), or null when it never answered. */
  status: number | null;
  error: string | null;
}

/** Sends alert mails over SMTP; one transport per process, its connections pooled by nodemailer. */
export class Mailer {
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
    timeoutMs = 15_000,
  ) {
    const options: SMTPTransport.Options = { url: smtpUrl, connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs };
    this.transport = nodemailer.createTransport(options);
  }

  async send(to: string, mail: Mail, eventId: string): Promise<MailResult> {
    try {
      const info = (await this.transport.sendMail({ from: this.from, to, subject: mail.subject, text: mail.text, html: mail.html, headers: { 'Keybrake-Event-Id': eventId } })) as { response?: string };
      const code = /^(\d{3})/.exec(info.response ?? '')?.[1];
      return { status: code ? Number(code) : 250, error: null };
    } catch (err) {
      const e = err as { code?: string; responseCode?: number; message?: string };
      // The code and the server's answer, never the transport's URL (it may hold the SMTP password).
      return { status: e.responseCode ?? null, error: `${e.code ?? 'ESMTP'}${e.responseCode ? ` ${e.responseCode}` : ''}: ${(e.message ?? '').replace(/[a-z]+s?:\/\/\S+/gi, '[url]')}`.slice(0, 200) };
    }
  }

  close(): void {
    this.transport.close();
  }
}
