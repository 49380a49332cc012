// The README's table of what Keybrake prices, and docs/operations.md with every classified operation, generated
// from the vendors' classification (service/vendors/<id>/classification.ts) so that neither can drift from it.
// `npm run docs` rewrites both; a test fails when they differ from what this generates.
import type { OperationClass, VendorAdapter } from '../service/vendors/types';

const esc = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const CLASS_WORDS: Record<OperationClass, string> = {
  priced: 'priced before it is forwarded',
  free: 'free',
  refused: 'refused (`403 cost_unknown`)',
  credential: 'refused for every key (`403 endpoint_not_allowed`): a vendor credential',
};

/** The priced operations of each vendor, with the rule each is priced by. */
export function pricedTable(vendors: readonly VendorAdapter[]): string {
  const rows = ['| vendor | operation | priced as |', '|---|---|---|'];
  for (const v of vendors) {
    for (const r of v.routes) if (r.class === 'priced') rows.push(`| ${v.name} | \`${r.pattern.source}\` | ${esc(r.reason)} |`);
  }
  return rows.join('\n') + '\n';
}

/** Every classified operation, grouped by vendor, class and reason. */
export function operationsDoc(vendors: readonly VendorAdapter[]): string {
  const out = [
    '# What Keybrake does with each vendor operation',
    '',
    'Generated from `service/vendors/<vendor>/classification.ts` by `npm run docs`; do not edit by hand.',
    'A write (any method but GET and HEAD) that matches nothing below is refused with `403 cost_unknown`, whatever a',
    'key\'s `allowed_endpoints` say (`"*"` included). A read that matches nothing is free. The first entry that matches',
    'wins. `{id}` and `*` match one path segment, `**` the rest of the path.',
    '',
  ];
  for (const v of vendors) {
    out.push(`## ${v.name}`, '');
    const groups = new Map<string, { cls: OperationClass; reason: string; ops: string[] }>();
    for (const r of v.routes) {
      const key = `${r.class}\n${r.reason}`;
      const g = groups.get(key) ?? { cls: r.class, reason: r.reason, ops: [] };
      g.ops.push(`\`${r.pattern.source}\``);
      groups.set(key, g);
    }
    out.push('| class | operations | why |', '|---|---|---|');
    for (const g of groups.values()) out.push(`| ${CLASS_WORDS[g.cls]} | ${g.ops.join(', ')} | ${esc(g.reason)} |`);
    out.push('');
  }
  return out.join('\n');
}

const START = '<!-- generated: priced operations (npm run docs) -->';
const END = '<!-- end of generated table -->';

/** The README with its generated table replaced by `table`; throws when the markers are missing. */
export function withPricedTable(readme: string, table: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a === -1 || b === -1 || b < a) throw new Error(`README.md lacks the markers ${START} … ${END}`);
  return readme.slice(0, a + START.length) + '\n' + table + readme.slice(b);
}
