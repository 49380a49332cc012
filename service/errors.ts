// One closed set of error codes, one status map, one error body (design §4).
// The body is Stripe-shaped ({error: {type, code, message}}) because that is what the vendors' SDKs read;
// the headers tell every SDK's retry loop that retrying will not help.

export const ERROR_STATUS = {
  vault_key_missing: 401,
  vault_key_invalid: 401,
  vault_key_expired: 401,
  vault_key_revoked: 401,
  vendor_not_allowed: 403,
  endpoint_not_allowed: 403,
  parameter_not_allowed: 403,
  cost_unknown: 403,
  daily_cap_exceeded: 429,
  per_call_cap_exceeded: 429,
  total_cap_exceeded: 429,
  rate_limited: 429,
  // A person decides (policy fields approval_above_usd, approval_endpoints): not sent until approved.
  approval_required: 403,
  approval_denied: 403,
  approval_expired: 403,
  duplicate_in_flight: 409,
  duplicate_reconciling: 409,
  object_busy: 409,
  bad_request: 400,
  request_timeout: 408,
  body_too_large: 413,
  upstream_unreachable: 502,
  upstream_timeout: 504,
  store_unavailable: 503,
  vendor_not_configured: 503,
  // Admin API only.
  admin_key_missing: 401,
  admin_key_invalid: 401,
  invalid_request: 400,
  not_found: 404,
  approval_decided: 409,
  internal_error: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export type ErrorDetails = Record<string, string | number | boolean | null | undefined>;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetails;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = details;
    this.headers = headers;
  }
}

function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/**
 * `error` is what stripe-node reads; the top-level `message` and `code` are what twilio-node's RestException
 * reads, and `name`, `message` and `statusCode` what the resend SDK returns as its error.
 */
export function errorBody(err: ApiError): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err.details)) if (v !== undefined) extra[k] = v;
  return {
    error: { type: errorType(err.status), code: err.code, message: err.message, ...extra },
    message: err.message,
    code: err.code,
    name: err.code,
    statusCode: err.status,
  };
}

/** Headers every denial carries: stripe-node and openai-node skip their retry loops on these. */
export function errorHeaders(err: ApiError): Record<string, string> {
  return { 'stripe-should-retry': 'false', 'x-should-retry': 'false', ...err.headers };
}
