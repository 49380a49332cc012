// A loopback stand-in for Dify's service API that runs a generated chatflow the way Dify's engine would for our
// node types: /chat-messages validates the app key, the assigner copies the vault key from `inputs` into the
// conversation variable, each HTTP Request node renders its templates and calls the URL with bearer auth, and the
// answer node renders the replies.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runHttpNode } from './dify-client';

type Json = Record<string, unknown>;

export interface FakeDify {
  url: string;
  appKey: string;
  messages: Json[];
  close(): Promise<void>;
}

export async function startFakeDify(chatflow: Json, env: Record<string, string>): Promise<FakeDify> {
  const appKey = 'app-fake-0123456789';
  const messages: Json[] = [];
  const workflow = chatflow.workflow as Json;
  const nodes = ((workflow.graph as Json).nodes as { id: string; data: Json }[]).map((n) => n);

  const run = async (body: Json): Promise<Json> => {
    const inputs = body.inputs as Record<string, unknown>;
    const start = nodes.find((n) => n.data.type === 'start')!;
    for (const v of start.data.variables as Json[]) {
      if (v.required && (inputs[v.variable as string] === undefined || inputs[v.variable as string] === '')) throw new Error(`${String(v.variable)} is required in input form`);
    }
    const pool: Record<string, Record<string, unknown>> = {
      sys: { conversation_id: body.conversation_id || randomUUID(), workflow_run_id: (body.workflow_run_id as string | undefined) ?? randomUUID(), query: body.query, user_id: body.user },
      env,
      conversation: {},
      start: inputs,
    };
    const render = (template: string): string => template.replace(/\{\{#([a-zA-Z0-9_]+)\.([a-zA-Z0-9_]+)#\}\}/g, (_m, node: string, key: string) => String(pool[node]?.[key] ?? ''));
    for (const node of nodes) {
      const d = node.data;
      if (d.type === 'assigner') {
        for (const item of d.items as Json[]) {
          const [, name] = item.variable_selector as string[];
          const [from, key] = item.value as string[];
          pool.conversation![name as string] = pool[from as string]?.[key as string];
        }
      } else if (d.type === 'http-request') {
        // Dify's executor, through its SSRF proxy client with max_retries=0 (helpers/dify-client.ts).
        const ran = await runHttpNode(d, render);
        if (!ran.ok) throw new Error(ran.error);
        pool[node.id] = ran.outputs;
      }
    }
    const answer = nodes.find((n) => n.data.type === 'answer')!;
    return { conversation_id: pool.sys!.conversation_id, answer: render(String(answer.data.answer)) };
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url !== '/v1/chat-messages') return reply(404, { code: 'not_found' });
      if (req.headers.authorization !== `Bearer ${appKey}`) return reply(401, { code: 'unauthorized' });
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
      messages.push(body);
      run(body).then(
        (out) => reply(200, out),
        (err: Error) => reply(400, { code: 'invalid_param', message: err.message }),
      );
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    appKey,
    messages,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
