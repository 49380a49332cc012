// The description of a user-defined vendor in KEYBRAKE_CONFIG (vendors.<id>): where it lives, how it
// authenticates, and how each endpoint is priced (vendors/custom.ts builds its adapter from this).
import { z } from 'zod';
import { parseEndpointPattern } from './endpoints';

export const usd = z.number({ invalid_type_error: 'a number of US dollars' }).min(0, 'not negative');
const fieldName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.[\]]*$/, 'a field name such as total or order.total');

const PriceRule = z
  .object({
    fixed_usd: usd.optional(),
    amount_field: fieldName.optional(),
    currency_field: fieldName.optional(),
    currency: z.string().regex(/^[a-zA-Z]{3}$/, 'a three-letter currency code').optional(),
    units: z.enum(['minor', 'major']).optional(),
    count_field: fieldName.optional(),
    unit_usd: usd.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const kinds = [r.fixed_usd !== undefined, r.amount_field !== undefined, r.count_field !== undefined].filter(Boolean).length;
    if (kinds !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of fixed_usd, amount_field or count_field' });
    if (r.amount_field !== undefined && r.currency_field === undefined && r.currency === undefined) {
      ctx.addIssue({ code: 'custom', path: ['currency_field'], message: 'amount_field needs currency_field or a fixed currency' });
    }
    if (r.amount_field !== undefined && r.units === undefined) ctx.addIssue({ code: 'custom', path: ['units'], message: 'amount_field needs units: minor or major' });
    if (r.count_field !== undefined && r.unit_usd === undefined) ctx.addIssue({ code: 'custom', path: ['unit_usd'], message: 'count_field needs unit_usd' });
  });

const endpointMatch = z.string().refine((s) => typeof parseEndpointPattern(s) !== 'string', 'an endpoint such as "POST /v1/orders" (METHOD /path)');

const ToolField = z
  .object({
    type: z.enum(['string', 'integer', 'number', 'boolean', 'array']),
    description: z.string().max(1000).optional(),
    enum: z.array(z.string().max(200)).max(100).optional(),
    items: z.enum(['string', 'integer', 'number']).optional(),
  })
  .strict();

/**
 * The endpoint as a tool for agents (over MCP): its name, what it does for an LLM, and its arguments. Path
 * parameters are the pattern's {names}, query parameters the endpoint's `query`, everything else the body.
 */
const ToolSpec = z
  .object({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a tool name: a letter, then letters, digits, _ or - (64 at most)').optional(),
    description: z.string().min(1, 'say what the endpoint does, for a model').max(2000),
    input: z
      .object({
        properties: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'argument names: letters, digits and _'), ToolField),
        required: z.array(z.string()).optional(),
      })
      .strict()
      .default({ properties: {} }),
  })
  .strict();

export const VendorSchema = z
  .object({
    name: z.string().min(1).max(100).optional(),
    base_url: z.string().url('an http(s) URL').refine((u) => /^https?:\/\//.test(u), 'an http(s) URL'),
    auth: z
      .object({
        style: z.enum(['bearer', 'basic', 'header', 'query']),
        header: z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name').optional(),
        query_param: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a query parameter name').optional(),
        secret_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
        username_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
      })
      .strict()
      .superRefine((a, ctx) => {
        if (a.style === 'header' && !a.header) ctx.addIssue({ code: 'custom', path: ['header'], message: 'style header needs header: <name>' });
        if (a.style === 'query' && !a.query_param) ctx.addIssue({ code: 'custom', path: ['query_param'], message: 'style query needs query_param: <name>' });
      }),
    body: z.enum(['json', 'form']).default('json'),
    unpriced_writes: z.enum(['refuse', 'free']).default('refuse'),
    endpoints: z
      .array(
        z
          .object({ match: endpointMatch, price: PriceRule, query: z.array(z.string().regex(/^[A-Za-z0-9_.[\]-]+$/, 'query parameter names')).optional(), tool: ToolSpec.optional() })
          .strict()
          .superRefine((e, ctx) => {
            const priced = [e.price.amount_field, e.price.currency_field, e.price.count_field].filter((f): f is string => f !== undefined);
            for (const name of e.query ?? []) {
              if (priced.includes(name)) ctx.addIssue({ code: 'custom', path: ['query'], message: `no priced field in the query string (${name} is priced from the body)` });
            }
            const [method = '', path = ''] = e.match.split(' ');
            if (e.tool && (method === '*' || /(^|\/)\*{1,2}(\/|$)/.test(path))) ctx.addIssue({ code: 'custom', path: ['tool'], message: 'a tool needs one method and a path without * or ** (use {name} for what varies)' });
            for (const name of e.tool?.input.required ?? []) {
              if (!(name in (e.tool?.input.properties ?? {}))) ctx.addIssue({ code: 'custom', path: ['tool', 'input', 'required'], message: `${name} is required but not among the properties` });
            }
          }),
      )
      .default([]),
    /** Response fields that carry credentials, scrubbed from every answer. */
    credential_fields: z.array(fieldName).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const authParam = v.auth.query_param;
    v.endpoints.forEach((e, i) => {
      if (authParam !== undefined && e.query?.includes(authParam)) ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'query'], message: `${authParam} carries the secret; it cannot be a query parameter callers send` });
    });
  });

export type CustomVendorConfig = z.infer<typeof VendorSchema> & { id: string };
