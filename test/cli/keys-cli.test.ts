// `keybrake keys …` against a running service: a table people can scan (and --json for scripts), and every
// unknown flag or missing argument is an error naming it.
import { run } from '../../cli/main';
import { ADMIN_KEY, useStripeService, type TestService } from '../helpers/service';

describe('keybrake keys', () => {
  const ctx = useStripeService('sqlite');
  let svc: TestService;
  let stdout: string[];
  let stderr: string[];
  beforeAll(() => ({ svc } = ctx));
  beforeEach(() => {
    stdout = [];
    stderr = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => (stdout.push(String(s)), true));
    jest.spyOn(process.stderr, 'write').mockImplementation((s) => (stderr.push(String(s)), true));
  });
  afterEach(() => jest.restoreAllMocks());
  const env = (): Record<string, string> => ({ KEYBRAKE_URL: svc.url, KEYBRAKE_ADMIN_KEY: ADMIN_KEY });

  test('create, then list as a table with status, label, spend against the cap and expiry; --json for scripts', async () => {
    expect(await run(['keys', 'create', '--vendor', 'stripe', '--daily-usd-cap', '25', '--endpoints', 'POST /v1/payment_intents', '--label', 'conv-cli', '--expires-in', '2h'], env())).toBe(0);
    const created = JSON.parse(stdout.join('')) as { id: string; vault_key: string };
    await fetch(`${svc.url}/stripe/v1/payment_intents`, { method: 'POST', headers: { authorization: `Bearer ${created.vault_key}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'amount=750&currency=usd' });
    stdout = [];
    expect(await run(['keys', 'list', '--label-prefix', 'conv-cli'], env())).toBe(0);
    const lines = stdout.join('').trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+VENDOR\s+LABEL\s+SPENT TODAY \/ CAP\s+EXPIRES$/);
    expect(lines[1]).toMatch(new RegExp(`^${created.id}\\s+active\\s+stripe\\s+conv-cli\\s+\\$7\\.50 / \\$25\\.00\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d$`));
    stdout = [];
    expect(await run(['keys', 'list', '--label-prefix', 'conv-cli', '--json'], env())).toBe(0);
    expect(JSON.parse(stdout.join(''))).toMatchObject({ data: [{ id: created.id, spent_today_usd: 7.5, daily_usd_cap: 25 }] });
  });

  test('the server\'s warnings are shown, on standard error', async () => {
    expect(await run(['keys', 'create', '--vendor', 'stripe', '--daily-usd-cap', '5', '--endpoints', 'POST /v1/ephemeral_keys'], env())).toBe(0);
    expect(stderr.join('')).toMatch(/^warning: POST \/v1\/ephemeral_keys: no vault key may call this/);
  });

  test.each([
    [['keys', 'create', '--vendor', 'stripe', '--daily-usd-cap', '5', '--endpoint', 'POST /v1/x'], /^keybrake: keys create: unknown option --endpoint \(did you mean --endpoints\?\); it takes --vendor, --daily-usd-cap, --endpoints, --expires-in, --label, --json$/],
    [['keys', 'create', '--daily-usd-cap', '5', '--endpoints', '*'], /^keybrake: keys create: --vendor is required \(stripe, twilio, resend or one of yours\)$/],
    [['keys', 'create', '--vendor', 'stripe', '--daily-usd-cap', 'lots', '--endpoints', '*'], /^keybrake: keys create: --daily-usd-cap must be a number of US dollars, not lots$/],
    [['keys', 'create', '--vendor', 'stripe', '--daily-usd-cap', '5'], /^keybrake: keys create: --endpoints is required/],
    [['keys', 'list', '--labl-prefix', 'x'], /^keybrake: keys list: unknown option --labl-prefix \(did you mean --label-prefix\?\)/],
    [['keys', 'get'], /^keybrake: keys get: give exactly one key id \(vk_…\)$/],
    [['keys', 'revoke'], /^keybrake: keys revoke: give the ids of the keys to revoke, or --label-prefix P$/],
    [['keys', 'rotate'], /^keybrake: keys: unknown subcommand "rotate": create, list, get or revoke$/],
    [['generate', 'dify-tool', '--vendor', 'stripe', '--proxy-url', 'http://x', '--endpoint', 'POST /v1/payment_intents'], /^keybrake: generate dify-tool: unknown option --endpoint \(did you mean --endpoints\?\)/],
    [['generate', 'dify-http-node', '--vendor', 'stripe', '--proxy-url', 'http://x', '--endpoints', 'POST /v1/payment_intents'], /^keybrake: generate dify-http-node: unknown option --endpoints \(did you mean --endpoint\?\)/],
  ])('%j is an error naming the problem', async (argv, message) => {
    expect(await run(argv, env())).toBe(2);
    expect(stdout).toEqual([]);
    expect(stderr.join('').trimEnd()).toMatch(message);
    expect(stderr.join('').trimEnd()).not.toContain('\n');
  });
});
