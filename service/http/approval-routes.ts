// Deciding approvals (design §3): the admin API lists them and approves or denies one (with a reason), and the
// links in approval.requested open a confirmation page served here, with no admin key: a plain GET only shows what
// is asked; the person's POST decides, once, while the approval is pending and unexpired.
import { Router, urlencoded, type Request, type Response } from 'express';
import { z } from 'zod';
import { escapeHtml } from '../alerts/email';
import { ApiError } from '../errors';
import { APPROVAL_STATUSES, statusAt, type ApprovalStatus } from '../policy/approvals';
import { approvalById, decideApproval, getApproval, listApprovals, type ApprovalDecision, type StoredApproval } from '../store/approvals';
import type { Db } from '../store/db';
import { formatUsd, microsToUsd } from '../vendors/currency';
import { verifyLink, type LinkAction } from './approval-links';
import { decodeCursor, encodeCursor, parseOrThrow } from './validate';

export function approvalView(a: StoredApproval, now: number): Record<string, unknown> {
  const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
  return {
    id: a.id,
    status: statusAt(a, now),
    key_id: a.keyId,
    label: a.keyLabel,
    vendor: a.vendor,
    method: a.method,
    path: a.path,
    amount_usd: microsToUsd(a.amountMicros),
    priced: a.basis,
    reserved_usd: microsToUsd(a.reservedMicros),
    created_at: iso(a.createdAt),
    expires_at: iso(a.expiresAt),
    decided_at: iso(a.decidedAt),
    decided_by: a.decidedBy,
    reason: a.reason,
    request_audit_id: a.requestAuditId,
    used_audit_id: a.usedAuditId,
  };
}

const ListQuery = z
  .object({
    status: z.enum(APPROVAL_STATUSES as [ApprovalStatus, ...ApprovalStatus[]]).optional(),
    key_id: z.string().max(64).optional(),
    label: z.string().max(256).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().optional(),
  })
  .strict();

const DecideBody = z.object({ reason: z.string().max(1000).optional() }).strict();


/** Decides, or says why it cannot: a decision only follows a pending request (or withdraws an approval unused). */
async function decide(db: Db, a: StoredApproval, d: ApprovalDecision, now: number): Promise<StoredApproval> {
  if (await decideApproval(db, a, d, now)) return (await getApproval(db, a.workspaceId, a.id)) as StoredApproval;
  const status = statusAt((await getApproval(db, a.workspaceId, a.id)) ?? a, now);
  throw new ApiError('approval_decided', `approval ${a.id} is ${status}; only a pending approval can be ${d.to}${d.to === 'denied' ? ' (or an approved one not yet used)' : ''}`);
}

export function createApprovalRouter(deps: { db: Db; clock: () => number; workspace: (req: Request) => string }): Router {
  const { db, clock, workspace } = deps;
  const router = Router();
  const find = async (req: Request): Promise<StoredApproval> => {
    const a = await getApproval(db, workspace(req), req.params.id as string);
    if (!a) throw new ApiError('not_found', `approval ${req.params.id} not found`);
    return a;
  };

  router.get('/approvals', async (req, res) => {
    const q = parseOrThrow(ListQuery, req.query);
    const now = clock();
    const after = q.cursor ? decodeCursor(q.cursor, /apr_[A-Za-z0-9]+/) : undefined;
    const rows = await listApprovals(db, workspace(req), { status: q.status, keyId: q.key_id, label: q.label, before: after && { createdAt: after.at, id: after.id }, limit: q.limit + 1 }, now);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    res.json({ data: page.map((a) => approvalView(a, now)), next_cursor: rows.length > q.limit && last ? encodeCursor(last.createdAt, last.id) : null });
  });

  router.get('/approvals/:id', async (req, res) => {
    res.json(approvalView(await find(req), clock()));
  });

  router.post('/approvals/:id/approve', async (req, res) => {
    const body = parseOrThrow(DecideBody, req.body ?? {});
    const now = clock();
    res.json(approvalView(await decide(db, await find(req), { to: 'approved', by: 'admin', reason: body.reason ?? null }, now), now));
  });

  router.post('/approvals/:id/deny', async (req, res) => {
    const body = parseOrThrow(DecideBody, req.body ?? {});
    const now = clock();
    res.json(approvalView(await decide(db, await find(req), { to: 'denied', by: 'admin', reason: body.reason ?? null, fromApproved: true }, now), now));
  });

  return router;
}

/** The confirmation page: what is asked, and one button (with an optional reason) that decides it. */
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Keybrake</title><link rel="stylesheet" href="/console/console.css"></head>
<body><main class="review"><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

function summary(a: StoredApproval, now: number): string {
  const rows: [string, string][] = [
    ['Key', `${a.keyLabel || a.keyId} (${a.keyId})`],
    ['Call', `${a.vendor}: ${a.method} ${a.path}`],
    ['Amount', formatUsd(microsToUsd(a.amountMicros))],
    ['Priced', a.basis],
    ['Status', statusAt(a, now)],
    ['Expires', new Date(a.expiresAt).toISOString()],
  ];
  return `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

const ReviewQuery = z.object({ action: z.enum(['approve', 'deny']), token: z.string().min(20).max(100) });

/**
 * GET /approvals/{id}/review and POST: for the links in approval.requested. Nothing but the link's signature is
 * checked, so the page says nothing about approvals the link does not name, and changes nothing on GET.
 */
export function createApprovalReview(deps: { db: Db; clock: () => number; linkKey: Buffer }): Router {
  const { db, clock, linkKey } = deps;
  const router = Router();

  const headers = (res: Response): void => {
    res.set({
      'content-security-policy': "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'content-type': 'text/html; charset=utf-8',
    });
  };

  /** The approval the link names, when its signature is good for that approval and action. */
  async function linked(req: Request, source: unknown): Promise<{ a: StoredApproval; action: LinkAction; token: string } | undefined> {
    const q = ReviewQuery.safeParse(source);
    if (!q.success) return undefined;
    const a = await approvalById(db, req.params.id as string);
    if (!a || !verifyLink(linkKey, a.id, q.data.action, a.expiresAt, q.data.token)) return undefined;
    return { a, action: q.data.action, token: q.data.token };
  }

  const invalid = (res: Response): void => {
    headers(res);
    res.status(404).send(page('Link not valid', '<p>This approval link is not valid. Ask for the approval to be sent again, or decide it in the Keybrake console.</p>'));
  };

  router.get('/approvals/:id/review', async (req, res) => {
    const l = await linked(req, req.query);
    if (!l) return invalid(res);
    const now = clock();
    const status = statusAt(l.a, now);
    headers(res);
    if (status !== 'pending') return res.send(page(`Approval ${status}`, `${summary(l.a, now)}<p>Nothing to decide: this approval is ${escapeHtml(status)}.</p>`));
    const verb = l.action === 'approve' ? 'Approve' : 'Deny';
    res.send(
      page(
        `${verb} this call?`,
        `${summary(l.a, now)}
<form method="post" action="/approvals/${escapeHtml(l.a.id)}/review">
<input type="hidden" name="action" value="${l.action}"><input type="hidden" name="token" value="${escapeHtml(l.token)}">
<label for="reason">Reason (optional)</label><input id="reason" name="reason" maxlength="1000">
<button type="submit" class="${l.action === 'approve' ? 'primary' : 'danger'}">${verb}</button></form>`,
      ),
    );
  });

  router.post('/approvals/:id/review', urlencoded({ extended: false, limit: '8kb' }), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const l = await linked(req, { action: body.action, token: body.token });
    if (!l) return invalid(res);
    const now = clock();
    const reason = typeof body.reason === 'string' && body.reason.trim() !== '' ? body.reason.trim().slice(0, 1000) : null;
    const d: ApprovalDecision = l.action === 'approve' ? { to: 'approved', by: 'link', reason } : { to: 'denied', by: 'link', reason, fromApproved: false };
    const done = statusAt(l.a, now) === 'pending' && (await decideApproval(db, l.a, d, now));
    const after = (await getApproval(db, l.a.workspaceId, l.a.id)) ?? l.a;
    headers(res);
    if (!done) return res.status(409).send(page(`Approval ${statusAt(after, now)}`, `${summary(after, now)}<p>Nothing changed: this link can no longer decide it.</p>`));
    res.send(page(l.action === 'approve' ? 'Approved' : 'Denied', `${summary(after, now)}<p>${l.action === 'approve' ? 'The identical call made again will be sent, once, until the approval expires.' : 'The call will not be sent; what it reserved is released.'}</p>`));
  });

  return router;
}
