// What Dify accepts, as checks (dify.md §1 for custom tools, §3 for the DSL). The generator runs them on its own
// output before writing it; the tests run them on every golden file.

type Json = Record<string, unknown>;

const OPERATION_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const HTTP_METHODS = ['get', 'post', 'put', 'delete', 'patch', 'head'];

/** Problems a Dify custom-tool import would hit or mishandle; empty when the document is fine. */
export function checkToolDocument(doc: Json): string[] {
  const problems: string[] = [];
  for (const k of ['info', 'servers', 'paths']) if (!(k in doc)) problems.push(`missing top-level ${k}`);
  const servers = doc.servers as Json[] | undefined;
  const url = servers?.[0]?.url;
  if (typeof url !== 'string' || !/^https?:\/\/[^/]/.test(url)) problems.push('servers[0].url must be an absolute http(s) URL');
  const seen = new Set<string>();
  for (const [path, item] of Object.entries((doc.paths as Record<string, Json>) ?? {})) {
    if ('parameters' in item) problems.push(`${path}: path-level parameters are ignored by Dify; repeat them on each operation`);
    for (const [method, raw] of Object.entries(item)) {
      if (!HTTP_METHODS.includes(method)) continue;
      const op = raw as Json;
      const where = `${method.toUpperCase()} ${path}`;
      const id = op.operationId;
      if (typeof id !== 'string' || !OPERATION_ID.test(id)) problems.push(`${where}: operationId must match ${OPERATION_ID}`);
      else if (seen.has(id)) problems.push(`${where}: operationId ${id} is not unique`);
      else seen.add(id);
      if (typeof op.description !== 'string' || op.description.length === 0) problems.push(`${where}: no description for the LLM`);
      const params = (op.parameters as Json[] | undefined) ?? [];
      for (const name of [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])) {
        if (!params.some((p) => p.in === 'path' && p.name === name)) problems.push(`${where}: path parameter {${name}} is not declared on the operation`);
      }
      for (const p of params) if (typeof p.$ref === 'string') problems.push(`${where}: parameter uses $ref; inline it`);
      const body = op.requestBody as Json | undefined;
      if (body) {
        const types = Object.keys((body.content as Json) ?? {});
        if (types.length !== 1 || types[0] !== 'application/json') problems.push(`${where}: request body must have exactly one content type, application/json (has ${types.join(', ') || 'none'})`);
        const schema = ((body.content as Record<string, Json>)?.['application/json']?.schema ?? {}) as Json;
        if (schema.type !== 'object') problems.push(`${where}: request body schema must be an object with properties`);
        for (const [name, prop] of Object.entries((schema.properties as Record<string, Json>) ?? {})) {
          if (prop.type === 'object' || 'properties' in prop || '$ref' in prop) problems.push(`${where}: body field ${name} is nested; Dify tools carry flat fields`);
          if (!['string', 'integer', 'number', 'boolean', 'array'].includes(String(prop.type))) problems.push(`${where}: body field ${name} has no plain type`);
        }
      }
    }
  }
  if (seen.size === 0) problems.push('no operations');
  if (seen.size > 100) problems.push('Dify imports at most 100 operations per tool');
  return problems;
}

// dify: api/core/workflow/runtime/variable_pool.py VARIABLE_PATTERN
const VARIABLE_PATTERN = /\{\{#([a-zA-Z0-9_]{1,50}(?:\.[a-zA-Z_][a-zA-Z0-9_]{0,29}){1,10})#\}\}/g;
const NODE_ID = /^[A-Za-z0-9_]{1,50}$/;
const SYS_KEYS = ['query', 'files', 'conversation_id', 'user_id', 'dialogue_count', 'app_id', 'workflow_id', 'workflow_run_id', 'timestamp'];
const NODE_OUTPUTS: Record<string, string[]> = { 'http-request': ['status_code', 'body', 'headers', 'files'], llm: ['text'], 'parameter-extractor': [] };

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => strings(v, out));
  return out;
}

/** Problems in an app DSL: every `{{#node.var#}}` must resolve, node ids must be valid, the version must be a string. */
export function checkDsl(doc: Json): string[] {
  const problems: string[] = [];
  if (typeof doc.version !== 'string') problems.push('version must be a string');
  if (doc.kind !== 'app') problems.push('kind must be app');
  const app = doc.app as Json | undefined;
  if (!app || typeof app.mode !== 'string') problems.push('app.mode is required');
  const workflow = (doc.workflow ?? {}) as Json;
  const graph = (workflow.graph ?? {}) as Json;
  const nodes = (graph.nodes as Json[] | undefined) ?? [];
  const edges = (graph.edges as Json[] | undefined) ?? [];
  const conversation = ((workflow.conversation_variables as Json[] | undefined) ?? []).map((v) => String(v.name));
  const env = ((workflow.environment_variables as Json[] | undefined) ?? []).map((v) => String(v.name));
  const byId = new Map<string, Json>();
  for (const n of nodes) {
    const id = String(n.id);
    if (!NODE_ID.test(id)) problems.push(`node id ${id} must match ${NODE_ID}`);
    if (byId.has(id)) problems.push(`node id ${id} is not unique`);
    byId.set(id, n);
  }
  const types = nodes.map((n) => (n.data as Json | undefined)?.type);
  if (!types.includes('start')) problems.push('no start node');
  if (app?.mode === 'advanced-chat' && !types.includes('answer')) problems.push('a chatflow needs an answer node');
  for (const e of edges) {
    if (!byId.has(String(e.source)) || !byId.has(String(e.target))) problems.push(`edge ${String(e.id)} joins unknown nodes`);
  }
  for (const text of strings(nodes)) {
    for (const m of text.matchAll(VARIABLE_PATTERN)) {
      const [head, name] = (m[1] as string).split('.') as [string, string];
      const ok =
        head === 'sys'
          ? SYS_KEYS.includes(name)
          : head === 'env'
            ? env.includes(name)
            : head === 'conversation'
              ? conversation.includes(name)
              : (() => {
                  const node = byId.get(head)?.data as Json | undefined;
                  if (!node) return false;
                  if (node.type === 'start') return ((node.variables as Json[] | undefined) ?? []).some((v) => v.variable === name);
                  return (NODE_OUTPUTS[String(node.type)] ?? []).includes(name);
                })();
      if (!ok) problems.push(`reference ${m[0]} does not resolve`);
    }
    const stray = text.replace(VARIABLE_PATTERN, '').match(/\{\{#[^}]*#\}\}/);
    if (stray) problems.push(`reference ${stray[0]} is not a valid variable reference`);
  }
  return problems;
}
