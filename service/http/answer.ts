// Who reads an answer. Callers that use the vendors' SDKs get Keybrake's statuses as they are (a cap is a 429 with
// Retry-After, which every SDK's retry loop understands). Dify does not: its HTTP client (ssrf_proxy) retries 429,
// 500, 502, 503 and 504 and, called with max_retries=0 by custom tools and HTTP Request nodes, throws the answer
// away ("Reached maximum retries (0) for URL …", dify.md §1.9). Calls that come in under /dify/{vendor}/… (what the
// generated tool schemas and nodes use) get those statuses mapped outside that list, so that the body, with its
// one-sentence reason, reaches the model: a cap or rate limit is 402, a failure on Keybrake's or the vendor's side
// is 424; the original status is kept in X-Keybrake-Original-Status.
import type { ServerResponse } from 'node:http';
import { errorBody, errorHeaders, type ApiError } from '../errors';

export type Audience = 'sdk' | 'dify';

/** `STATUS_FORCELIST` in Dify's api/core/helper/ssrf_proxy.py. */
export const DIFY_RETRIED = new Set([429, 500, 502, 503, 504]);

/**
 * The status to send: unchanged for SDK callers, moved out of Dify's retry list for Dify. Keybrake's own 429 (a cap
 * or rate limit) becomes 402; everything else in the list (Keybrake's 5xx, and a vendor's own 429 or 5xx passing
 * through) becomes 424.
 */
export function statusFor(audience: Audience, status: number, own: boolean): number {
  if (audience !== 'dify' || !DIFY_RETRIED.has(status)) return status;
  return own && status === 429 ? 402 : 424;
}

/** A note for the model, put first in a JSON object answer replayed on the Dify path. */
export function replayNote(audience: Audience, body: Buffer, originalAuditId: string): Buffer {
  if (audience !== 'dify') return body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return body;
  const note = `This is the answer to an identical call made earlier in this run (${originalAuditId}); it was not made again and nothing more was charged.`;
  return Buffer.from(JSON.stringify({ keybrake_replayed: note, ...(parsed as Record<string, unknown>) }));
}

/** Sends an answer; on the Dify path a status Dify would throw away is moved out of its retry list. */
export function send(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string, audience: Audience = 'sdk', own = false): void {
  const sent = statusFor(audience, status, own);
  res.writeHead(sent, { ...headers, ...(sent !== status ? { 'x-keybrake-original-status': String(status) } : {}), 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Sends one of Keybrake's own errors. X-Keybrake-Error tells them from a vendor's (whose errors carry codes of their own). */
export function sendError(res: ServerResponse, err: ApiError, auditId: string, audience: Audience = 'sdk'): void {
  const body = errorBody(err);
  const sent = statusFor(audience, err.status, true);
  if (sent !== err.status) Object.assign(body, { statusCode: sent, original_status: err.status });
  send(res, err.status, { 'content-type': 'application/json', 'x-keybrake-audit-id': auditId, 'x-keybrake-error': err.code, ...errorHeaders(err) }, JSON.stringify(body), audience, true);
}
