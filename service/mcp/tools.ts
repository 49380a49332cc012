// A vault key's vendor endpoints as MCP tools (design §3, /mcp): one tool per catalog endpoint the key may call,
// named and described for a model as the Dify generators describe them; a call's arguments become the proxy request
// (path parameters into the path, query parameters into the query, the rest a JSON body, which the proxy
// re-encodes for form vendors); the proxy's answer becomes the tool's result. Pure: http/mcp-route.ts serves them.
import type { KeyRecord } from '../policy/keys';
import { catalogOf, fieldSchema, type CatalogEndpoint, type CatalogField } from '../vendors/catalogs';
import { matchEndpoint } from '../vendors/endpoints';
import type { VendorAdapter } from '../vendors/types';

const REFUSAL_NOTE =
  'Keybrake checks every call against spending caps and limits before it runs; if it refuses one, the result says why in one sentence: retrying will not help, so stop and tell the user.';

export interface McpTool {
  name: string;
  description: string;
  inputSchema: { type: 'object'; properties: Record<string, unknown>; required?: string[] };
  endpoint: CatalogEndpoint;
  /** The path with the parameters the proxy fills in itself (Twilio's AccountSid) written in. */
  path: string;
}

const fill = (path: string, values: Record<string, string>): string => path.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);

/** The tools of a key: its vendor's catalog endpoints that its allowed endpoints let it call. */
export function toolsFor(key: KeyRecord, vendor: VendorAdapter): McpTool[] {
  const catalog = catalogOf(vendor);
  if (!catalog) return [];
  const fixed = catalog.fixedPathParams ?? {};
  return catalog.endpoints.flatMap((e): McpTool[] => {
    const path = fill(e.path, fixed);
    const segments = path.split('/').filter(Boolean);
    if (!key.allowedEndpoints.some((p) => matchEndpoint(p, e.method, segments) === 'exact')) return [];
    const args = [...e.pathParams.filter((p) => fixed[p.name] === undefined), ...e.query, ...e.body];
    const required = args.filter((f) => f.required || e.pathParams.includes(f)).map((f) => f.name);
    return [
      {
        name: e.operationId,
        description: `${e.description}${e.spends ? ' This call spends money.' : ''} ${REFUSAL_NOTE}`,
        inputSchema: { type: 'object', properties: Object.fromEntries(args.map((f) => [f.name, fieldSchema(f)])), ...(required.length > 0 ? { required } : {}) },
        endpoint: e,
        path,
      },
    ];
  });
}

/** The proxy request a tool call makes: method, path and query, and the JSON body. */
export interface ToolRequest {
  method: string;
  rawUrl: string;
  body: string | undefined;
}

const scalar = (v: unknown): v is string | number | boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** The request for a call with these arguments, or what is wrong with them (said to the model as the result). */
export function requestFor(tool: McpTool, args: Record<string, unknown>): ToolRequest | { error: string } {
  const e = tool.endpoint;
  const known = new Map<string, CatalogField>([...e.pathParams, ...e.query, ...e.body].map((f) => [f.name, f]));
  const unknown = Object.keys(args).filter((k) => !known.has(k));
  if (unknown.length > 0) return { error: `${tool.name} takes no argument ${unknown.join(', ')}; its arguments are ${[...known.keys()].join(', ') || 'none'}.` };
  const missing = (tool.inputSchema.required ?? []).filter((k) => args[k] === undefined || args[k] === null || args[k] === '');
  if (missing.length > 0) return { error: `${tool.name} needs ${missing.join(', ')}.` };
  const pathValues: Record<string, string> = {};
  for (const p of e.pathParams) {
    const v = args[p.name];
    if (v === undefined) continue;
    if (!scalar(v)) return { error: `${p.name} must be a single value.` };
    pathValues[p.name] = encodeURIComponent(String(v));
  }
  const query = new URLSearchParams();
  for (const q of e.query) {
    const v = args[q.name];
    if (v === undefined || v === null) continue;
    if (!scalar(v)) return { error: `${q.name} must be a single value.` };
    query.set(q.name, String(v));
  }
  const body = Object.fromEntries(e.body.filter((f) => args[f.name] !== undefined).map((f) => [f.name, args[f.name]]));
  const qs = query.toString();
  return {
    method: e.method,
    rawUrl: fill(tool.path, pathValues) + (qs ? `?${qs}` : ''),
    body: e.method === 'GET' || e.method === 'DELETE' ? undefined : JSON.stringify(body),
  };
}

/** What the proxy answered, as collected in process (http/inprocess.ts). */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface ToolResult {
  content: { type: 'text'; text: string }[];
  isError?: boolean;
  [key: string]: unknown;
}

/**
 * A tool's result: the vendor's answer as text; Keybrake's refusal (or failure) as an error result whose text is its
 * one-sentence reason, which Dify's MCP tool hands the model as is. An answer replayed from an identical earlier call
 * says so.
 */
export function resultOf(vendor: VendorAdapter, answer: Answer): ToolResult {
  const text = answer.body.toString('utf8');
  if (answer.headers['x-keybrake-error'] !== undefined) {
    let reason = text;
    try {
      reason = String((JSON.parse(text) as { message?: unknown }).message ?? text);
    } catch {
      // not JSON: said as it came
    }
    return { content: [{ type: 'text', text: reason }], isError: true };
  }
  const content: ToolResult['content'] = [{ type: 'text', text: text || `${vendor.name} answered ${answer.status} with no body.` }];
  const replayed = answer.headers['x-keybrake-replayed-from'];
  if (replayed) content.push({ type: 'text', text: `This is the answer to an identical call made earlier (${replayed}); it was not made again and nothing more was charged.` });
  if (answer.status >= 200 && answer.status < 300) return { content };
  return { content: [{ type: 'text', text: `${vendor.name} answered ${answer.status}: ${text}` }, ...content.slice(1)], isError: true };
}
