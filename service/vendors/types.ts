import type { EndpointPattern } from './endpoints';
import type { VendorCatalog } from './catalogs/types';
import type { PriceTables } from './prices';

/** A parsed form body or query string: strings at the leaves. */
export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

/** A parsed JSON body, types kept (for JSON vendors; form vendors get a FormObject, which is one of these). */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** The one view of a request that the policy checks, the price is computed from, and the vendor receives. */
export interface CanonicalRequest {
  method: string;
  /** Decoded path segments after the vendor prefix. */
  segments: string[];
  /** The canonical, re-encoded path that is forwarded, e.g. `/v1/payment_intents`. */
  path: string;
  query: FormObject;
  /** For form vendors a FormObject (strings at the leaves); for JSON vendors the JSON object, types kept. */
  body: JsonObject;
  /** Lower-cased inbound headers the adapter may look at. */
  headers: Record<string, string>;
}

export type PriceResult =
  | { kind: 'free' }
  | { kind: 'priced'; micros: number; basis: string }
  | { kind: 'unknown'; reason: string };

/**
 * How Keybrake treats one vendor operation. Every write a built-in vendor serves is classified (vendors/<id>/
 * classification.ts); a write that matches nothing is refused (deny by default), whatever a key's allowlist says.
 * - priced: moves or costs money, and `price` says how much before it is forwarded;
 * - free: moves no money (the reason says why);
 * - refused: moves money Keybrake cannot bound, so it is refused with cost_unknown;
 * - credential: reveals, mints or widens a vendor credential, so no vault key may make it.
 */
export type OperationClass = 'priced' | 'free' | 'refused' | 'credential';

export interface VendorRoute {
  /** Upper case, or `*` for every method. */
  method: string;
  pattern: EndpointPattern;
  class: OperationClass;
  /** For a priced route, its rule in words (the README's table); otherwise why it is free, refused or a credential operation. */
  reason: string;
  /**
   * Rewrites the canonical request before it is checked, priced and forwarded (Twilio: inject or cap TimeLimit),
   * or returns why it cannot be made safe.
   */
  prepare?: (req: CanonicalRequest, policy: KeyPolicy, ctx: PricingContext) => CanonicalRequest | string;
  /** What must be looked up (with the real key) before this call can be priced. */
  lookup?: (req: CanonicalRequest) => LookupNeed;
  price?: (req: CanonicalRequest, ctx: PricingContext, policy: KeyPolicy) => PriceResult;
  /** The object whose counted amount grows by what this call settled to (so that it is never counted twice). */
  countsAs?: (req: CanonicalRequest, response: unknown) => string | undefined;
  /** The canonical body holds a top-level JSON array under the adapter's arrayBodyField; forward the array. */
  arrayBody?: boolean;
  /** Query parameters this write may carry (user-defined vendors declare them); any other is refused. */
  query?: readonly string[];
  /**
   * What the call moved, as the vendor reports it in a 2xx answer (less what Keybrake already counted for the
   * object, where the route counts per object), or undefined when the answer does not say: the reservation stands.
   * `reserved` is what was reserved for it.
   */
  settle?: (response: unknown, ctx: PricingContext, reserved: number) => number | undefined;
  /**
   * The vendor object whose state this call's price is read from, or which this call changes. Calls on one object
   * are made one at a time, across instances, so that no interleaving counts less than the vendor moves.
   */
  object?: (req: CanonicalRequest) => string | undefined;
}

export interface PricingContext {
  fx: FxTable;
  prices: PriceTables;
  /** Objects looked up with the real key before pricing, and what Keybrake already counted for them. */
  lookups?: Lookups;
}

export type LookupResult = { ok: true; body: unknown } | { ok: false; status: number };

export interface Lookups {
  /** By vendor path, e.g. `/v1/payment_intents/pi_123`. */
  objects: Record<string, LookupResult>;
  /** Micro-USD already counted against caps for each object id (create-then-confirm is counted once). */
  counted: Record<string, number>;
}

export interface LookupNeed {
  /** Vendor paths to GET with the real key. */
  paths: string[];
  /** Object ids whose already-counted amounts the price depends on. */
  counted: string[];
}

export interface FxTable {
  /** When the rates were taken (ISO date). */
  taken: string;
  /** USD per one major unit of each currency, by lower-case ISO code. */
  rates: Record<string, number>;
  /** Added to non-USD estimates so that FX drift cannot push a call past its cap. */
  marginPct: number;
}

/** A key's optional policy (design §5), as stored in the key's `policy` JSON column. Money is in micro-USD. */
export interface KeyPolicy {
  stripe_accounts?: string[];
  metadata?: Record<string, string>;
  max_per_call_micros?: number;
  total_cap_micros?: number;
  /** Rules by endpoint pattern, then by field (see policy/params.ts). */
  params?: Record<string, Record<string, { eq?: string | number | boolean; in?: (string | number | boolean)[]; min?: number; max?: number; forbidden?: true }>>;
  rate_limit?: { requests_per_minute: number };
  /** Fractions of a cap at which cap.threshold fires, once per window each. Default [0.8]. */
  alert_thresholds?: number[];
  /** This key's own webhook target, besides the global ones. */
  webhook_url?: string;
  /** Addresses this key's alerts are mailed to, besides the global recipients (alerts/email.ts). */
  alert_emails?: string[];
  /** How long an identical money-moving request counts as a duplicate (ms); 0 turns dedupe off. Default 10 min. */
  dedupe_ms?: number;
  /** Twilio: the longest call this key may start, in seconds (TimeLimit is injected or capped to it). */
  max_call_seconds?: number;
  /**
   * Twilio: lets calls run TwiML that Keybrake cannot read (a remote `Url`, an `ApplicationSid`, TwiML that fetches
   * more TwiML), priced as this many legs at the highest per-minute price. Absent: such calls are refused.
   */
  max_call_legs?: number;
  /** IANA time zone of the daily window; UTC when absent. */
  timezone?: string;
  /** A shared budget this key also draws from. */
  budget?: string;
  /** A call priced above this (micro-USD) waits for a person's approval (design §3, policy/approvals.ts). */
  approval_above_micros?: number;
  /** Calls of these endpoint patterns always wait for a person's approval. */
  approval_endpoints?: string[];
  /** How long (seconds, at most 50) a call that needs approval waits for it before it is answered approval_required. */
  approval_wait_s?: number;
  /** False: the key is not served over MCP (/mcp). Absent: it is. */
  mcp?: false;
}

/** A call whose outcome is unknown, as the reconciler sees it (from its audit row). */
export interface ReconcileRow {
  id: string;
  method: string;
  /** The path the vendor received (with Twilio's real Account SID). */
  path: string;
  ts: number;
  /** The body as forwarded and audited (possibly redacted or truncated). */
  requestBody: string | null;
  reservedMicros: number;
}

/** What asking the vendor found out. */
export type ReconcileFinding =
  | { kind: 'done'; micros: number; note: string; objectId?: string; response?: unknown }
  | { kind: 'not_done'; note: string }
  /** The vendor could not say (it is down, or its list does not reach back far enough): ask again later. */
  | { kind: 'unknown'; note: string }
  /** There is no way to look this call up: a person must settle or release it. */
  | { kind: 'manual'; note: string };

/** A GET to the vendor with the real credentials. */
export type VendorGet = (pathAndQuery: string) => Promise<{ status: number; body: unknown }>;

/** Which of these vendor object ids other calls' audit rows already claim (a match by parameters must skip them). */
export type Claimed = (objectIds: string[]) => Promise<Set<string>>;

/** What a vendor knows about the types of its request fields, so that `min`/`max` on a text field is refused. */
export type FieldType = 'number' | 'string' | 'boolean';

export interface VendorAdapter {
  id: string;
  name: string;
  baseUrl: string;
  /** Secret fields the vendor needs, all required. */
  credentialFields: readonly string[];
  /**
   * The strings that must never reach a caller or the audit: the secrets themselves and any header value made of
   * them (Basic auth's base64 of `user:secret`). Default: every credential value.
   */
  secretsOf?(credentials: Record<string, string>): string[];
  injectAuth(headers: Record<string, string>, credentials: Record<string, string>): void;
  bodyEncoding: 'form' | 'json';
  /** Form fields that may repeat (Twilio's `MediaUrl=a&MediaUrl=b`); repeated, they are an array. */
  repeatableFields?: readonly string[];
  /** For JSON vendors whose body may be a top-level array: the field that holds it in the canonical request. */
  arrayBodyField?: string;
  /** Request headers passed through from the client (lower case); everything else is dropped. */
  requestHeaders: readonly string[];
  /** Response headers passed back to the client (lower case). */
  responseHeaders: readonly string[];
  /**
   * Request headers that choose whose account a call acts on (Stripe Connect's Stripe-Account): two calls that
   * differ in them are not the same call, and a price lookup carries them too.
   */
  scopeHeaders?: readonly string[];
  /** Further request headers a price lookup carries (Stripe-Version, which shapes the objects it reads). */
  lookupHeaders?: readonly string[];
  /** The response header with the vendor's own id for the request, kept in the audit (lower case). */
  requestIdHeader?: string;
  /** How every path of the vendor begins (Stripe's /v1/ and /v2/): an endpoint that does not is refused at issue. */
  pathPrefixes?: readonly string[];
  /** Checks a secret's format where the vendor defines one; returns what is wrong, or undefined. */
  checkSecret?(credentials: Record<string, string>): string | undefined;
  /** Whether a non-GET call may carry query parameters (Stripe's may not: they would escape pricing); a route may list its own. */
  queryOnWrite: boolean;
  routes: readonly VendorRoute[];
  /** The header the vendor reads an idempotency key from (Stripe, Resend); Keybrake sends a derived one. */
  idempotencyHeader?: string;
  /** Query parameters that carry the secret, for vendors that authenticate that way (never audited). */
  authQuery?(credentials: Record<string, string>): Record<string, string>;
  /** The query parameter the secret goes in: a caller may not send one of that name. */
  authQueryParam?: string;
  /** The path the vendor receives, given the real credentials (Twilio puts the real Account SID in it). */
  rewritePath?(path: string, credentials: Record<string, string>): string;
  /** Types of well-known request fields, for validating parameter rules. */
  fieldTypes?: Record<string, FieldType>;
  /** A header-level check, e.g. Stripe Connect's `Stripe-Account`; returns a refusal reason or undefined. */
  checkHeaders?(req: CanonicalRequest, policy: KeyPolicy): string | undefined;
  /**
   * Parameters that would make any operation reveal a credential (Stripe: `expand` of an issuing card's number);
   * returns why the request is refused, or undefined.
   */
  revealsCredential?(req: CanonicalRequest): string | undefined;
  /**
   * The path segments routes are matched on, when the vendor serves one operation under several spellings
   * (Twilio's 2010 API: `Messages`, `Messages.json` and `Messages.xml` are the same resource).
   */
  routeSegments?(segments: readonly string[]): readonly string[];
  /** Response fields that carry credentials, scrubbed wherever they appear in an answer (names as the vendor spells them). */
  scrubFields: readonly string[];
  /**
   * Request fields named like credentials that are inputs the caller already holds (a token a browser made with a
   * publishable key), with why sending them reveals nothing. Checked against the vendor's description by the tests.
   */
  credentialInputs?: Readonly<Record<string, string>>;
  /** The endpoints described for tools (a vendor from KEYBRAKE_CONFIG; the built-in ones have catalogs/). */
  catalog?: VendorCatalog;
  /** Whether a response status proves the call had no effect, so the reservation can be released. */
  releasesReservation(status: number): boolean;
  /** The vendor's object id in a response body, e.g. `pi_…`. */
  objectId(response: unknown): string | undefined;
  /**
   * Tags a money-moving call so that it can be found later if its outcome is lost (Stripe: the audit id in
   * `metadata`, a field that changes no price). Returns the request to forward.
   */
  mark?(req: CanonicalRequest, route: VendorRoute, auditId: string): CanonicalRequest;
  /**
   * Asks the vendor what became of a call whose outcome is unknown, with GETs only: a repeated request is not a
   * lookup (it could perform a call that never reached the vendor).
   */
  reconcile?(row: ReconcileRow, get: VendorGet, ctx: PricingContext, claimed: Claimed): Promise<ReconcileFinding>;
}
