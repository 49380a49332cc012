// A test client that behaves like Dify's own request code, written from the facts in Dify's source as recorded in
// shared/docs/dify.md (§1.8, §1.9, §2.5b, §3.3): not Dify itself, but everything of it that decides what reaches
// the model.
// - ssrf_proxy.make_request with max_retries=0: a status in STATUS_FORCELIST is "retryable", so the answer is
//   thrown away and MaxRetriesExceededError("Reached maximum retries (0) for URL …") is raised instead.
// - ApiTool.assembling_request writes the auth prefix back into the stored credentials dict (default prefix:
//   basic, not base64-encoded), and the agent reuses one tool runtime for a whole turn.
// - Bodies are json.dumps of the typed parameters (Python's separators); headers traceparent, Accept */*,
//   Accept-Encoding and a python-httpx User-Agent are added.
// - ApiTool answers: a status ≥ 400 raises ToolInvokeError("Request failed with status code {code} and {body}");
//   a JSON answer yields a JSON message (if an object) and a text message with the raw body.
// - ToolEngine.agent_invoke turns errors into "tool invoke error: {e}", and messages into one string: texts
//   joined, each JSON message's json.dumps(…, ensure_ascii=False) appended unless an identical text exists.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';

type Json = Record<string, unknown>;

export const STATUS_FORCELIST = [429, 500, 502, 503, 504];

export class DifyError extends Error {}

/** Python's json.dumps with its default separators (", ", ": ") and ensure_ascii=False. */
export function pyJsonDumps(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(', ')}]`;
  return `{${Object.entries(value as Json).map(([k, v]) => `${JSON.stringify(k)}: ${pyJsonDumps(v)}`).join(', ')}}`;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** ssrf_proxy.<method>(url, …, max_retries=0) */
export function ssrfRequest(method: string, url: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const target = new URL(url);
  const all: Record<string, string> = {
    traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
    accept: '*/*',
    'accept-encoding': 'gzip, deflate',
    'user-agent': 'python-httpx/0.28.1',
    ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
  };
  if (body !== undefined) all['content-length'] = String(Buffer.byteLength(body));
  return new Promise((ok, fail) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (STATUS_FORCELIST.includes(status)) return fail(new DifyError(`Reached maximum retries (0) for URL ${url}`));
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h[k] = v;
        ok({ status, headers: h, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', fail);
    req.end(body);
  });
}

export interface ApiToolCredentials {
  auth_type: 'none' | 'api_key_header';
  api_key_header?: string;
  api_key_header_prefix?: 'basic' | 'bearer' | 'custom';
  api_key_value?: string;
}

export type ToolMessage = { type: 'text'; text: string } | { type: 'json'; json_object: Json };

/** A custom tool (api/core/tools/custom_tool/tool.py) made from an imported OpenAPI document. */
export class DifyApiTool {
  constructor(
    private readonly doc: Json,
    /** The stored credentials: mutated by each call, as Dify does. */
    readonly credentials: ApiToolCredentials,
  ) {}

  private operation(operationId: string): { path: string; method: string; op: Json } {
    for (const [path, item] of Object.entries(this.doc.paths as Record<string, Json>)) {
      for (const [method, op] of Object.entries(item)) if ((op as Json).operationId === operationId) return { path, method, op: op as Json };
    }
    throw new Error(`no operation ${operationId}`);
  }

  async invoke(operationId: string, params: Json): Promise<ToolMessage[]> {
    const { path, method, op } = this.operation(operationId);
    const headers: Record<string, string> = {};
    const c = this.credentials;
    if (c.auth_type === 'api_key_header') {
      const prefix = c.api_key_header_prefix ?? 'basic';
      if (prefix === 'basic') c.api_key_value = `Basic ${c.api_key_value ?? ''}`;
      else if (prefix === 'bearer') c.api_key_value = `Bearer ${c.api_key_value ?? ''}`;
      headers[c.api_key_header ?? 'Authorization'] = c.api_key_value ?? '';
    }
    let url = String(((this.doc.servers as Json[])[0] as Json).url) + path;
    const query = new URLSearchParams();
    for (const p of (op.parameters as Json[] | undefined) ?? []) {
      const v = params[String(p.name)];
      if ((v === undefined || v === '') && p.required) throw new DifyError(`Missing required parameter ${String(p.name)}`);
      if (v === undefined || v === '') continue;
      if (p.in === 'path') url = url.replace(`{${String(p.name)}}`, String(v));
      else if (p.in === 'query') query.set(String(p.name), String(v));
      else if (p.in === 'header') headers[String(p.name)] = String(v);
    }
    if (query.size > 0) url += `?${query}`;
    let body: string | undefined;
    const content = ((op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined) ?? {};
    const [type, media] = Object.entries(content)[0] ?? [];
    if (type && media) {
      const schema = media.schema as Json;
      const out: Json = {};
      for (const [name, prop] of Object.entries((schema.properties as Record<string, Json>) ?? {})) {
        const v = params[name];
        if (v === undefined) {
          if (((schema.required as string[] | undefined) ?? []).includes(name)) throw new DifyError(`Missing required parameter ${name}`);
          continue;
        }
        out[name] = prop.type === 'integer' ? parseInt(String(v), 10) : prop.type === 'number' ? Number(v) : prop.type === 'boolean' ? Boolean(v) : v;
      }
      headers['Content-Type'] = type;
      body = pyJsonDumps(out);
    }
    const res = await ssrfRequest(method.toUpperCase(), url, headers, body);
    if (res.status >= 400) throw new DifyError(`Request failed with status code ${res.status} and ${res.text}`);
    if (res.text === '') return [{ type: 'text', text: 'Empty response from the tool, please check your parameters and try again.' }];
    if ((res.headers['content-type'] ?? '').includes('json')) {
      const parsed = JSON.parse(res.text) as unknown;
      const messages: ToolMessage[] = [];
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) messages.push({ type: 'json', json_object: parsed as Json });
      messages.push({ type: 'text', text: res.text });
      return messages;
    }
    return [{ type: 'text', text: res.text }];
  }
}

/** ToolEngine._convert_tool_response_to_str */
export function modelReads(messages: ToolMessage[]): string {
  const texts = messages.filter((m): m is { type: 'text'; text: string } => m.type === 'text').map((m) => m.text);
  const dumps = messages.filter((m): m is { type: 'json'; json_object: Json } => m.type === 'json').map((m) => pyJsonDumps(m.json_object));
  return [...texts, ...dumps.filter((d) => !texts.includes(d))].join('');
}

/** ToolEngine.agent_invoke: what the agent's model reads after calling the tool. */
export async function agentInvoke(tool: DifyApiTool, operationId: string, params: Json): Promise<string> {
  try {
    return modelReads(await tool.invoke(operationId, params));
  } catch (err) {
    return `tool invoke error: ${(err as Error).message}`;
  }
}

/** The HTTP Request node's executor and outputs (§3.3), given its data and the run's variables. */
export async function runHttpNode(data: Json, render: (template: string) => string): Promise<{ ok: true; outputs: { status_code: number; body: string } } | { ok: false; error: string }> {
  const auth = (data.authorization as { type: string; config: { type: string; api_key: string; header: string } }).config;
  const key = render(auth.api_key);
  if (!key) return { ok: false, error: 'API key is required for authorization but was empty' };
  const headers: Record<string, string> = {};
  if (auth.type === 'bearer') headers[auth.header || 'Authorization'] = `Bearer ${key}`;
  for (const line of String(data.headers ?? '').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim()] = render(line.slice(i + 1).trim());
  }
  const b = data.body as { type: string; data: { value: string }[] };
  let body: string | undefined;
  if (b.type === 'json') {
    body = pyJsonDumps(JSON.parse(render(b.data[0]?.value ?? '{}')));
    headers['Content-Type'] = 'application/json';
  }
  try {
    const res = await ssrfRequest(String(data.method).toUpperCase(), render(String(data.url)), headers, body);
    return { ok: true, outputs: { status_code: res.status, body: res.text } };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
