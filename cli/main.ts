// `keybrake <command>`: I/O only. Key management talks to a running service's admin API; generators write files.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { difyDocuments } from '../openapi/dify-routes';
import { packagePlugin, writePlugin } from '../openapi/plugin-files';
import { generateBackendSnippet, generateChatflow, generateDifyTool, GenerateError, generateHttpNode, type Generated } from '../openapi/generate';
import { main } from '../service/main';

const USAGE = `Usage: keybrake <command> [options]

Commands:
  serve                                  start the service (same as npm start)
  generate dify-tool --vendor V --proxy-url URL [--endpoints "POST /v1/x,GET /v1/y/{id}"]
                     [--from-spec FILE --operations "opId,POST /v1/x"] [--format yaml|json] [--out FILE]
  generate dify-http-node --vendor V --endpoint "POST /v1/x" --proxy-url URL [--out FILE]
  generate dify-chatflow --vendor V --proxy-url URL [--endpoints …] [--out FILE]
  generate backend-snippet --lang ts|python --vendor V [--endpoints …] [--daily-usd-cap N] [--expires-in 24h]
  plugin generate [--dir plugin]         write the Dify plugin's sources from the catalogs
  plugin package [--dir plugin] [--out keybrake.difypkg]
                                         check them against Dify's rules and write the package
  keys create --vendor V --daily-usd-cap N --endpoints "POST /v1/x,GET /v1/y/{id}"
              [--expires-in 72h] [--label L]
  keys list [--label-prefix P] [--vendor V] [--status active|revoked|expired]
  keys get ID
  keys revoke ID [ID ...] | --label-prefix P

Key commands use KEYBRAKE_URL (default http://127.0.0.1:8787) and KEYBRAKE_ADMIN_KEY.`;

type Env = Record<string, string | undefined>;

async function admin(env: Env, method: string, path: string, body?: unknown): Promise<number> {
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
  process.stdout.write(JSON.stringify(JSON.parse(text), null, 2) + '\n');
  return 0;
}

async function keys(args: string[], env: Env): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      vendor: { type: 'string' },
      'daily-usd-cap': { type: 'string' },
      endpoints: { type: 'string' },
      'expires-in': { type: 'string' },
      label: { type: 'string' },
      'label-prefix': { type: 'string' },
      status: { type: 'string' },
    },
  });
  switch (sub) {
    case 'create':
      return admin(env, 'POST', '/vault/keys', {
        vendor: values.vendor,
        daily_usd_cap: values['daily-usd-cap'] === undefined ? undefined : Number(values['daily-usd-cap']),
        allowed_endpoints: values.endpoints?.split(',').map((s) => s.trim()),
        ...(values['expires-in'] ? { expires_in: values['expires-in'] } : {}),
        ...(values.label !== undefined ? { label: values.label } : {}),
      });
    case 'list': {
      const q = new URLSearchParams();
      if (values['label-prefix']) q.set('label_prefix', values['label-prefix']);
      if (values.vendor) q.set('vendor', values.vendor);
      if (values.status) q.set('status', values.status);
      return admin(env, 'GET', `/vault/keys${q.size ? `?${q}` : ''}`);
    }
    case 'get':
      if (positionals.length !== 1) break;
      return admin(env, 'GET', `/vault/keys/${encodeURIComponent(positionals[0] as string)}`);
    case 'revoke':
      if (values['label-prefix']) return admin(env, 'POST', '/vault/keys/revoke', { label_prefix: values['label-prefix'] });
      if (positionals.length > 0) return admin(env, 'POST', '/vault/keys/revoke', { ids: positionals });
      break;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

function generate(args: string[]): number {
  const [what, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
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
    },
  });
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
    default:
      throw new GenerateError(`unknown generator "${what ?? ''}" (dify-tool, dify-http-node, dify-chatflow, backend-snippet)`);
  }
  for (const note of out.notes) process.stderr.write(`note: ${note}\n`);
  if (values.out) writeFileSync(values.out, out.text);
  else process.stdout.write(out.text);
  return 0;
}

function plugin(args: string[]): number {
  const [what, ...rest] = args;
  const { values } = parseArgs({ args: rest, options: { dir: { type: 'string' }, out: { type: 'string' } } });
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
