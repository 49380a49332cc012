// Twilio's REST API (https://www.twilio.com/docs/usage/api): form bodies with repeated keys for lists, Basic auth
// with the Account SID, which also appears in every path. Callers need not know the SID: whatever they put in
// the path (the generated tools write `self`) is replaced by the real one.
import type { VendorAdapter } from '../types';
import { reconcileTwilio } from './reconcile';
import { routeSegments, twilioRoutes } from './classification';

export { prepareCall, priceCall, priceMessage } from './pricing';

const basic = (c: Record<string, string>): string => Buffer.from(`${c.account_sid ?? ''}:${c.auth_token ?? ''}`).toString('base64');

export const twilio: VendorAdapter = {
  id: 'twilio',
  name: 'Twilio',
  baseUrl: 'https://api.twilio.com',
  credentialFields: ['account_sid', 'auth_token'],
  // The Account SID is in every path Twilio answers with: it is an identifier, not a secret.
  secretsOf: (c) => [c.auth_token ?? '', basic(c)],
  injectAuth(headers, credentials) {
    headers.authorization = `Basic ${basic(credentials)}`;
  },
  rewritePath(path, credentials) {
    return path.replace(/^\/2010-04-01\/Accounts\/[^/]+/, `/2010-04-01/Accounts/${encodeURIComponent(credentials.account_sid ?? '')}`);
  },
  bodyEncoding: 'form',
  repeatableFields: ['MediaUrl', 'StatusCallbackEvent'],
  requestHeaders: ['accept', 'user-agent', 'i-twilio-idempotency-token'],
  responseHeaders: ['twilio-request-id', 'twilio-concurrent-requests', 'retry-after'],
  requestIdHeader: 'twilio-request-id',
  queryOnWrite: false,
  routes: twilioRoutes,
  pathPrefixes: ['/2010-04-01/'],
  checkSecret(c) {
    if (!/^(AC|SK)[0-9a-fA-F]{32}$/.test(c.account_sid ?? '')) return 'account_sid: must be a Twilio Account SID (AC followed by 32 hex digits) or API key SID (SK…)';
    return undefined;
  },
  routeSegments,
  // Fields Twilio's description uses for credentials in answers: an account's auth token, a new key's secret,
  // a SIP credential's password, a network traversal token's credentials (JSON and XML spellings).
  scrubFields: ['auth_token', 'secret', 'password', 'credential', 'AuthToken', 'Secret', 'Password', 'Credential'],
  fieldTypes: { To: 'string', From: 'string', Body: 'string', MessagingServiceSid: 'string', TimeLimit: 'number', Timeout: 'number' },
  // Twilio's 4xx (validation, auth, 429) create no message or call; 5xx may have.
  reconcile: reconcileTwilio,
  releasesReservation: (status) => status >= 400 && status < 500,
  objectId(response) {
    const sid = (response as { sid?: unknown } | null)?.sid;
    return typeof sid === 'string' ? sid.slice(0, 255) : undefined;
  },
};
