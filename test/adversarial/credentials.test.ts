// No vendor credential ever reaches the agent. Operations that reveal, mint or widen a credential are refused for
// every key ("*" here) and never forwarded; and whatever a vendor answers, the secrets Keybrake holds (in any
// encoding) and the fields the vendor's description marks as credentials are scrubbed from the answer, the
// audit and the log.
import { describeEachStore } from '../helpers/stores';
import { attempt, expectNoSecretLeaked, form, useWorld, type Vendor } from './harness';

const A = '/twilio/2010-04-01/Accounts/self';
type Case = [vendor: Vendor, method: string, path: string, body?: { form: string } | { json: unknown }];

const CREDENTIAL_OPERATIONS: Case[] = [
  ['twilio', 'GET', '/twilio/2010-04-01/Accounts/self.json'],
  ['twilio', 'GET', '/twilio/2010-04-01/Accounts/self'],
  ['twilio', 'GET', '/twilio/2010-04-01/Accounts.json'],
  ['twilio', 'POST', '/twilio/2010-04-01/Accounts.json', { form: form({ FriendlyName: 'mine' }) }],
  ['twilio', 'POST', '/twilio/2010-04-01/Accounts/self.json', { form: form({ Status: 'active' }) }],
  ['twilio', 'POST', `${A}/Keys.json`, { form: form({ FriendlyName: 'k' }) }],
  ['twilio', 'GET', `${A}/Keys.json`],
  ['twilio', 'POST', `${A}/SigningKeys.json`, { form: form({ FriendlyName: 'k' }) }],
  ['twilio', 'POST', `${A}/SIP/CredentialLists.json`, { form: form({ FriendlyName: 'c' }) }],
  ['twilio', 'POST', `${A}/SIP/CredentialLists/CL1/Credentials.json`, { form: form({ Username: 'u', Password: 'Passw0rd!Passw0rd' }) }],
  ['twilio', 'POST', `${A}/SIP/IpAccessControlLists.json`, { form: form({ FriendlyName: 'open' }) }],
  ['twilio', 'POST', `${A}/Tokens.json`, { form: '' }],
  ['twilio', 'POST', `${A}/ConnectApps/CN1.json`, { form: form({ AuthorizeRedirectUrl: 'https://attacker.example' }) }],
  ['stripe', 'POST', '/stripe/v1/ephemeral_keys', { form: form({ customer: 'cus_1' }) }],
  ['stripe', 'POST', '/stripe/v1/webhook_endpoints', { form: form({ url: 'https://attacker.example/hook', 'enabled_events[0]': '*' }) }],
  ['stripe', 'GET', '/stripe/v1/webhook_endpoints/we_1'],
  ['stripe', 'POST', '/stripe/v1/apps/secrets', { form: form({ name: 'n', payload: 'p', 'scope[type]': 'account' }) }],
  ['stripe', 'GET', '/stripe/v1/apps/secrets/find?name=n&scope[type]=account&expand[]=payload'],
  ['stripe', 'POST', '/stripe/v1/account_links', { form: form({ account: 'acct_1', type: 'account_onboarding' }) }],
  ['stripe', 'POST', '/stripe/v1/accounts/acct_1/login_links', { form: '' }],
  ['stripe', 'POST', '/stripe/v1/terminal/connection_tokens', { form: '' }],
  ['stripe', 'POST', '/stripe/v1/account_sessions', { form: form({ account: 'acct_1' }) }],
  ['stripe', 'GET', '/stripe/v1/issuing/cards/ic_1?expand[]=number'],
  ['stripe', 'GET', '/stripe/v1/issuing/cards/ic_1?expand[0]=cvc'],
  ['stripe', 'POST', '/stripe/v1/accounts/acct_1/external_accounts', { form: form({ external_account: 'btok_1' }) }],
  ['resend', 'POST', '/resend/api-keys', { json: { name: 'mine', permission: 'full_access' } }],
  ['resend', 'GET', '/resend/api-keys'],
  ['resend', 'DELETE', '/resend/api-keys/key_1'],
  ['resend', 'POST', '/resend/webhooks', { json: { endpoint: 'https://attacker.example', events: ['email.sent'] } }],
  ['resend', 'GET', '/resend/webhooks/wh_1'],
  ['resend', 'GET', '/resend/oauth/grants'],
];

describeEachStore('adversarial: vendor credentials', (storeName) => {
  const world = useWorld(storeName);

  test.each(CREDENTIAL_OPERATIONS)('%s %s %s is refused for a key allowed "*", and never forwarded', async (vendor, method, path, body: Case[3] = undefined) => {
    const before = world[vendor].received.length;
    await attempt(world, vendor, 10, async (a) => {
      const res = await a.call(path, { method, ...(body ?? {}) });
      expect([res.status, res.body.error?.code]).toEqual([403, 'endpoint_not_allowed']);
      expect(String(res.body.error?.message)).toMatch(/no vault key may/);
    });
    expect(world[vendor].received.length).toBe(before);
  });

  test('Twilio: an answer echoing the auth token raw, URL-encoded and as a Basic header is scrubbed, and its Location dropped, and so are credential fields', async () => {
    await attempt(world, 'twilio', 10, async (a) => {
      const res = await a.call(`${A}/Echo.json`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-keybrake-scrubbed')).toBe('credential-fields, secrets');
      expect(res.body).toMatchObject({ auth_token: '[scrubbed by Keybrake]', secret: '[scrubbed by Keybrake]' });
      expect(String(res.body.note)).toBe('token [scrubbed by Keybrake], header Basic [scrubbed by Keybrake], url [scrubbed by Keybrake]');
      expect(res.headers.get('location')).toBeNull();
      const xml = await a.call(`${A}/Echo.xml`);
      expect(String(xml.body.text)).toContain('<auth_token>[scrubbed by Keybrake]</auth_token>');
    });
  });

  test('Stripe: an error quoting the secret key and an object\'s client secret are scrubbed', async () => {
    await attempt(world, 'stripe', 10, async (a) => {
      const res = await a.call('/stripe/v1/echo');
      expect(res.status).toBe(402);
      expect(String(res.body.error?.message)).toBe('Declined for Bearer [scrubbed by Keybrake] (key [scrubbed by Keybrake])');
      expect((res.body.error as { payment_intent: { client_secret: string } }).payment_intent.client_secret).toBe('[scrubbed by Keybrake]');
      const pi = await a.call('/stripe/v1/payment_intents', { form: form({ amount: 100, currency: 'usd' }) });
      expect(pi.body.client_secret).toBe('[scrubbed by Keybrake]');
    });
  });

  test('Resend: an error quoting the API key and a token field are scrubbed', async () => {
    await attempt(world, 'resend', 10, async (a) => {
      const res = await a.call('/resend/echo');
      expect(res.body).toMatchObject({ message: 'Bad request with Bearer [scrubbed by Keybrake]', token: '[scrubbed by Keybrake]' });
    });
  });

  test('after everything above: no secret in any answer, in the audit or in the log', async () => {
    expect(world.answers.length).toBeGreaterThan(CREDENTIAL_OPERATIONS.length);
    await expectNoSecretLeaked(world);
  });
});
