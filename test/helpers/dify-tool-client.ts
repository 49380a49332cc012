// Calls an operation of a custom-tool schema the way Dify does (api/core/tools/custom_tool/tool.py, dify.md §1.9):
// servers[0].url + path, path parameters substituted, values converted by schema type, one JSON body,
// and the credential header built from API Key auth with the Bearer prefix.
import { request } from 'node:http';

type Json = Record<string, unknown>;

export async function invokeLikeDify(doc: Json, operationId: string, params: Record<string, unknown>, vaultKey: string): Promise<{ status: number; text: string }> {
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, raw] of Object.entries(item)) {
      const op = raw as Json;
      if (op.operationId !== operationId) continue;
      let url = ((doc.servers as Json[])[0]?.url as string) + path;
      const query = new URLSearchParams();
      for (const p of (op.parameters as Json[] | undefined) ?? []) {
        const value = params[p.name as string];
        if (value === undefined || value === '') {
          if (p.required) throw new Error(`Missing required parameter ${String(p.name)}`);
          continue;
        }
        if (p.in === 'path') url = url.replace(`{${String(p.name)}}`, String(value));
        if (p.in === 'query') query.set(p.name as string, String(value));
      }
      const schema = ((op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined)?.['application/json']?.schema as Json | undefined;
      let body: string | undefined;
      if (schema) {
        const out: Json = {};
        for (const [name, prop] of Object.entries((schema.properties as Record<string, Json>) ?? {})) {
          const value = params[name];
          if (value === undefined) {
            if (((schema.required as string[] | undefined) ?? []).includes(name)) throw new Error(`Missing required parameter ${name}`);
            continue;
          }
          out[name] = prop.type === 'integer' ? parseInt(String(value), 10) : prop.type === 'number' ? Number(value) : prop.type === 'boolean' ? Boolean(value) : value;
        }
        body = JSON.stringify(out);
      }
      if (query.size > 0) url += `?${query}`;
      const target = new URL(url);
      return new Promise((ok, fail) => {
        const req = request(
          { host: target.hostname, port: target.port, path: target.pathname + target.search, method: method.toUpperCase(), headers: { authorization: `Bearer ${vaultKey}`, ...(body ? { 'content-type': 'application/json' } : {}) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => ok({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          },
        );
        req.on('error', fail);
        req.end(body);
      });
    }
  }
  throw new Error(`no operation ${operationId}`);
}
