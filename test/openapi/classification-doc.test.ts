// The README's table of priced operations and docs/operations.md are generated from the classification: a change
// to one without `npm run docs` fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { operationsDoc, pricedTable, withPricedTable } from '../../openapi/classification-doc';
import { resend } from '../../service/vendors/resend';
import { stripe } from '../../service/vendors/stripe';
import { twilio } from '../../service/vendors/twilio';

const root = join(__dirname, '..', '..');
const vendors = [stripe, twilio, resend];

test('README.md holds the priced-operations table generated from the classification', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  expect(withPricedTable(readme, pricedTable(vendors))).toBe(readme);
  expect(readme).toContain('| Resend | `POST /emails` | every To, Cc and Bcc recipient × the price per email |');
});

test('docs/operations.md lists every classified operation, as generated', () => {
  const doc = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
  expect(doc).toBe(operationsDoc(vendors));
  for (const v of vendors) for (const r of v.routes) expect(doc).toContain(`\`${r.pattern.source}\``);
});

test('a README without the markers is an error, not a silent append', () => {
  expect(() => withPricedTable('# nothing here\n', 'x')).toThrow(/lacks the markers/);
});
