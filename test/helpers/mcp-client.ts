// The MCP SDK's own client (Client + StreamableHTTPClientTransport), connected to a running Keybrake's /mcp with a
// vault key, as an agent's MCP client connects.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface McpSession {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** The text of a tool call's result, and whether it is an error result. */
  call(name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean; texts: string[] }>;
  close(): Promise<void>;
}

export async function mcpSession(url: string, key: string, headers: Record<string, string> = {}): Promise<McpSession> {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}`, ...headers } } });
  const client = new Client({ name: 'keybrake-test', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    transport,
    async call(name, args) {
      const result = (await client.callTool({ name, arguments: args })) as { content: { type: string; text?: string }[]; isError?: boolean };
      const texts = result.content.map((c) => c.text ?? '');
      return { text: texts[0] ?? '', isError: result.isError === true, texts };
    },
    async close() {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}
