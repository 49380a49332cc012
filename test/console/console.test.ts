// The admin console in headless Chromium (Debian's package, driven by playwright-core), page by page as an operator
// uses it: sign-in, keys (issue with policy fields, find, open, change, revoke), the audit trail (side panel,
// exports), spend, budgets, vendors, reconciliation, webhooks and approvals (with the page an approval link opens).
// Every page is checked by axe-core (no serious or critical violation), must fit a 390 px wide window without
// scrolling sideways, and is saved as a screenshot at 1280 px and at 390 px under artifacts/console/. A label
// containing <script> renders as text.
import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { FakeStripe } from '../helpers/fake-stripe';
import { ADMIN_KEY, call, useStripeService, type TestService } from '../helpers/service';

const CHROMIUM = process.env.KEYBRAKE_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', '..', 'artifacts', 'console');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
// Without Chromium (outside CI) these are skipped, as global-setup announced; in CI it fails the run first.
const available = existsSync(CHROMIUM);

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

(available ? describe : describe.skip)('admin console', () => {
  // Calls whose outcome is unknown stay waiting for a person during the test.
  const ctx = useStripeService('sqlite', { KEYBRAKE_RECONCILE_DELAY_MS: '3600000' });
  let fake: FakeStripe;
  let svc: TestService;
  let browser: Browser;
  let page: Page;
  const dialogs: string[] = [];
  /** Script errors on the page and errors it logs: none is expected, ever. */
  const pageErrors: string[] = [];
  let keyId = '';
  let vaultKey = '';

  beforeAll(async () => {
    ({ fake, svc } = ctx);
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[01]/.test(m.text())) pageErrors.push(m.text());
    });
    page.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void (d.type() === 'confirm' ? d.accept() : d.dismiss());
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** Goes to a console address (afresh when already there) and waits for its heading. */
  async function visit(hash: string, heading: string): Promise<void> {
    const target = `${svc.url}/console/${hash}`;
    if (page.url() === target) await page.reload();
    else await page.goto(target);
    await page.waitForSelector(`h1:has-text("${heading}")`);
  }

  /** Accessibility (axe-core: no serious or critical violation), fit at 390 px, and a screenshot at both widths. */
  async function check(name: string): Promise<void> {
    expect({ page: name, errors: pageErrors }).toEqual({ page: name, errors: [] });
    // Nothing the console wrote itself reads "null", "undefined" or "[object …]" (bodies shown as they are excepted).
    const shown = (await page.evaluate("(() => { const c = document.body.cloneNode(true); c.querySelectorAll('pre').forEach((p) => p.remove()); return c.innerText; })()")) as string;
    expect({ page: name, stray: shown.match(/null|undefined|NaN|\[object \w+\]/g) }).toEqual({ page: name, stray: null });
    await page.evaluate(AXE);
    const violations = (await page.evaluate('axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)')) as AxeViolation[];
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
    expect({ page: name, violations: bad }).toEqual({ page: name, violations: [] });
    await page.screenshot({ path: join(ARTIFACTS, `${name}-1280.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    expect({ page: name, overflowPx: overflow }).toEqual({ page: name, overflowPx: 0 });
    await page.screenshot({ path: join(ARTIFACTS, `${name}-390.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 860 });
  }

  test('signed out, only the sign-in shows (no navigation); a wrong key is refused, the right one opens the keys', async () => {
    const res = await page.goto(`${svc.url}/console/#/audit`);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'; style-src 'self'/);
    await page.waitForSelector('#signin:not([hidden])');
    expect(await page.isVisible('#nav')).toBe(false);
    expect(await page.isVisible('#signout')).toBe(false);
    expect(await page.textContent('#signin-error')).toBe('');
    await check('sign-in');
    await page.fill('#admin-key', 'not-the-admin-key-at-all-000');
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#signin-error:has-text("That admin key was refused.")');
    await page.fill('#admin-key', ADMIN_KEY);
    await page.click('#signin-form button[type=submit]');
    // It opens where the address pointed: the audit trail.
    await page.waitForSelector('h1:has-text("Audit trail")');
    expect(await page.isVisible('#nav')).toBe(true);
    expect(page.url()).not.toContain(ADMIN_KEY);
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await page.evaluate("sessionStorage.getItem('keybrake.adminKey')")).toBe(ADMIN_KEY);
  });

  test('keys, empty: the issue form opens by itself; a bad field is named next to it; a key is issued with its policy', async () => {
    await visit('#/keys', 'Vault keys');
    await page.waitForSelector('p.empty:has-text("No vault keys yet")');
    expect(await page.isVisible('#issue-box')).toBe(true);
    await check('keys-empty');
    // The vendor's usual endpoints are offered, from the catalog the generators use.
    await page.check('.choice:has-text("POST /v1/payment_intents") input');
    await page.fill('.key-form label:text("Label") + input', 'conv-<script>alert(1)</script>');
    await page.fill('.key-form label:text("Daily cap (USD)") + input', '30');
    await page.click('.key-form summary:text("Limits and rules")');
    await page.fill('.key-form label:text("Requests per minute") + input', '0');
    await page.click('.key-form button[type=submit]');
    const rateError = page.locator('.key-form [data-param=rate_limit] ~ .field-error');
    await rateError.waitFor();
    expect(await rateError.textContent()).toMatch(/^rate_limit\.requests_per_minute: must be at least 1/);
    expect(await page.getAttribute('.key-form [data-param=rate_limit]', 'aria-invalid')).toBe('true');
    await page.fill('.key-form label:text("Requests per minute") + input', '60');
    await page.fill('.key-form label:text("Most per call (USD)") + input', '25');
    await page.fill('.key-form label:text("Always ask a person for") + input', 'POST /v1/refunds, DELETE /v1/customers/{id}');
    await page.click('.key-form button[type=submit]');
    await page.waitForSelector('#issued');
    vaultKey = (await page.textContent('#issued-key')) ?? '';
    expect(vaultKey).toMatch(/^vault_key_[A-Za-z0-9]{32}$/);
    const keys = (await svc.admin().get('/vault/keys')).body.data as { id: string; label: string; allowed_endpoints: string[]; max_usd_per_call: number; rate_limit: unknown }[];
    expect(keys).toEqual([
      expect.objectContaining({
        label: 'conv-<script>alert(1)</script>',
        allowed_endpoints: ['POST /v1/payment_intents'],
        max_usd_per_call: 25,
        rate_limit: { requests_per_minute: 60 },
        approval_endpoints: ['POST /v1/refunds', 'DELETE /v1/customers/{id}'],
      }),
    ]);
    keyId = keys[0]?.id as string;
    // The label is shown as text, and no script ran.
    const row = page.locator('tr', { hasText: keyId });
    await row.waitFor();
    expect(await row.locator('td').nth(1).textContent()).toBe('conv-<script>alert(1)</script>');
    expect(await page.locator('main script').count()).toBe(0);
    await check('keys-issued');
  });

  test('keys: found by label prefix and by id, filtered by status; a key opens its page with policy, calls and chart', async () => {
    for (const label of ['user-9/conv-1', 'user-9/conv-2', 'user-10/conv-1']) await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 5, allowed_endpoints: ['*'], label });
    await visit('#/keys', 'Vault keys');
    await page.fill('#key-search', 'user-9/');
    await page.click('form[role=search] button[type=submit]');
    await page.waitForSelector('tr:has-text("user-9/conv-2")');
    expect(await page.locator('tbody tr').count()).toBe(2);
    expect(page.url()).toContain('#/keys?q=user-9%2F');
    await page.selectOption('#key-status', 'revoked');
    await page.click('form[role=search] button[type=submit]');
    await page.waitForSelector('p.empty:has-text("No key matches these filters.")');
    await page.fill('#key-search', keyId);
    await page.selectOption('#key-status', '');
    await page.click('form[role=search] button[type=submit]');
    await page.waitForSelector(`tbody tr:has-text("${keyId}")`);
    expect(await page.locator('tbody tr').count()).toBe(1);

    const paid = await call(svc.url, '/stripe/v1/payment_intents', { key: vaultKey, form: 'amount=2000&currency=usd&card[number]=4242424242424242', headers: { 'x-keybrake-run-id': 'run-console' } });
    expect(paid.status).toBe(200);
    await page.click(`a.key-link:has-text("${keyId}")`);
    await page.waitForSelector('h1:has-text("conv-<script>")');
    expect(await page.textContent('.spend')).toContain('$20.00 of $30.00');
    expect(await page.textContent('main')).toContain('60 requests per minute');
    await page.waitForSelector('.chart svg rect.chart-bar:not([height="0"])');
    // How to use it over MCP: the URL, and each client's configuration.
    expect(await page.textContent('#mcp-url')).toBe(`${svc.url}/mcp`);
    await page.selectOption('#mcp-client', 'vscode');
    expect(JSON.parse((await page.textContent('#mcp-config')) ?? '{}')).toEqual({ servers: { 'keybrake-stripe': { type: 'http', url: `${svc.url}/mcp`, headers: { Authorization: 'Bearer vault_key_…' } } } });
    await page.click(`button[data-audit-id]`);
    await page.waitForSelector('#panel:not([hidden]) .verdict.sent');
    await check('key-detail-call');
    await page.keyboard.press('Escape');
    expect(await page.isVisible('#panel')).toBe(false);
    await check('key-detail');
  });

  test('a key is changed (cap, policy field removed) and revoked from its page; its next call is refused', async () => {
    await visit(`#/keys/${keyId}`, 'conv-<script>');
    await page.click('details.edit summary');
    await page.fill('.key-form label:text("Daily cap (USD)") + input', '45');
    await page.fill('.key-form label:text("Most per call (USD)") + input', '');
    await page.click('.key-form button[type=submit]');
    await page.waitForSelector('#status:has-text("Saved.")');
    const key = (await svc.admin().get(`/vault/keys/${keyId}`)).body as Record<string, unknown>;
    expect(key).toMatchObject({ daily_usd_cap: 45, rate_limit: { requests_per_minute: 60 } });
    expect(key.max_usd_per_call).toBeUndefined();
    expect(key.allowed_endpoints).toEqual(['POST /v1/payment_intents']);
    await page.click('button:has-text("Revoke this key")');
    await page.waitForSelector('.page-head .badge:has-text("revoked")');
    expect(dialogs.some((d) => d.startsWith('confirm: Revoke the key "conv-<script>alert(1)</script>"'))).toBe(true);
    expect(dialogs.some((d) => d.startsWith('alert'))).toBe(false);
    const before = fake.received.length;
    const refused = await call(svc.url, '/stripe/v1/payment_intents', { key: vaultKey, form: 'amount=100&currency=usd' });
    expect([refused.status, refused.body.error?.code]).toEqual([401, 'vault_key_revoked']);
    expect(fake.received.length).toBe(before);
  });

  test('audit: filters as pick lists, a refused call says it was not sent and shows the refusal, exports download', async () => {
    await visit('#/audit', 'Audit trail');
    await page.selectOption('#audit-decision', 'deny');
    await page.click('#audit-form button[type=submit]');
    await page.waitForSelector('tbody tr:has-text("vault_key_revoked")');
    expect(await page.locator('tbody tr:has-text("allowed")').count()).toBe(0);
    await page.click('tbody tr:has-text("vault_key_revoked") button[data-audit-id]');
    await page.waitForSelector('#panel:not([hidden])');
    expect(await page.textContent('#panel .verdict')).toBe('Refused by Keybrake: nothing was sent to stripe.');
    expect(await page.textContent('#panel .refusal')).toContain('revoked');
    expect(await page.textContent('#panel')).toContain('Request as received (not sent)');
    expect(await page.locator('#detail-response').count()).toBe(0);
    await check('audit-refused');
    await page.click('#panel-close');
    // The code list holds the codes seen; an allowed call's detail shows what went to the vendor, redacted.
    await visit('#/audit?run_id=run-console', 'Audit trail');
    await page.click('tbody tr button[data-audit-id]');
    const sent = (await page.textContent('#detail-request')) ?? '';
    expect(sent).toContain('amount=2000&currency=usd');
    expect(sent).not.toContain('4242424242424242');
    expect(await page.textContent('#detail-response')).toContain('"client_secret": "[redacted]"');
    await page.click('#panel-close');
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Export CSV")')]);
    const text = readFileSync((await csv.path()) as string, 'utf8');
    expect(text.split('\n')[0]).toMatch(/^id,time,key_id,/);
    expect(text).toContain('/v1/payment_intents');
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(csv.suggestedFilename()).toBe('keybrake-audit.csv');
    const [nd] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Export NDJSON")')]);
    expect(JSON.parse(readFileSync((await nd.path()) as string, 'utf8').trim())).toMatchObject({ run_id: 'run-console', decision: 'allow' });
    expect(await page.locator('#audit-code option', { hasText: 'vault_key_revoked' }).count()).toBe(1);
    await check('audit');
  });

  test('spend: a date range, per day as a chart, per vendor, key and label, with refused counts', async () => {
    await visit('#/spend', 'Spend');
    await page.waitForSelector('.chart svg');
    expect(await page.textContent('.summary')).toMatch(/\$20\.00 spent by \d+ calls .*; 1 refused\./);
    expect(await page.textContent('main')).toContain(keyId);
    const future = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    await page.fill('#spend-from', future);
    await page.fill('#spend-to', future);
    await page.click('form[aria-label="Date range"] button[type=submit]');
    await page.waitForSelector('.summary:has-text("$0.00 spent by 0 calls")');
    expect(await page.locator('p.empty:has-text("No calls in this range.")').count()).toBeGreaterThan(0);
    await visit('#/spend', 'Spend');
    await check('spend');
  });

  test('budgets: created with a named error first, then listed; its page shows spend by key', async () => {
    await visit('#/budgets', 'Budgets');
    await page.waitForSelector('p.empty:has-text("No budgets yet")');
    await page.fill('form[aria-label="Create a budget"] label:text("Label") + input', 'user-42');
    await page.fill('form[aria-label="Create a budget"] label:text("Time zone of its day") + input', 'Mars/Olympus');
    await page.click('form[aria-label="Create a budget"] button[type=submit]');
    await page.waitForSelector('form[aria-label="Create a budget"] .field-error:has-text("timezone")');
    await page.fill('form[aria-label="Create a budget"] label:text("Time zone of its day") + input', 'Europe/Berlin');
    await page.click('form[aria-label="Create a budget"] button[type=submit]');
    await page.waitForSelector('td a:has-text("user-42")');
    const budget = ((await svc.admin().get('/budgets')).body.data as { id: string }[])[0]?.id as string;
    const k = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 40, allowed_endpoints: ['POST /v1/charges'], label: 'user-42/conv-1', budget });
    expect((await call(svc.url, '/stripe/v1/charges', { key: k.vault_key, form: 'amount=500&currency=usd' })).status).toBe(200);
    await check('budgets');
    await page.click('td a:has-text("user-42")');
    await page.waitForSelector('h1:has-text("user-42")');
    await page.waitForSelector('td:has-text("$5.00")');
    expect(await page.textContent('.spend')).toContain('$5.00 of $50.00');
    await check('budget-detail');
  });

  test('vendors: where each secret comes from; setting one changes it to "set here"', async () => {
    await visit('#/vendors', 'Vendors');
    const stripeRow = page.locator('tbody tr', { hasText: 'Stripe' });
    expect(await stripeRow.locator('.badge').textContent()).toBe('from the environment');
    const resendRow = page.locator('tbody tr', { hasText: 'Resend' });
    expect(await resendRow.locator('.badge').textContent()).toBe('not set');
    await check('vendors');
    const form = page.locator('form[aria-label="Set the Resend secret"]');
    await form.locator('input').fill('not-a-resend-key');
    await form.locator('button[type=submit]').click();
    await form.locator('.field-error:not(:empty)').waitFor();
    await form.locator('input').fill('re_test_0123456789abcdefghij');
    await form.locator('button[type=submit]').click();
    await page.waitForSelector('#status:has-text("Saved the Resend secret")');
    await page.waitForSelector('tbody tr:has-text("Resend") .badge:text("set here")');
    expect(await page.inputValue('form[aria-label="Set the Resend secret"] input')).toBe('');
  });

  test('reconciliation: a call whose outcome is unknown waits, and a person releases it', async () => {
    await visit('#/reconcile', 'Reconciliation');
    await page.waitForSelector('p.empty:has-text("Nothing waiting")');
    await check('reconcile-empty');
    const k = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 40, allowed_endpoints: ['POST /v1/charges'], label: 'flaky' });
    fake.override = () => ({ status: 500, body: { error: { type: 'api_error', message: 'boom' } } });
    const failed = await call(svc.url, '/stripe/v1/charges', { key: k.vault_key, form: 'amount=700&currency=usd' });
    fake.override = undefined;
    expect(failed.status).toBe(500);
    expect((await svc.admin().get('/audit').query({ reconcile: 'pending' })).body.data).toEqual([expect.objectContaining({ label: 'flaky', reconcile_state: 'pending' })]);
    await visit('#/reconcile', 'Reconciliation');
    await page.waitForSelector('tbody tr:has-text("flaky")');
    expect(await page.textContent('tbody tr')).toContain('$7.00');
    await page.click('tbody tr button:has-text("Resolve…")');
    await page.waitForSelector('#panel:not([hidden]) form');
    await check('reconcile-resolve');
    await page.fill('#panel input >> nth=1', 'never reached Stripe, checked the dashboard');
    await page.click('#panel button:has-text("Release")');
    await page.waitForSelector('p.empty:has-text("Nothing waiting")');
    const spent = (await svc.admin().get(`/vault/keys/${k.id}`)).body as { spent_today_usd: number };
    expect(spent.spent_today_usd).toBe(0);
  });

  test('webhooks: an empty state that says where alerts go, and the signing secret on request', async () => {
    await visit('#/webhooks', 'Webhook deliveries');
    await page.waitForSelector('p.empty:has-text("No deliveries yet")');
    expect(await page.isVisible('#signing-secret')).toBe(false);
    await page.click('button:has-text("Show the signing secret")');
    await page.waitForSelector('#signing-secret:not([hidden])');
    expect(await page.textContent('#signing-secret')).toMatch(/^whsec_/);
    await check('webhooks');
  });

  test('approvals: a call above the threshold waits; a person approves it with a reason, and the retry is sent', async () => {
    await visit('#/approvals', 'Approvals');
    await page.waitForSelector('p.empty:has-text("Nothing waits")');
    const k = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 5000, allowed_endpoints: ['POST /v1/payment_intents'], label: 'big-spender', approval_above_usd: 100, webhook_url: 'http://127.0.0.1:9/hook' });
    const asked = await call(svc.url, '/stripe/v1/payment_intents', { key: k.vault_key, form: 'amount=240000&currency=usd' });
    expect(asked.body.error?.code).toBe('approval_required');
    await visit('#/approvals', 'Approvals');
    await page.waitForSelector('tbody tr:has-text("big-spender")');
    expect(await page.textContent('tbody tr')).toContain('$2400.00');
    await check('approvals');
    await page.click('tbody tr button:has-text("Approve…")');
    await page.waitForSelector('#panel:not([hidden]) form');
    await page.fill('#panel input', 'the yearly licence');
    await page.click('#panel button:has-text("Approve")');
    await page.waitForSelector('p.empty:has-text("Nothing waits")');
    const id = asked.body.error?.approval_id as string;
    expect((await svc.admin().get(`/approvals/${id}`)).body).toMatchObject({ status: 'approved', reason: 'the yearly licence' });
    // The alert's console link opens that approval, whatever its status.
    await visit(`#/approvals/${id}`, 'Approvals');
    await page.waitForSelector(`section[aria-label="Approval ${id}"] .badge:text("approved")`);
    expect(await page.textContent(`section[aria-label="Approval ${id}"]`)).toContain('Decided by admin');
    await check('approval-one');
    expect((await call(svc.url, '/stripe/v1/payment_intents', { key: k.vault_key, form: 'amount=240000&currency=usd' })).status).toBe(200);
    await visit('#/approvals?status=used', 'Approvals');
    await page.waitForSelector('tbody tr:has-text("big-spender") .badge:text("used")');
    // The confirmation page a link in the alert opens: the same checks (it shares the console's style sheet).
    const again = await call(svc.url, '/stripe/v1/payment_intents', { key: k.vault_key, form: 'amount=250000&currency=usd' });
    const event = (await (await svc.db()).knex('webhook_events').where('event_key', `approval.requested:${again.body.error?.approval_id as string}`).first()) as { payload: string };
    await page.goto((JSON.parse(event.payload) as { data: { deny_url: string } }).data.deny_url);
    await page.waitForSelector('h1:has-text("Deny this call?")');
    await check('approval-link');
    await visit('#/approvals', 'Approvals');
  });

  afterEach(() => {
    // A script error fails the test it happened in.
    const seen = pageErrors.splice(0);
    expect(seen).toEqual([]);
  });

  test('sign out hides the navigation and forgets the key', async () => {
    await page.click('#signout');
    await page.waitForSelector('#signin:not([hidden])');
    expect(await page.isVisible('#nav')).toBe(false);
    expect(await page.evaluate("sessionStorage.getItem('keybrake.adminKey')")).toBeNull();
  });
});
