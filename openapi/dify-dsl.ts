// Conversation-variable templates (dify.md §3, design §7): a Dify HTTP Request node that calls Keybrake with the
// conversation's vault key, and a whole chatflow DSL around it. Pure and deterministic (ids derive from names).
import { createHash } from 'node:crypto';
import type { CatalogEndpoint, CatalogField } from '../service/vendors/catalogs';
import { generatedPath } from './dify-tool';
import { identifier } from './text';

type Json = Record<string, unknown>;

/** The DSL version Dify 1.10 and later write (api/constants/dsl_version.py history: 0.5.0 from 1.10). */
export const DSL_VERSION = '0.5.0';

export const vaultKeyVariable = (vendor: string): string => identifier(`${vendor}_vault_key`, 30, false);

/** A stable UUID-shaped id from a name, so regenerating gives the same document. */
function stableId(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Start-node variable names for an endpoint's inputs (path parameters and required body fields). */
function inputName(f: CatalogField): string {
  return identifier(f.name, 30, false).replace(/^(\d)/, '_$1');
}

function bodyTemplate(fields: CatalogField[], startId: string): string {
  const parts = fields.map((f) => {
    const ref = `{{#${startId}.${inputName(f)}#}}`;
    // Strings are quoted in the template; numbers, booleans and JSON arrays are inserted as they are.
    return `${JSON.stringify(f.name)}: ${f.type === 'string' ? `"${ref}"` : ref}`;
  });
  return `{${parts.join(', ')}}`;
}

export interface NodeOptions {
  vendor: string;
  endpoint: CatalogEndpoint;
  fixedPathParams?: Record<string, string> | undefined;
  /** The proxy's base URL, or a DSL expression such as {{#env.KEYBRAKE_URL#}}. */
  baseUrl: string;
  startId: string;
}

export function endpointInputs(e: CatalogEndpoint): CatalogField[] {
  return [...e.pathParams, ...e.body.filter((f) => f.required)];
}

/** The `data` of an HTTP Request node that calls one endpoint through Keybrake. */
export function httpNodeData(o: NodeOptions): Json {
  const e = o.endpoint;
  const path = generatedPath(e.path, o.fixedPathParams).replace(/\{([^}]+)\}/g, (_w, name: string) => {
    const p = e.pathParams.find((f) => f.name === name);
    return `{{#${o.startId}.${p ? inputName(p) : name}#}}`;
  });
  const required = e.body.filter((f) => f.required);
  return {
    type: 'http-request',
    title: e.summary,
    desc: `${e.method} /${o.vendor}${e.path} through Keybrake, with this conversation's vault key`,
    // The node must not run itself again: a money-moving node re-sends the same body (dify.md §3.3).
    method: e.method.toLowerCase(),
    url: `${o.baseUrl}/dify/${o.vendor}${path}`,
    authorization: { type: 'api-key', config: { type: 'bearer', api_key: `{{#conversation.${vaultKeyVariable(o.vendor)}#}}`, header: '' } },
    headers: 'X-Keybrake-Run-Id:{{#sys.workflow_run_id#}}\nX-Keybrake-Conversation-Id:{{#sys.conversation_id#}}',
    params: '',
    body: required.length > 0 ? { type: 'json', data: [{ key: '', type: 'text', value: bodyTemplate(required, o.startId) }] } : { type: 'none', data: [] },
    timeout: { connect: 10, read: 60, write: 20 },
    retry_config: { enabled: false, max_retries: 1, retry_interval: 100 },
  };
}

function startVariable(f: CatalogField): Json {
  const type = f.enum ? 'select' : f.type === 'integer' || f.type === 'number' ? 'number' : f.type === 'array' ? 'paragraph' : 'text-input';
  // Optional: in a real app these values usually come from an LLM node; the backend may also pass them in inputs.
  return { variable: inputName(f), label: f.name, type, required: false, max_length: type === 'paragraph' ? 4000 : 256, options: f.enum ?? [], hint: f.description };
}

function edge(source: Json, target: Json): Json {
  const s = String(source.id);
  const t = String(target.id);
  return {
    id: `${s}-source-${t}-target`,
    source: s,
    sourceHandle: 'source',
    target: t,
    targetHandle: 'target',
    type: 'custom',
    zIndex: 0,
    data: { isInIteration: false, isInLoop: false, sourceType: (source.data as Json).type, targetType: (target.data as Json).type },
  };
}

export interface ChatflowOptions {
  vendor: string;
  vendorName: string;
  endpoints: CatalogEndpoint[];
  fixedPathParams?: Record<string, string> | undefined;
  proxyUrl: string;
}

/**
 * start (the backend passes the vault key in `inputs`) → assigner (stores it in the conversation variable) →
 * one HTTP Request node per endpoint → answer.
 */
export function buildChatflow(o: ChatflowOptions): Json {
  const keyVar = vaultKeyVariable(o.vendor);
  const inputs = new Map<string, CatalogField>();
  for (const e of o.endpoints) for (const f of endpointInputs(e)) if (!inputs.has(inputName(f))) inputs.set(inputName(f), f);
  const start: Json = {
    id: 'start',
    type: 'custom',
    position: { x: 30, y: 250 },
    data: {
      type: 'start',
      title: 'Start',
      desc: `Your backend passes ${keyVar} in inputs with every message`,
      variables: [
        { variable: keyVar, label: `${o.vendorName} vault key`, type: 'text-input', required: true, hide: true, max_length: 256, options: [] },
        ...[...inputs.values()].map(startVariable),
      ],
    },
  };
  const assign: Json = {
    id: 'store_vault_key',
    type: 'custom',
    position: { x: 330, y: 250 },
    data: {
      type: 'assigner',
      version: '2',
      title: 'Store the vault key',
      desc: 'Keeps this conversation\'s vault key in a conversation variable',
      items: [{ variable_selector: ['conversation', keyVar], input_type: 'variable', operation: 'over-write', value: ['start', keyVar], write_mode: 'over-write' }],
    },
  };
  const calls: Json[] = o.endpoints.map((e, i) => ({
    id: identifier(`call_${e.operationId}`, 50, false),
    type: 'custom',
    position: { x: 630 + 300 * i, y: 250 },
    data: httpNodeData({ vendor: o.vendor, endpoint: e, fixedPathParams: o.fixedPathParams, baseUrl: '{{#env.KEYBRAKE_URL#}}', startId: 'start' }),
  }));
  const answer: Json = {
    id: 'answer',
    type: 'custom',
    position: { x: 630 + 300 * calls.length, y: 250 },
    data: {
      type: 'answer',
      title: 'Answer',
      desc: '',
      answer: calls.map((c) => `${String((c.data as Json).title)}: {{#${String(c.id)}.status_code#}} {{#${String(c.id)}.body#}}`).join('\n'),
      variables: [],
    },
  };
  const chain = [start, assign, ...calls, answer];
  return {
    app: {
      name: `keybrake-${o.vendor}`,
      mode: 'advanced-chat',
      icon: '🔑',
      icon_background: '#FFEAD5',
      description: `Calls ${o.vendorName} through Keybrake with a vault key per conversation`,
      use_icon_as_answer_icon: false,
    },
    dependencies: [],
    kind: 'app',
    version: DSL_VERSION,
    workflow: {
      conversation_variables: [
        { id: stableId(`conversation:${keyVar}`), name: keyVar, description: 'This conversation\'s Keybrake vault key (set from the start input)', selector: ['conversation', keyVar], value: '', value_type: 'string' },
      ],
      environment_variables: [
        { id: stableId('env:KEYBRAKE_URL'), name: 'KEYBRAKE_URL', description: 'Base URL of the Keybrake proxy', selector: ['env', 'KEYBRAKE_URL'], value: o.proxyUrl.replace(/\/+$/, ''), value_type: 'string' },
      ],
      features: {
        file_upload: { enabled: false },
        opening_statement: '',
        retriever_resource: { enabled: false },
        sensitive_word_avoidance: { enabled: false },
        speech_to_text: { enabled: false },
        suggested_questions: [],
        suggested_questions_after_answer: { enabled: false },
        text_to_speech: { enabled: false },
      },
      graph: { edges: chain.slice(1).map((n, i) => edge(chain[i] as Json, n)), nodes: chain, viewport: { x: 0, y: 0, zoom: 1 } },
    },
  };
}

/** A minimal chatflow around a single node, so that the node's references can be checked like a chatflow's. */
export function nodeInContext(o: NodeOptions, data: Json): Json {
  const flow = buildChatflow({ vendor: o.vendor, vendorName: o.vendor, endpoints: [o.endpoint], fixedPathParams: o.fixedPathParams, proxyUrl: 'http://keybrake.invalid' });
  const nodes = ((flow.workflow as Json).graph as Json).nodes as Json[];
  (nodes.find((n) => (n.data as Json).type === 'http-request') as Json).data = data;
  return flow;
}
