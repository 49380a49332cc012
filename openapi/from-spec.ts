// Any vendor OpenAPI document + a list of operations → catalog endpoints, flattened to what Dify custom tools can
// carry (flat, typed JSON fields), with a line for everything dropped. Pure: the CLI reads the file.
import type { CatalogEndpoint, CatalogField, FieldType } from '../service/vendors/catalogs';
import { identifier, plainText } from './text';

type Json = Record<string, unknown>;

export class SpecError extends Error {}

const METHODS = ['get', 'post', 'delete', 'put', 'patch'] as const;

function resolve(spec: Json, node: unknown, depth = 0): Json {
  if (depth > 20 || typeof node !== 'object' || node === null) return {};
  const ref = (node as Json).$ref;
  if (typeof ref !== 'string') return node as Json;
  if (!ref.startsWith('#/')) throw new SpecError(`external $ref ${ref} is not supported`);
  let target: unknown = spec;
  for (const part of ref.slice(2).split('/')) {
    target = (target as Json | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  if (target === undefined) throw new SpecError(`$ref ${ref} does not resolve`);
  return resolve(spec, target, depth + 1);
}

/** Merges a top-level allOf, as Dify's parser does for body schemas. */
function merged(spec: Json, schema: Json): Json {
  const all = schema.allOf;
  if (!Array.isArray(all)) return schema;
  const out: Json = { ...schema, properties: { ...((schema.properties as Json) ?? {}) }, required: [...((schema.required as string[]) ?? [])] };
  for (const part of all) {
    const p = merged(spec, resolve(spec, part));
    Object.assign(out.properties as Json, p.properties ?? {});
    (out.required as string[]).push(...((p.required as string[]) ?? []));
    if (p.type && !out.type) out.type = p.type;
    if (p.description && !out.description) out.description = p.description;
  }
  delete out.allOf;
  return out;
}

const SCALARS = new Set(['string', 'integer', 'number', 'boolean']);

/** A flat field type for a schema, or why it cannot be one. */
function flatType(spec: Json, raw: Json): { type: FieldType; items?: 'string' | 'integer' | 'number'; enum?: string[]; description?: string } | string {
  const schema = merged(spec, resolve(spec, raw));
  const variants = (schema.anyOf ?? schema.oneOf) as unknown[] | undefined;
  if (Array.isArray(variants)) {
    // Stripe's "emptyable" fields are anyOf [the type, enum ['']]; Resend's recipients are string | string[].
    for (const v of variants) {
      const t = flatType(spec, resolve(spec, v));
      if (typeof t !== 'string' && !(t.enum?.length === 1 && t.enum[0] === '')) return { ...t, ...(schema.description ? { description: schema.description as string } : {}) };
    }
    return 'a choice with no plain-value alternative';
  }
  const type = schema.type as string | undefined;
  const enumValues = Array.isArray(schema.enum) ? (schema.enum as unknown[]).map(String) : undefined;
  if (type && SCALARS.has(type)) return { type: type as FieldType, ...(enumValues ? { enum: enumValues } : {}), ...(schema.description ? { description: schema.description as string } : {}) };
  if (type === 'array') {
    const items = resolve(spec, schema.items);
    const itemType = items.type as string | undefined;
    if (itemType === 'string' || itemType === 'integer' || itemType === 'number') return { type: 'array', items: itemType, ...(schema.description ? { description: schema.description as string } : {}) };
    return 'an array of objects';
  }
  if (type === 'object' || schema.properties) return 'an object';
  if (enumValues) return { type: 'string', enum: enumValues };
  return 'of no declared type';
}

function field(name: string, spec: Json, schema: Json, required: boolean, fallbackDescription: unknown): CatalogField | string {
  const t = flatType(spec, schema);
  if (typeof t === 'string') return t;
  const description = plainText((t.description as string | undefined) ?? (fallbackDescription as string | undefined), 300) || name;
  return { name, type: t.type, ...(t.items ? { items: t.items } : {}), ...(t.enum ? { enum: t.enum } : {}), description, ...(required ? { required: true } : {}) };
}

function findOperation(spec: Json, selector: string): { method: string; path: string; op: Json; pathItem: Json } {
  const paths = (spec.paths ?? {}) as Record<string, Json>;
  const m = /^([A-Za-z]+)\s+(\/\S*)$/.exec(selector.trim());
  if (m) {
    const method = (m[1] as string).toLowerCase();
    const pathItem = paths[m[2] as string];
    const op = pathItem?.[method] as Json | undefined;
    if (!pathItem || !op) throw new SpecError(`operation "${selector}" is not in the spec`);
    return { method, path: m[2] as string, op, pathItem };
  }
  for (const [path, pathItem] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = pathItem[method] as Json | undefined;
      if (op?.operationId === selector) return { method, path, op, pathItem };
    }
  }
  throw new SpecError(`operation "${selector}" is not in the spec (give an operationId or "METHOD /path")`);
}

export interface FromSpecResult {
  endpoints: CatalogEndpoint[];
  /** One line per thing Dify's tools cannot carry that was left out. */
  dropped: string[];
  title: string;
  description: string;
}

export function endpointsFromSpec(spec: Json, operations: string[]): FromSpecResult {
  if (typeof spec.openapi !== 'string' || !spec.paths) throw new SpecError('not an OpenAPI 3 document (no openapi version or no paths)');
  const dropped: string[] = [];
  const endpoints: CatalogEndpoint[] = [];
  const used = new Set<string>();
  for (const selector of operations) {
    const { method, path, op, pathItem } = findOperation(spec, selector);
    if (!['get', 'post', 'delete'].includes(method)) throw new SpecError(`operation "${selector}" uses ${method.toUpperCase()}, which Keybrake does not proxy for generated tools yet`);
    let operationId = identifier(typeof op.operationId === 'string' ? op.operationId : `${method}_${path}`);
    while (used.has(operationId)) operationId = `${operationId.slice(0, 60)}_${used.size}`;
    used.add(operationId);
    const where = (what: string): string => `${operationId}: ${what}`;

    const pathParams: CatalogField[] = [];
    const query: CatalogField[] = [];
    const params = [...((pathItem.parameters as unknown[]) ?? []), ...((op.parameters as unknown[]) ?? [])].map((p) => resolve(spec, p));
    for (const p of params) {
      const name = String(p.name);
      if (p.in === 'header' || p.in === 'cookie') {
        dropped.push(where(`dropped ${p.in} parameter ${name} (Keybrake and Dify set headers themselves)`));
        continue;
      }
      const f = field(name, spec, (p.schema as Json) ?? {}, p.in === 'path' || p.required === true, p.description);
      if (typeof f === 'string') {
        dropped.push(where(`dropped ${p.in} parameter ${name}: it is ${f}`));
      } else if (p.in === 'path') {
        pathParams.push({ ...f, type: 'string', required: true });
      } else if (f.type === 'array') {
        dropped.push(where(`dropped query parameter ${name}: Dify sends a list as repeated keys, which this API does not read as an array`));
      } else {
        query.push(f);
      }
    }

    const body: CatalogField[] = [];
    // Stripe's spec gives GETs an empty form body; reads send nothing.
    const content = (method === 'get' || method === 'delete' ? {} : ((resolve(spec, op.requestBody).content as Json | undefined) ?? {})) as Record<string, Json>;
    const type = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'].find((t) => content[t]);
    if (type) {
      const schema = merged(spec, resolve(spec, content[type]?.schema));
      if (schema.type === 'array') throw new SpecError(`operation "${selector}" takes a JSON array as its body, which a Dify custom tool cannot send`);
      const required = new Set((schema.required as string[] | undefined) ?? []);
      for (const [name, prop] of Object.entries((schema.properties as Record<string, Json>) ?? {})) {
        const f = field(name, spec, prop, required.has(name), undefined);
        if (typeof f === 'string') dropped.push(where(`dropped body field ${name}: it is ${f}, and Dify tools carry flat fields only`));
        else body.push(f);
      }
      if (type !== 'application/json') dropped.push(where(`the body is sent as JSON (Keybrake re-encodes it as ${type} for the vendor)`));
    }
    endpoints.push({
      method: method.toUpperCase() as CatalogEndpoint['method'],
      path,
      operationId,
      summary: plainText((op.summary as string | undefined) ?? operationId, 120),
      description: plainText((op.description as string | undefined) ?? (op.summary as string | undefined) ?? operationId, 600),
      pathParams,
      query,
      body,
      spends: method !== 'get',
    });
  }
  const info = (spec.info ?? {}) as Json;
  return { endpoints, dropped, title: plainText(info.title as string | undefined, 80), description: plainText(info.description as string | undefined, 300) };
}
