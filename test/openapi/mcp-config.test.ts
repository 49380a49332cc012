// `keybrake generate mcp-config`: each client's configuration for /mcp, with the vault key (or a placeholder), and a
// clear refusal of a client, URL or key it cannot use.
import { GenerateError, generateMcpConfig } from '../../openapi/generate';
import { MCP_CLIENTS } from '../../service/mcp/clients';

const URL = 'https://keybrake.example.com';
const KEY = 'vault_key_0123456789abcdefghijklmnopqrstuv';

describe('generate mcp-config', () => {
  test('Cursor and VS Code: the URL and the Authorization header, in each one\'s own JSON', () => {
    expect(JSON.parse(generateMcpConfig({ client: 'cursor', url: URL, key: KEY, name: undefined }).text)).toEqual({ mcpServers: { keybrake: { url: `${URL}/mcp`, headers: { Authorization: `Bearer ${KEY}` } } } });
    expect(JSON.parse(generateMcpConfig({ client: 'vscode', url: `${URL}/`, key: KEY, name: 'payments' }).text)).toEqual({ servers: { payments: { type: 'http', url: `${URL}/mcp`, headers: { Authorization: `Bearer ${KEY}` } } } });
  });

  test('Claude Desktop: mcp-remote carries the header, the key in its environment', () => {
    const out = generateMcpConfig({ client: 'claude-desktop', url: URL, key: KEY, name: undefined });
    const server = (JSON.parse(out.text) as { mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }> }).mcpServers.keybrake;
    expect(server).toEqual({ command: 'npx', args: ['-y', 'mcp-remote', `${URL}/mcp`, '--header', 'Authorization:${KEYBRAKE_AUTHORIZATION}'], env: { KEYBRAKE_AUTHORIZATION: `Bearer ${KEY}` } });
    expect(out.notes[0]).toMatch(/claude_desktop_config\.json/);
  });

  test("Dify: the fields of its Add MCP Server form; without --key, a placeholder and a note", () => {
    const out = generateMcpConfig({ client: 'dify', url: URL, key: undefined, name: undefined });
    expect(out.text).toBe(`Server URL: ${URL}/mcp\nName: keybrake\nServer Identifier: keybrake\nHeaders: {"Authorization":"Bearer vault_key_…"}\n`);
    expect(out.notes).toEqual([expect.stringMatching(/^Dify: Tools → MCP/), expect.stringMatching(/replace vault_key_…/)]);
  });

  test.each([
    [{ client: 'zed', url: URL, key: undefined, name: undefined }, /--client must be one of dify, claude-desktop, cursor, vscode, not zed/],
    [{ client: 'cursor', url: 'keybrake.example.com', key: undefined, name: undefined }, /--url must be the Keybrake service's http\(s\) URL/],
    [{ client: 'cursor', url: URL, key: 'sk_live_x', name: undefined }, /--key must be a vault key/],
    [{ client: 'cursor', url: URL, key: undefined, name: 'a b' }, /--name must be letters/],
  ])('refused: %o', (opts, message) => {
    expect(() => generateMcpConfig(opts)).toThrow(GenerateError);
    expect(() => generateMcpConfig(opts)).toThrow(message);
  });

  test('every client has a configuration', () => {
    expect(MCP_CLIENTS.map((c) => generateMcpConfig({ client: c, url: URL, key: KEY, name: undefined }).text.includes(`${URL}/mcp`))).toEqual([true, true, true, true]);
  });
});
