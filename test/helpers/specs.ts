// The vendors' OpenAPI documents from test/fixtures/vendor-specs (see its README): decompressed once per process
// into a temporary folder, since Prism and the generator's --from-spec read a file path.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import yaml from 'js-yaml';

const FIXTURES = join(__dirname, '..', 'fixtures', 'vendor-specs');

export const SPEC_FILES = {
  stripe: 'stripe/spec3.json',
  twilio: 'twilio/twilio_api_v2010.json',
  resend: 'resend/resend.yaml',
} as const;

export type SpecVendor = keyof typeof SPEC_FILES;

let dir: string | undefined;
const paths = new Map<string, string>();

/** A readable path to a vendor document, e.g. specPath('stripe/spec3.json'). */
export function specPath(file: string): string {
  let path = paths.get(file);
  if (path) return path;
  const plain = join(FIXTURES, file);
  try {
    const gz = readFileSync(`${plain}.gz`);
    dir ??= mkdtempSync(join(tmpdir(), 'keybrake-specs-'));
    path = join(dir, file.replace(/\//g, '_'));
    writeFileSync(path, gunzipSync(gz));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    path = plain;
  }
  paths.set(file, path);
  return path;
}

export type OpenApiDoc = { paths: Record<string, Record<string, unknown>> } & Record<string, unknown>;

const docs = new Map<string, OpenApiDoc>();

/** A vendor's document, parsed (JSON or YAML). */
export function loadSpec(vendor: SpecVendor): OpenApiDoc {
  let doc = docs.get(vendor);
  if (!doc) {
    const text = readFileSync(specPath(SPEC_FILES[vendor]), 'utf8');
    doc = (SPEC_FILES[vendor].endsWith('.yaml') ? yaml.load(text) : JSON.parse(text)) as OpenApiDoc;
    docs.set(vendor, doc);
  }
  return doc;
}
