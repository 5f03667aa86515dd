// The mcpServers parser (sdk/mcp/config.ts): the shapes other MCP clients write, and an error naming the server and
// the field for each bad one. Pure: no server is started.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { McpConfigError, parseMcpConfig, parseMcpConfigText } from 'runbox/sdk';

describe('parseMcpConfig', () => {
  it('reads stdio and HTTP servers, deciding the transport from type, command or url', () => {
    const parsed = parseMcpConfig({
      mcpServers: {
        github: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_TOKEN: 't' }, cwd: '/srv' },
        bare: { command: 'mcp-bare' },
        docs: { url: 'https://docs.example.com/mcp', headers: { Authorization: 'Bearer x' } },
        typed: { type: 'streamable-http', url: 'http://127.0.0.1:9000/mcp' },
        old: { type: 'sse', url: 'http://127.0.0.1:9001/sse' },
        local: { type: 'stdio', command: 'node', args: ['server.js'], autoApprove: ['x'] },
        off: { command: 'never-started', disabled: true },
      },
    });
    assert.deepEqual(parsed, {
      github: { type: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_TOKEN: 't' }, cwd: '/srv' },
      bare: { type: 'stdio', command: 'mcp-bare', args: [], env: {} },
      docs: { type: 'http', url: 'https://docs.example.com/mcp', headers: { Authorization: 'Bearer x' } },
      typed: { type: 'http', url: 'http://127.0.0.1:9000/mcp', headers: {} },
      old: { type: 'sse', url: 'http://127.0.0.1:9001/sse', headers: {} },
      local: { type: 'stdio', command: 'node', args: ['server.js'], env: {} },
    });
  });

  it("reads VS Code's `servers` key and JSON text", () => {
    assert.deepEqual(parseMcpConfig({ servers: { a: { url: 'http://h/mcp' } } }), { a: { type: 'http', url: 'http://h/mcp', headers: {} } });
    assert.deepEqual(parseMcpConfigText('{"mcpServers": {}}'), {});
  });

  const BAD: Array<[unknown, RegExp]> = [
    [[], /^the configuration: expected an object \{"mcpServers": \{\.\.\.\}\}, received \[\]$/],
    [{ tools: {} }, /^the configuration: expected an object with "mcpServers", received \["tools"\]$/],
    [{ mcpServers: {}, servers: {} }, /"mcpServers" or "servers", not both/],
    [{ mcpServers: [] }, /^mcpServers: expected an object of servers by name, received \[\]$/],
    [{ mcpServers: { 'a.b': { command: 'x' } } }, /^mcpServers\.a\.b: expected a server name of 1-64 characters/],
    [{ mcpServers: { runbox: { command: 'x' } } }, /^mcpServers\.runbox: expected a server name other than "runbox"/],
    [{ mcpServers: { gh: 'npx' } }, /^mcpServers\.gh: expected an object \{command, args\?, env\?, cwd\?\} or \{url, headers\?\}, received "npx"$/],
    [{ mcpServers: { gh: {} } }, /^mcpServers\.gh: expected a command \(stdio\) or a url \(HTTP\), received \[\]$/],
    [{ mcpServers: { gh: { command: 'x', url: 'http://h' } } }, /^mcpServers\.gh: expected either a command \(stdio\) or a url \(HTTP\), not both/],
    [{ mcpServers: { gh: { type: 'websocket', url: 'ws://h' } } }, /^mcpServers\.gh\.type: expected "stdio", "http", "streamable-http" or "sse", received "websocket"$/],
    [{ mcpServers: { gh: { command: '' } } }, /^mcpServers\.gh\.command: expected a non-empty string, received ""$/],
    [{ mcpServers: { gh: { type: 'stdio', url: 'http://h' } } }, /^mcpServers\.gh\.url: expected no url for a stdio server/],
    [{ mcpServers: { gh: { command: 'x', args: '-y' } } }, /^mcpServers\.gh\.args: expected an array of strings, received "-y"$/],
    [{ mcpServers: { gh: { command: 'x', args: ['-y', 3] } } }, /^mcpServers\.gh\.args\[1\]: expected a string, received 3$/],
    [{ mcpServers: { gh: { command: 'x', env: { TOKEN: 1 } } } }, /^mcpServers\.gh\.env\.TOKEN: expected a string, received 1$/],
    [{ mcpServers: { gh: { command: 'x', cwd: 7 } } }, /^mcpServers\.gh\.cwd: expected a non-empty string, received 7$/],
    [{ mcpServers: { docs: { url: 'ftp://h/mcp' } } }, /^mcpServers\.docs\.url: expected an http: or https: URL, received "ftp:\/\/h\/mcp"$/],
    [{ mcpServers: { docs: { type: 'http', command: 'x', url: 'http://h' } } }, /^mcpServers\.docs\.command: expected no command for an http server/],
    [{ mcpServers: { docs: { url: 'http://h', headers: ['a'] } } }, /^mcpServers\.docs\.headers: expected an object of strings, received \["a"\]$/],
  ];
  for (const [config, message] of BAD) {
    it(`refuses ${JSON.stringify(config)}`, () => {
      assert.throws(() => parseMcpConfig(config), (error: unknown) => error instanceof McpConfigError && message.test(error.message));
    });
  }

  it('names the source and the field of the error', () => {
    assert.throws(() => parseMcpConfigText('{"mcpServers": ', { source: 'mcp.json' }), /^McpConfigError: mcp\.json: the configuration: expected JSON, received "/);
    assert.throws(
      () => parseMcpConfig({ mcpServers: { gh: { command: 'x', args: [1] } } }, { source: 'mcp.json' }),
      (error: unknown) => error instanceof McpConfigError && error.path === 'mcpServers.gh.args[0]' && error.message.startsWith('mcp.json: mcpServers.gh.args[0]: '),
    );
  });
});
