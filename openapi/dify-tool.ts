// Catalog endpoints → a Dify custom-tool OpenAPI 3.0 document (dify.md §1, design §7). Pure.
import { fieldSchema, type CatalogEndpoint } from '../service/vendors/catalogs';

export interface ToolSource {
  vendor: string;
  name: string;
  description: string;
  endpoints: CatalogEndpoint[];
  fixedPathParams?: Record<string, string> | undefined;
}

export type OpenApiDoc = Record<string, unknown>;

const CAP_NOTE =
  'Keybrake checks this call against spending caps and limits before it runs. If it answers 402, a spending cap or rate limit was reached: retrying will not help, so stop and tell the user what the answer says. A 401 or 403 means this key may not make the call; 424 means the vendor or Keybrake failed, and the answer says whether the call may have gone through.';


/** The path as generated: fixed parameters (Twilio's AccountSid) become literals the proxy replaces. */
export function generatedPath(path: string, fixed: Record<string, string> | undefined): string {
  return path.replace(/\{([^}]+)\}/g, (whole, name: string) => fixed?.[name] ?? whole);
}

function operation(e: CatalogEndpoint): Record<string, unknown> {
  const parameters = [
    ...e.pathParams.map((p) => ({ name: p.name, in: 'path', required: true, description: p.description, schema: { type: p.type } })),
    ...e.query.map((p) => ({ name: p.name, in: 'query', required: p.required ?? false, description: p.description, schema: fieldSchema(p) })),
  ];
  const op: Record<string, unknown> = {
    operationId: e.operationId,
    summary: e.summary,
    description: `${e.description} ${CAP_NOTE}`,
  };
  if (parameters.length > 0) op.parameters = parameters;
  if (e.body.length > 0) {
    const required = e.body.filter((f) => f.required).map((f) => f.name);
    op.requestBody = {
      required: required.length > 0,
      content: {
        'application/json': {
          schema: { type: 'object', ...(required.length > 0 ? { required } : {}), properties: Object.fromEntries(e.body.map((f) => [f.name, fieldSchema(f)])) },
        },
      },
    };
  }
  op.responses = {
    '200': { description: "The vendor's answer, as JSON." },
    '401': { description: 'The vault key is missing, unknown, expired or revoked. Retrying will not help.' },
    '403': { description: 'This vault key may not make this call (endpoint, parameters or price not allowed). Retrying will not help.' },
    '402': { description: 'A Keybrake spending cap or rate limit was reached (a 429 for other clients; Dify is sent 402 so that the reason reaches the model). Retrying will not help; tell the user.' },
    '424': { description: 'The vendor or Keybrake failed (a 5xx for other clients). The answer says what happened.' },
  };
  return op;
}

export function buildDifyTool(source: ToolSource, proxyUrl: string): OpenApiDoc {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const e of source.endpoints) {
    const path = generatedPath(e.path, source.fixedPathParams);
    paths[path] = { ...(paths[path] ?? {}), [e.method.toLowerCase()]: operation(e) };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: `${source.name} via Keybrake`,
      version: '1.0.0',
      description: `${source.description} Authenticate with a Keybrake vault key: in Dify choose API Key, header Authorization, prefix Bearer.`,
    },
    // /dify/{vendor}: Keybrake answers there in statuses Dify's HTTP client passes on to the model (README, "In Dify").
    servers: [{ url: `${proxyUrl.replace(/\/+$/, '')}/dify/${source.vendor}` }],
    paths,
    components: {
      securitySchemes: {
        vaultKey: { type: 'http', scheme: 'bearer', description: 'A Keybrake vault key (vault_key_…). Dify ignores this block: set API Key auth, header Authorization, prefix Bearer.' },
      },
    },
    security: [{ vaultKey: [] }],
  };
}
