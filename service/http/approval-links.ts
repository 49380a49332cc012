// The approve and deny links an approval.requested alert carries (design §3): each names one approval and one
// action and is signed with a key derived from the master key, so it needs no admin key and opens nothing else. It
// works until the approval expires, and only once: the decision it makes moves the approval out of pending.
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ApprovalLinks } from '../alerts/events';
import { safeEqual } from '../crypto';

export type LinkAction = 'approve' | 'deny';

export function linkToken(key: Buffer, id: string, action: LinkAction, expiresAt: number): string {
  return createHmac('sha256', key).update(`approval-link\n${id}\n${action}\n${expiresAt}`).digest('base64url');
}

export function verifyLink(key: Buffer, id: string, action: LinkAction, expiresAt: number, token: string): boolean {
  return safeEqual(linkToken(key, id, action, expiresAt), token);
}

/** Where people reach this service: KEYBRAKE_PUBLIC_URL, or the address the call came in on. */
export function baseUrl(publicUrl: string | undefined, headers: IncomingHttpHeaders): string {
  if (publicUrl) return publicUrl;
  const host = typeof headers.host === 'string' && /^[A-Za-z0-9.:[\]-]+$/.test(headers.host) ? headers.host : '127.0.0.1';
  return `http://${host}`;
}

export function approvalLinks(key: Buffer, base: string, a: { id: string; expiresAt: number }): ApprovalLinks {
  const link = (action: LinkAction): string => `${base}/approvals/${a.id}/review?action=${action}&token=${linkToken(key, a.id, action, a.expiresAt)}`;
  return { approveUrl: link('approve'), denyUrl: link('deny'), consoleUrl: `${base}/console/#/approvals/${a.id}` };
}
