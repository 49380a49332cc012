import type { IncomingHttpHeaders } from 'node:http';

const VAULT_KEY = /^vault_key_[A-Za-z0-9]{32}$/;

/**
 * The vault key a client presented: `Authorization: Bearer vault_key_…`, or Basic auth with the vault key as
 * password (Twilio's SDK sends `AccountSid:AuthToken`) or as user name (Stripe's Basic form, `sk_…:`).
 * Returns undefined when no credential was sent and '' when one was sent that cannot be a vault key.
 */
export function presentedVaultKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth === undefined || auth.trim() === '') return undefined;
  const [scheme, value = ''] = auth.trim().split(/\s+/, 2);
  let candidate = '';
  if (scheme?.toLowerCase() === 'bearer') candidate = value;
  else if (scheme?.toLowerCase() === 'basic' && VAULT_KEY.test(value)) {
    // Dify's custom tools default to the Basic prefix and send the key as it is, not base64-encoded.
    candidate = value;
  } else if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon === -1 ? decoded : decoded.slice(0, colon);
    const pass = colon === -1 ? '' : decoded.slice(colon + 1);
    candidate = VAULT_KEY.test(pass) ? pass : user;
  }
  return VAULT_KEY.test(candidate) ? candidate : '';
}
