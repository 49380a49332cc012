// One serializer with fixed options, so that generated files are byte-for-byte reproducible.
import yaml from 'js-yaml';

export type Format = 'yaml' | 'json';

export function serialize(doc: unknown, format: Format, header: string): string {
  if (format === 'json') return JSON.stringify(doc, null, 2) + '\n';
  const comment = header
    .split('\n')
    .map((l) => `# ${l}`.trimEnd())
    .join('\n');
  return `${comment}\n${yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false, quotingType: "'" })}`;
}
