// npm run docs: rewrites README.md's table of priced operations and docs/operations.md from the classification.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { operationsDoc, pricedTable, withPricedTable } from '../openapi/classification-doc';
import { resend } from '../service/vendors/resend';
import { stripe } from '../service/vendors/stripe';
import { twilio } from '../service/vendors/twilio';

const root = join(__dirname, '..');
const vendors = [stripe, twilio, resend];
const readme = join(root, 'README.md');
writeFileSync(readme, withPricedTable(readFileSync(readme, 'utf8'), pricedTable(vendors)));
writeFileSync(join(root, 'docs', 'operations.md'), operationsDoc(vendors));
process.stdout.write('README.md and docs/operations.md regenerated\n');
