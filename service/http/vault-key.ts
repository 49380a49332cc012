import type { IncomingHttpHeaders } from 'node:http';

const VAULT_KEY = /^vault_key_[A-Za-z0-9]{32}$/;

/**
 * The vault key a client presented: `Authorization: Bearer vault_key_…`, or Basic auth with the vault key as
 * password (Twilio's SDK sends `AccountSid:AuthToken`) or as user name (Stripe's Basic form, `sk_…:`).
 * Dify's custom tools send it as they store it: `Basic vault_key_…` unencoded (their default prefix), the bare
 * key (the `custom` prefix), and, because Dify writes the prefix back into the stored credential (dify.md §1.9),
 * `Bearer Bearer vault_key_…` or `Basic Basic vault_key_…` on a tool's second call in one agent turn. Nothing else
 * is accepted: a repeated scheme must repeat the same word.
 * Returns undefined when no credential was sent and '' when one was sent that cannot be a vault key.
 */
export function presentedVaultKey(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  if (auth === undefined || auth.trim() === '') return undefined;
  const words = auth.trim().split(/\s+/);
  const value = words[words.length - 1] ?? '';
  if (words.length === 1) return VAULT_KEY.test(value) ? value : '';
  const scheme = (words[0] ?? '').toLowerCase();
  if (!words.slice(0, -1).every((w) => w.toLowerCase() === scheme)) return '';
  let candidate = '';
  if (scheme === 'bearer') candidate = value;
  else if (scheme === 'basic' && VAULT_KEY.test(value)) candidate = value;
  else if (scheme === 'basic' && words.length === 2) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon === -1 ? decoded : decoded.slice(0, colon);
    const pass = colon === -1 ? '' : decoded.slice(colon + 1);
    candidate = VAULT_KEY.test(pass) ? pass : user;
  }
  return VAULT_KEY.test(candidate) ? candidate : '';
}
