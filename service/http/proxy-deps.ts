// What the proxy route works with (http/proxy-route.ts, http/proxy-call.ts): its dependencies, what one attempt at
// a call knows before it starts, and what the call came to.
import type { Logger } from 'pino';
import type { GlobalTarget } from '../alerts/events';
import type { SecretBox } from '../crypto';
import { ApiError } from '../errors';
import type { Upstreams } from '../proxy/forward';
import type { Origin } from '../proxy/plan';
import type { Redactor } from '../proxy/redact';
import type { CredentialResolver } from '../store/credentials';
import type { Db } from '../store/db';
import type { PricingContext } from '../vendors/types';
import type { Audience } from './answer';
import type { KeyGate } from './key-gate';
import type { Metrics } from './metrics';

export interface ProxyDeps {
  db: Db;
  upstreams: Upstreams;
  credentials: CredentialResolver;
  box: SecretBox;
  redactor: Redactor;
  /** Global webhook targets for alert events. */
  webhooks: readonly GlobalTarget[];
  pricing: PricingContext;
  log: Logger;
  clock: () => number;
  maxBodyBytes: number;
  auditBodyBytes: number;
  /** In-process fairness: how many calls of one key may be in progress at once. */
  gate: KeyGate;
  /** How long a call may wait for its key's turn before it is answered 429 rate_limited. */
  turnWaitMs: number;
  /** How long the request body may take to arrive (408 past it). */
  bodyTimeoutMs: number;
  metrics: Metrics;
  /** How long a call may hold a vendor object's lease (a crashed holder's lease lapses after this). */
  objectLockMs: number;
  /** How long after an unknown outcome the vendor is first asked about it. */
  reconcileDelayMs: number;
  /** Signs the approve and deny links of approval.requested (http/approval-links.ts). */
  approvalKey: Buffer;
  /** Where people reach this service (KEYBRAKE_PUBLIC_URL), for the links. */
  publicUrl?: string | undefined;
}

/** What a call came to, for GET /metrics. */
export interface Outcome {
  decision: 'allow' | 'deny';
  code: string | null;
  micros: number;
}

/** What one attempt at a call knows before it starts. */
export interface Attempt {
  started: number;
  now: number;
  auditId: string;
  body: Buffer | 'too_large';
  /** 0: the cached key, checked by the reservation; 1: read afresh, checked; 2: read afresh (changes keep racing). */
  round: number;
  /** Aborted when the caller goes away. */
  signal: AbortSignal;
  audience: Audience;
  /** How the call came, when not straight to the proxy (over MCP). */
  origin?: Origin | undefined;
  /** Gives the key's turn back early, to a call that will only wait (for a person's approval) from now on. */
  yieldTurn?: (() => void) | undefined;
}

export const STORE_DOWN = (): ApiError => new ApiError('store_unavailable', 'Keybrake cannot reach its database, so the call is refused (fail closed).');
