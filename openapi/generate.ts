// The generator's commands as functions: options in, file text out. The CLI only parses arguments and writes.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { CATALOGS, type CatalogEndpoint, type VendorCatalog } from '../service/vendors/catalogs';
import { pythonSnippet, typescriptSnippet } from './backend-snippet';
import { buildChatflow, httpNodeData, nodeInContext } from './dify-dsl';
import { checkDsl, checkToolDocument } from './dify-rules';
import { buildDifyTool } from './dify-tool';
import { MCP_CLIENTS, mcpConfig, type McpClient } from '../service/mcp/clients';
import { endpointsFromSpec, SpecError } from './from-spec';
import { serialize, type Format } from './serialize';

/** A bad option or input: the CLI prints its message as one line and exits non-zero. */
export class GenerateError extends Error {}

export interface Generated {
  text: string;
  /** What could not be carried over (from --from-spec), or where the output goes: one line each, on stderr. */
  notes: string[];
}

const VENDOR_NAME = /^[a-z][a-z0-9-]{0,39}$/;

export function checkProxyUrl(url: string | undefined): string {
  if (!url) throw new GenerateError('--proxy-url is required (the URL Dify will call, e.g. https://keys.example.com)');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GenerateError(`--proxy-url ${url} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new GenerateError(`--proxy-url must be an http:// or https:// URL, not ${parsed.protocol}`);
  if (parsed.search || parsed.hash) throw new GenerateError('--proxy-url must not have a query string or fragment');
  return url.replace(/\/+$/, '');
}

function catalogFor(vendor: string | undefined): VendorCatalog {
  if (!vendor) throw new GenerateError('--vendor is required');
  const catalog = CATALOGS.get(vendor);
  if (!catalog) throw new GenerateError(`unknown vendor "${vendor}" (built-in catalogs: ${[...CATALOGS.keys()].join(', ')}; use --from-spec for others)`);
  return catalog;
}

export function splitList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim().replace(/\s+/, ' '))
    .filter((s) => s !== '');
}

/** Picks catalog endpoints by "METHOD /path" (or operationId); all of them when none are named. */
export function selectEndpoints(catalog: VendorCatalog, wanted: string[]): CatalogEndpoint[] {
  if (wanted.length === 0) return catalog.endpoints;
  return wanted.map((w) => {
    const found = catalog.endpoints.find((e) => `${e.method} ${e.path}` === w.replace(/^(\w+)/, (m) => m.toUpperCase()) || e.operationId === w);
    if (!found) {
      throw new GenerateError(`endpoint "${w}" is not in the ${catalog.name} catalog (it has: ${catalog.endpoints.map((e) => `${e.method} ${e.path}`).join(', ')})`);
    }
    return found;
  });
}

interface Source {
  catalog: VendorCatalog;
  endpoints: CatalogEndpoint[];
  notes: string[];
}

function loadSpecFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GenerateError(`cannot read --from-spec ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return (text.trimStart().startsWith('{') ? JSON.parse(text) : yaml.load(text)) as Record<string, unknown>;
  } catch (err) {
    throw new GenerateError(`--from-spec ${file} is neither JSON nor YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

export interface SourceOptions {
  vendor?: string | undefined;
  endpoints?: string | undefined;
  fromSpec?: string | undefined;
  operations?: string | undefined;
}

export function resolveSource(o: SourceOptions): Source {
  if (!o.fromSpec) {
    if (o.operations) throw new GenerateError('--operations goes with --from-spec; use --endpoints with the built-in catalogs');
    const catalog = catalogFor(o.vendor);
    return { catalog, endpoints: selectEndpoints(catalog, splitList(o.endpoints)), notes: [] };
  }
  if (!o.vendor || !VENDOR_NAME.test(o.vendor)) throw new GenerateError('--vendor is required with --from-spec: the proxy prefix, lower case, e.g. stripe');
  const operations = splitList(o.operations ?? o.endpoints);
  if (operations.length === 0) throw new GenerateError('--operations is required with --from-spec: operationIds or "METHOD /path", comma-separated');
  const builtIn = CATALOGS.get(o.vendor);
  try {
    const result = endpointsFromSpec(loadSpecFile(o.fromSpec), operations);
    const fixed = builtIn?.fixedPathParams ?? {};
    const endpoints = result.endpoints.map((e) => ({ ...e, pathParams: e.pathParams.filter((p) => fixed[p.name] === undefined) }));
    const catalog: VendorCatalog = {
      vendor: o.vendor,
      name: builtIn?.name ?? (result.title || o.vendor),
      description: builtIn?.description ?? `${result.title || o.vendor} through Keybrake: every call is checked against a spending cap.`,
      endpoints,
      ...(builtIn?.fixedPathParams ? { fixedPathParams: builtIn.fixedPathParams } : {}),
    };
    return { catalog, endpoints, notes: result.dropped };
  } catch (err) {
    if (err instanceof SpecError) throw new GenerateError(err.message);
    throw err;
  }
}

function header(command: string): string {
  return `Generated by \`keybrake ${command}\`. Regenerate rather than edit.`;
}

function ensure(problems: string[], what: string): void {
  if (problems.length > 0) throw new GenerateError(`the generated ${what} breaks Dify's rules: ${problems.join('; ')}`);
}

export function generateDifyTool(o: SourceOptions & { proxyUrl?: string | undefined; format?: Format }): Generated {
  const proxyUrl = checkProxyUrl(o.proxyUrl);
  const { catalog, endpoints, notes } = resolveSource(o);
  const doc = buildDifyTool({ ...catalog, endpoints }, proxyUrl);
  ensure(checkToolDocument(doc), 'tool schema');
  return { text: serialize(doc, o.format ?? 'yaml', header(`generate dify-tool --vendor ${catalog.vendor}`)), notes };
}

export function generateHttpNode(o: SourceOptions & { proxyUrl?: string | undefined; format?: Format }): Generated {
  const proxyUrl = checkProxyUrl(o.proxyUrl);
  const { catalog, endpoints, notes } = resolveSource(o);
  if (endpoints.length !== 1) throw new GenerateError('dify-http-node makes one node: name exactly one endpoint with --endpoint');
  const nodeOptions = { vendor: catalog.vendor, endpoint: endpoints[0] as CatalogEndpoint, fixedPathParams: catalog.fixedPathParams, baseUrl: proxyUrl, startId: 'start' };
  const data = httpNodeData(nodeOptions);
  ensure(checkDsl(nodeInContext(nodeOptions, data)), 'HTTP Request node');
  const note =
    `${header(`generate dify-http-node --vendor ${catalog.vendor}`)}\n` +
    `The data of a Dify HTTP Request node. It expects a start node "start" with the inputs it references and a\n` +
    `conversation variable ${String((data.authorization as { config: { api_key: string } }).config.api_key).replace(/[{}#]/g, '')} holding the vault key.`;
  return { text: serialize(data, o.format ?? 'yaml', note), notes };
}

export function generateChatflow(o: SourceOptions & { proxyUrl?: string | undefined }): Generated {
  const proxyUrl = checkProxyUrl(o.proxyUrl);
  const { catalog, endpoints, notes } = resolveSource(o);
  const doc = buildChatflow({ vendor: catalog.vendor, vendorName: catalog.name, endpoints, fixedPathParams: catalog.fixedPathParams, proxyUrl });
  ensure(checkDsl(doc), 'chatflow');
  return { text: serialize(doc, 'yaml', header(`generate dify-chatflow --vendor ${catalog.vendor}`)), notes };
}

export function generateBackendSnippet(o: { lang?: string | undefined; vendor?: string | undefined; endpoints?: string | undefined; dailyUsdCap?: string | undefined; expiresIn?: string | undefined }): Generated {
  const catalog = catalogFor(o.vendor);
  const endpoints = selectEndpoints(catalog, splitList(o.endpoints)).map((e) => `${e.method} ${e.path}`);
  const cap = Number(o.dailyUsdCap ?? '20');
  if (!Number.isFinite(cap) || cap <= 0) throw new GenerateError(`--daily-usd-cap must be a positive number of US dollars, not ${o.dailyUsdCap}`);
  const expiresIn = o.expiresIn ?? '24h';
  if (!/^[1-9]\d{0,5}[mhd]$/.test(expiresIn)) throw new GenerateError(`--expires-in must be a duration such as 30m, 2h or 7d, not ${expiresIn}`);
  const options = { vendor: catalog.vendor, endpoints, dailyUsdCap: cap, expiresIn };
  if (o.lang === 'ts') return { text: typescriptSnippet(options), notes: [] };
  if (o.lang === 'python') return { text: pythonSnippet(options), notes: [] };
  throw new GenerateError(`--lang must be ts or python${o.lang ? `, not ${o.lang}` : ''}`);
}

/** `generate mcp-config`: what an MCP client needs to use /mcp with a vault key. */
export function generateMcpConfig(o: { client: string | undefined; url: string | undefined; key: string | undefined; name: string | undefined }): Generated {
  if (!o.client || !(MCP_CLIENTS as readonly string[]).includes(o.client)) throw new GenerateError(`--client must be one of ${MCP_CLIENTS.join(', ')}${o.client ? `, not ${o.client}` : ''}`);
  if (!o.url || !/^https?:\/\/[^/]/.test(o.url)) throw new GenerateError(`--url must be the Keybrake service's http(s) URL, e.g. http://127.0.0.1:8787${o.url ? `, not ${o.url}` : ''}`);
  if (o.key !== undefined && !/^vault_key_[A-Za-z0-9]+$/.test(o.key)) throw new GenerateError('--key must be a vault key (vault_key_…); leave it out to write a placeholder');
  if (o.name !== undefined && !/^[A-Za-z0-9_-]{1,40}$/.test(o.name)) throw new GenerateError('--name must be letters, digits, - and _ (at most 40)');
  const config = mcpConfig(o.client as McpClient, o.url, o.key ?? 'vault_key_…', o.name);
  return { text: config.text, notes: [config.where, ...(o.key ? [] : ['replace vault_key_… with the key (POST /vault/keys shows it once)'])] };
}
