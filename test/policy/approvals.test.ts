// When a call waits for a person (policy/approvals.ts): above a key's or its budget's threshold, or one of their
// approval endpoints however the vendor lets it be spelled; and how an approval's status reads as time passes.
import { APPROVAL_TTL_MS, approvalNeeded, statusAt } from '../../service/policy/approvals';
import type { KeyRecord } from '../../service/policy/keys';
import { pattern } from '../../service/vendors/endpoints';
import { stripe } from '../../service/vendors/stripe';
import { twilio } from '../../service/vendors/twilio';

const key = (over: Partial<KeyRecord> = {}, policy: KeyRecord['policy'] = {}): KeyRecord => ({
  id: 'vk_1',
  workspaceId: 'default',
  vendor: 'stripe',
  label: 'l',
  dailyCapMicros: 1e9,
  allowedEndpoints: [pattern('*')],
  policy,
  paramRules: [],
  approvalEndpoints: (policy.approval_endpoints ?? []).map(pattern),
  budget: null,
  expiresAt: null,
  revokedAt: null,
  createdAt: 0,
  ...over,
});
const segs = (path: string): string[] => path.slice(1).split('/');

describe('approvalNeeded', () => {
  test('above the key\'s threshold only, not at it', () => {
    const k = key({}, { approval_above_micros: 500_000_000 });
    expect(approvalNeeded(k, 500_000_000, 'POST', segs('/v1/payment_intents'), stripe)).toBeUndefined();
    expect(approvalNeeded(k, 500_000_001, 'POST', segs('/v1/payment_intents'), stripe)).toMatch(/^it is priced at \$500\.000001, above \$500\.00, the most this key spends/);
  });

  test('a shared budget\'s rules apply to its keys, beside their own', () => {
    const k = key({ budget: { id: 'bud_1', label: 'team', dailyCapMicros: 1e9, timezone: 'UTC', approval: { aboveMicros: 100_000_000, endpoints: [pattern('POST /v1/refunds')] } } });
    expect(approvalNeeded(k, 150_000_000, 'POST', segs('/v1/payment_intents'), stripe)).toContain('the shared budget bud_1');
    expect(approvalNeeded(k, 0, 'POST', segs('/v1/refunds'), stripe)).toBe('the shared budget bud_1 asks a person to approve every call of POST /v1/refunds');
    expect(approvalNeeded(k, 50_000_000, 'POST', segs('/v1/payment_intents'), stripe)).toBeUndefined();
  });

  test.each([
    ['the spelling listed', '/2010-04-01/Accounts/AC1/Calls.json'],
    ['without the format suffix', '/2010-04-01/Accounts/AC1/Calls'],
    ['with another suffix', '/2010-04-01/Accounts/AC1/Calls.xml'],
    ['in another case', '/2010-04-01/Accounts/AC1/calls.json'],
  ])('an approval endpoint cannot be stepped around by an alias the vendor serves: %s', (_what, path) => {
    const k = key({ vendor: 'twilio' }, { approval_endpoints: ['POST /2010-04-01/Accounts/{sid}/Calls.json'] });
    expect(approvalNeeded(k, 0, 'POST', segs(path), twilio)).toContain('every call of POST /2010-04-01/Accounts/{sid}/Calls.json');
    expect(approvalNeeded(k, 0, 'POST', segs('/2010-04-01/Accounts/AC1/Messages'), twilio)).toBeUndefined();
  });

  test('listed without the suffix, the suffixed spellings are covered too', () => {
    const k = key({ vendor: 'twilio' }, { approval_endpoints: ['POST /2010-04-01/Accounts/{sid}/Calls'] });
    expect(approvalNeeded(k, 0, 'POST', segs('/2010-04-01/Accounts/AC1/Calls.json'), twilio)).toBeDefined();
    expect(approvalNeeded(k, 0, 'GET', segs('/2010-04-01/Accounts/AC1/Calls.json'), twilio)).toBeUndefined();
  });
});

test('an approval pending or approved past its lifetime reads as expired; a decided one keeps its status', () => {
  const at = 1_000;
  const expiresAt = at + APPROVAL_TTL_MS;
  expect(statusAt({ status: 'pending', expiresAt }, expiresAt - 1)).toBe('pending');
  expect(statusAt({ status: 'pending', expiresAt }, expiresAt)).toBe('expired');
  expect(statusAt({ status: 'approved', expiresAt }, expiresAt + 5)).toBe('expired');
  expect(statusAt({ status: 'denied', expiresAt }, expiresAt + 5)).toBe('denied');
  expect(statusAt({ status: 'used', expiresAt }, expiresAt + 5)).toBe('used');
});
