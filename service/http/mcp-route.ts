// /mcp (design §3): Keybrake as an MCP server over Streamable HTTP, on the official TypeScript SDK. A vault key (sent
// as the proxy takes it) is the credential: tools/list offers one tool per catalog endpoint the key may call, and
// tools/call runs the call through the proxy route in process (http/inprocess.ts), so that it is decided, priced,
// reserved, forwarded, settled and audited exactly as over HTTP; its audit row says it came over MCP. A refusal is a
// tool result marked isError whose text is the reason, which reaches the model (Dify's MCP tool passes the text on
// and would show a model only "Failed to discover OAuth metadata" for an HTTP 401); HTTP errors are kept for a
// request without a known vault key (401), a key not served over MCP (403) and malformed requests.
// Each HTTP request is served on its own (the SDK's stateless mode): any instance serves any session, and a
// revocation is seen by the next tools/call everywhere. The Mcp-Session-Id Keybrake hands out at initialize is
// not stored; clients echo it, and the audit records it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { hashSecret, newId } from '../crypto';
import { toolsFor, requestFor, resultOf, type McpTool } from '../mcp/tools';
import { auditEntry, type Origin } from '../proxy/plan';
import { collect } from '../proxy/forward';
import type { Db } from '../store/db';
import { findKeyByHash, type StoredKey } from '../store/keys';
import { record } from '../store/ledger';
import type { VendorRegistry } from '../vendors/registry';
import type { VendorAdapter } from '../vendors/types';
import { VERSION } from '../version';
import { runInProcess } from './inprocess';
import { presentedVaultKey } from './vault-key';

/** The proxy route's handler (http/proxy-route.ts). */
export type ProxyHandler = (req: IncomingMessage, res: ServerResponse, vendor: VendorAdapter, rawUrl: string, audience: 'sdk', origin: Origin) => Promise<void>;

export interface McpDeps {
  db: Db;
  registry: VendorRegistry;
  proxy: ProxyHandler;
  log: Logger;
}

/** Headers a tool call carries on to the proxy: the key, and what ties the call to a run, a conversation, a user. */
// The host too: links Keybrake writes for the call (an approval's) point where the client reached it.
const CARRIED = ['authorization', 'host', 'x-keybrake-run-id', 'x-keybrake-conversation-id', 'x-keybrake-user'];
const MAX_BODY = 1024 * 1024;

function rpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function instructions(key: StoredKey, vendor: VendorAdapter): string {
  return `Tools that call ${vendor.name} through Keybrake with a capped vault key${key.label ? ` (${key.label})` : ''}. Every call is checked against the key's spending caps and limits before it runs; a refused call's result says why in one sentence. Retrying a refused call will not help: tell the user what it says.`;
}

/** The MCP server of one request: the key's tools, and calls that go through the proxy. */
function serverFor(deps: McpDeps, key: StoredKey, vendor: VendorAdapter, req: IncomingMessage, session: string | null): Server {
  const server = new Server({ name: 'keybrake', version: VERSION }, { capabilities: { tools: {} }, instructions: instructions(key, vendor) });
  const tools = (): McpTool[] => toolsFor(key, vendor);
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: tools().map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = tools().find((t) => t.name === request.params.name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}. tools/list names the tools of this vault key.`);
    const call = requestFor(tool, (request.params.arguments ?? {}) as Record<string, unknown>);
    if ('error' in call) {
      // Refused before it became a request: it still leaves its audit row.
      const entry = auditEntry({ auditId: newId('aud', Date.now()), now: Date.now(), vendor, key, method: tool.endpoint.method, path: tool.path, headers: req.headers, origin: { channel: 'mcp', session } });
      await record(deps.db, { audit: { ...entry, code: 'bad_request', message: call.error, status: 400 } });
      return { content: [{ type: 'text', text: call.error }], isError: true };
    }
    const headers: Record<string, string> = {};
    for (const h of CARRIED) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    const answer = await runInProcess((r, s) => deps.proxy(r, s, vendor, call.rawUrl, 'sdk', { channel: 'mcp', session }), {
      method: call.method,
      url: `/${vendor.id}${call.rawUrl}`,
      headers,
      body: call.body,
      signal: extra.signal,
    });
    return resultOf(vendor, answer);
  });
  return server;
}

export function createMcpHandler(deps: McpDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async function mcp(req, res) {
    const method = req.method ?? 'GET';
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') return rpcError(res, 405, -32000, `${method} is not an MCP method here: POST a JSON-RPC message to /mcp.`, { allow: 'POST, GET, DELETE' });
    const presented = presentedVaultKey(req.headers);
    if (!presented) return rpcError(res, 401, -32001, 'Keybrake serves MCP to vault keys: send Authorization: Bearer vault_key_…');
    const key = await findKeyByHash(deps.db, hashSecret(presented));
    if (!key) return rpcError(res, 401, -32001, 'This vault key is not known to Keybrake.');
    if (key.policy.mcp === false) return rpcError(res, 403, -32001, 'This vault key is not served over MCP (it was issued with "mcp": false).');
    const vendor = deps.registry.get(key.vendor);
    if (!vendor) return rpcError(res, 403, -32001, `This vault key's vendor (${key.vendor}) is not configured on this Keybrake.`);
    // Nothing is pushed to clients unasked, so there is no stream to open; and no session to tear down.
    if (method === 'GET') return rpcError(res, 405, -32000, 'Keybrake sends no server-initiated messages: there is no stream to open.', { allow: 'POST, DELETE' });
    if (method === 'DELETE') {
      res.writeHead(200).end();
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse((await collect(req, MAX_BODY)).toString('utf8'));
    } catch {
      return rpcError(res, 400, -32700, 'Parse error: the body is not a JSON-RPC message (JSON, at most 1 MiB).');
    }
    const messages = Array.isArray(parsed) ? parsed : [parsed];
    const initializing = messages.some((m) => (m as { method?: unknown } | null)?.method === 'initialize');
    const given = req.headers['mcp-session-id'];
    const session = initializing ? newId('mcp') : typeof given === 'string' ? given.slice(0, 100) : null;
    if (initializing && session) res.setHeader('mcp-session-id', session);
    const server = serverFor(deps, key, vendor, req, session);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, parsed);
  };
}
