// `keybrake <command>`: I/O only. Key management talks to a running service's admin API; generators write files.
import { writeFileSync } from 'node:fs';
import { difyDocuments } from '../openapi/dify-routes';
import { packagePlugin, writePlugin } from '../openapi/plugin-files';
import { generateBackendSnippet, generateChatflow, generateDifyTool, GenerateError, generateHttpNode, generateMcpConfig, type Generated } from '../openapi/generate';
import { main } from '../service/main';
import { parseOptions, required, UsageError } from './options';

const USAGE = `Usage: keybrake <command> [options]

Commands:
  serve                                  start the service (same as npm start)
  generate dify-tool --vendor V --proxy-url URL [--endpoints "POST /v1/x,GET /v1/y/{id}"]
                     [--from-spec FILE --operations "opId,POST /v1/x"] [--format yaml|json] [--out FILE]
  generate dify-http-node --vendor V --endpoint "POST /v1/x" --proxy-url URL [--out FILE]
  generate dify-chatflow --vendor V --proxy-url URL [--endpoints …] [--out FILE]
  generate backend-snippet --lang ts|python --vendor V [--endpoints …] [--daily-usd-cap N] [--expires-in 24h]
  generate mcp-config --client dify|claude-desktop|cursor|vscode --url URL [--key VAULT_KEY] [--name keybrake]
  plugin generate [--dir plugin]         write the Dify plugin's sources from the catalogs
  plugin package [--dir plugin] [--out keybrake.difypkg]
                                         check them against Dify's rules and write the package
  keys create --vendor V --daily-usd-cap N --endpoints "POST /v1/x,GET /v1/y/{id}"
              [--expires-in 72h] [--label L]
  keys list [--label-prefix P] [--vendor V] [--status active|revoked|expired] [--limit N] [--json]
              a table: id, status, vendor, label, spend today against the cap, expiry
  keys get ID
  keys revoke ID [ID ...] | --label-prefix P

Key commands use KEYBRAKE_URL (default http://127.0.0.1:8787) and KEYBRAKE_ADMIN_KEY.`;

type Env = Record<string, string | undefined>;

/** Calls the admin API; prints the answer (as JSON, or through `show`) and returns the exit code. */
async function admin(env: Env, method: string, path: string, body?: unknown, show?: (answer: unknown) => string): Promise<number> {
  const base = (env.KEYBRAKE_URL ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
  if (!env.KEYBRAKE_ADMIN_KEY) {
    process.stderr.write('keybrake: KEYBRAKE_ADMIN_KEY is not set (the admin key printed at first start)\n');
    return 2;
  }
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${env.KEYBRAKE_ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    process.stderr.write(`keybrake: cannot reach ${base}: ${(err as Error).message}\n`);
    return 1;
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      // not JSON: print as is
    }
    process.stderr.write(`keybrake: ${res.status}: ${message}\n`);
    return 1;
  }
  const answer = JSON.parse(text) as unknown;
  process.stdout.write(show ? show(answer) : JSON.stringify(answer, null, 2) + '\n');
  const warnings = (answer as { warnings?: string[] }).warnings;
  for (const w of warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  return 0;
}

interface KeyRow {
  id: string;
  status: string;
  vendor: string;
  label: string;
  spent_today_usd: number;
  daily_usd_cap: number;
  expires_at: string | null;
}

/** Keys as a table: what a person scanning them needs, one line each. */
function keyTable(answer: unknown): string {
  const rows = (answer as { data: KeyRow[]; next_cursor: string | null }).data;
  if (rows.length === 0) return 'no keys\n';
  const cells = [['ID', 'STATUS', 'VENDOR', 'LABEL', 'SPENT TODAY / CAP', 'EXPIRES']];
  for (const k of rows) {
    cells.push([k.id, k.status, k.vendor, k.label || '—', `$${k.spent_today_usd.toFixed(2)} / $${k.daily_usd_cap.toFixed(2)}`, k.expires_at ? k.expires_at.replace('T', ' ').slice(0, 16) : 'never']);
  }
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const next = (answer as { next_cursor: string | null }).next_cursor;
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n' + (next ? `(more: --cursor ${next})\n` : '');
}

async function keys(args: string[], env: Env): Promise<number> {
  const [sub, ...rest] = args;
  const json = { json: { type: 'boolean' as const } };
  switch (sub) {
    case 'create': {
      const { values } = parseOptions('keys create', rest, { vendor: { type: 'string' }, 'daily-usd-cap': { type: 'string' }, endpoints: { type: 'string' }, 'expires-in': { type: 'string' }, label: { type: 'string' }, ...json });
      const vendor = required('keys create', values.vendor, 'vendor', 'stripe, twilio, resend or one of yours');
      const cap = required('keys create', values['daily-usd-cap'], 'daily-usd-cap', 'US dollars a day, e.g. 25');
      if (!/^\d+(\.\d+)?$/.test(cap)) throw new UsageError(`keys create: --daily-usd-cap must be a number of US dollars, not ${cap}`);
      const endpoints = required('keys create', values.endpoints, 'endpoints', 'e.g. "POST /v1/payment_intents,GET /v1/payment_intents/{id}", or "*"');
      return admin(env, 'POST', '/vault/keys', {
        vendor,
        daily_usd_cap: Number(cap),
        allowed_endpoints: endpoints.split(',').map((e) => e.trim()),
        ...(values['expires-in'] ? { expires_in: values['expires-in'] } : {}),
        ...(values.label !== undefined ? { label: values.label } : {}),
      });
    }
    case 'list': {
      const { values } = parseOptions('keys list', rest, { 'label-prefix': { type: 'string' }, vendor: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' }, ...json });
      const q = new URLSearchParams();
      if (values['label-prefix']) q.set('label_prefix', values['label-prefix']);
      if (values.vendor) q.set('vendor', values.vendor);
      if (values.status) q.set('status', values.status);
      if (values.limit) q.set('limit', values.limit);
      if (values.cursor) q.set('cursor', values.cursor);
      return admin(env, 'GET', `/vault/keys${q.size ? `?${q}` : ''}`, undefined, values.json ? undefined : keyTable);
    }
    case 'get': {
      const { positionals } = parseOptions('keys get', rest, { ...json }, true);
      if (positionals.length !== 1) throw new UsageError('keys get: give exactly one key id (vk_…)');
      return admin(env, 'GET', `/vault/keys/${encodeURIComponent(positionals[0] as string)}`);
    }
    case 'revoke': {
      const { values, positionals } = parseOptions('keys revoke', rest, { 'label-prefix': { type: 'string' }, ...json }, true);
      if (values['label-prefix'] && positionals.length > 0) throw new UsageError('keys revoke: give key ids or --label-prefix, not both');
      if (values['label-prefix']) return admin(env, 'POST', '/vault/keys/revoke', { label_prefix: values['label-prefix'] });
      if (positionals.length > 0) return admin(env, 'POST', '/vault/keys/revoke', { ids: positionals });
      throw new UsageError('keys revoke: give the ids of the keys to revoke, or --label-prefix P');
    }
  }
  throw new UsageError(`keys: ${sub === undefined ? 'give a subcommand' : `unknown subcommand "${sub}"`}: create, list, get or revoke`);
}

/** The options each generator takes (any other is an error). */
const GENERATOR_OPTIONS = {
  'dify-tool': ['vendor', 'endpoints', 'proxy-url', 'format', 'out', 'from-spec', 'operations'],
  'dify-http-node': ['vendor', 'endpoint', 'proxy-url', 'format', 'out'],
  'dify-chatflow': ['vendor', 'endpoints', 'proxy-url', 'out'],
  'backend-snippet': ['lang', 'vendor', 'endpoints', 'daily-usd-cap', 'expires-in', 'out'],
  'mcp-config': ['client', 'url', 'key', 'name', 'out'],
} as const;

function generate(args: string[]): number {
  const [what, ...rest] = args;
  if (!what || !(what in GENERATOR_OPTIONS)) throw new GenerateError(`unknown generator "${what ?? ''}" (dify-tool, dify-http-node, dify-chatflow, backend-snippet, mcp-config)`);
  const allowed: readonly string[] = GENERATOR_OPTIONS[what as keyof typeof GENERATOR_OPTIONS];
  const everyOption = {
      vendor: { type: 'string' },
      endpoints: { type: 'string' },
      endpoint: { type: 'string' },
      'proxy-url': { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      'from-spec': { type: 'string' },
      operations: { type: 'string' },
      lang: { type: 'string' },
      'daily-usd-cap': { type: 'string' },
      'expires-in': { type: 'string' },
      client: { type: 'string' },
      url: { type: 'string' },
      key: { type: 'string' },
      name: { type: 'string' },
  } as const;
  const spec = Object.fromEntries(Object.entries(everyOption).filter(([name]) => allowed.includes(name))) as Partial<typeof everyOption>;
  const { values } = parseOptions(`generate ${what}`, rest, spec as typeof everyOption);
  if (values.format !== undefined && values.format !== 'yaml' && values.format !== 'json') throw new GenerateError(`--format must be yaml or json, not ${values.format}`);
  const source = {
    vendor: values.vendor,
    endpoints: values.endpoints ?? values.endpoint,
    fromSpec: values['from-spec'],
    operations: values.operations,
    proxyUrl: values['proxy-url'],
    ...(values.format ? { format: values.format as 'yaml' | 'json' } : {}),
  };
  let out: Generated;
  switch (what) {
    case 'dify-tool':
      out = generateDifyTool(source);
      break;
    case 'dify-http-node':
      out = generateHttpNode(source);
      break;
    case 'dify-chatflow':
      out = generateChatflow(source);
      break;
    case 'backend-snippet':
      out = generateBackendSnippet({ lang: values.lang, vendor: values.vendor, endpoints: source.endpoints, dailyUsdCap: values['daily-usd-cap'], expiresIn: values['expires-in'] });
      break;
    case 'mcp-config':
      out = generateMcpConfig({ client: values.client, url: values.url, key: values.key, name: values.name });
      break;
    default:
      throw new GenerateError(`unknown generator "${what ?? ''}" (dify-tool, dify-http-node, dify-chatflow, backend-snippet, mcp-config)`);
  }
  for (const note of out.notes) process.stderr.write(`note: ${note}\n`);
  if (values.out) writeFileSync(values.out, out.text);
  else process.stdout.write(out.text);
  return 0;
}

function plugin(args: string[]): number {
  const [what, ...rest] = args;
  const { values } = parseOptions(`plugin ${what ?? ''}`.trim(), rest, what === 'generate' ? { dir: { type: 'string' as const } } : { dir: { type: 'string' as const }, out: { type: 'string' as const } });
  const dir = values.dir ?? 'plugin';
  if (what === 'generate') {
    const changed = writePlugin(dir);
    process.stdout.write(changed.length === 0 ? `${dir}: up to date\n` : `${dir}: wrote ${changed.join(', ')}\n`);
    return 0;
  }
  if (what === 'package') {
    const out = values.out ?? 'keybrake.difypkg';
    const { files, bytes } = packagePlugin(dir, out);
    process.stdout.write(`${out}: ${files} files, ${bytes} bytes\n`);
    return 0;
  }
  throw new GenerateError(`unknown plugin command "${what ?? ''}" (generate, package)`);
}

export async function run(argv: string[], env: Env): Promise<number | undefined> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        await main(env, { publicRoutes: [difyDocuments] });
        return undefined;
      case 'generate':
        return generate(rest);
      case 'plugin':
        return plugin(rest);
      case 'keys':
        return await keys(rest, env);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`keybrake: unknown command "${command}"\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    // Bad options and bad input: one line naming the problem.
    process.stderr.write(`keybrake: ${(err as Error).message.split('\n')[0]}\n`);
    return 2;
  }
}

if (require.main === module) {
  void run(process.argv.slice(2), process.env).then((code) => {
    if (typeof code === 'number') process.exitCode = code;
  });
}
