// What each MCP client needs to use Keybrake's /mcp with a vault key (`keybrake generate mcp-config`, and the
// console's key page through GET /vault/keys/{id}/mcp): the server's URL and the Authorization header, in the
// client's own configuration format. Pure.

export const MCP_CLIENTS = ['dify', 'claude-desktop', 'cursor', 'vscode'] as const;
export type McpClient = (typeof MCP_CLIENTS)[number];

export interface McpConfig {
  client: McpClient;
  /** Where the configuration goes, in a sentence. */
  where: string;
  /** The configuration itself: JSON to paste, or (Dify) the fields of its form. */
  text: string;
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/**
 * The configuration of one client. `name` names the server in the client (letters, digits, - and _), `key` is the
 * vault key (or a placeholder to replace).
 */
export function mcpConfig(client: McpClient, serviceUrl: string, key: string, name = 'keybrake'): McpConfig {
  const url = `${serviceUrl.replace(/\/+$/, '')}/mcp`;
  const authorization = `Bearer ${key}`;
  switch (client) {
    case 'dify':
      return {
        client,
        where: 'Dify: Tools → MCP → Add MCP Server (HTTP), with these fields; the header is stored encrypted.',
        text: [`Server URL: ${url}`, `Name: ${name}`, `Server Identifier: ${name}`, `Headers: ${JSON.stringify({ Authorization: authorization })}`, ''].join('\n'),
      };
    case 'claude-desktop':
      // Claude Desktop's configuration file starts local servers only: mcp-remote bridges it to /mcp with the header.
      return {
        client,
        where: 'Claude Desktop: Settings → Developer → Edit Config (claude_desktop_config.json), under mcpServers; needs Node.js for npx.',
        text: json({ mcpServers: { [name]: { command: 'npx', args: ['-y', 'mcp-remote', url, '--header', 'Authorization:${KEYBRAKE_AUTHORIZATION}'], env: { KEYBRAKE_AUTHORIZATION: authorization } } } }),
      };
    case 'cursor':
      return { client, where: 'Cursor: ~/.cursor/mcp.json (or .cursor/mcp.json in a project), under mcpServers.', text: json({ mcpServers: { [name]: { url, headers: { Authorization: authorization } } } }) };
    case 'vscode':
      return { client, where: 'VS Code: .vscode/mcp.json in the workspace (or MCP: Open User Configuration), under servers.', text: json({ servers: { [name]: { type: 'http', url, headers: { Authorization: authorization } } } }) };
  }
}
