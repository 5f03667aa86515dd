// One execute_code in front of upstream MCP servers: `runbox mcp --mcp-config` and the daemon's `mcpConfig` connect
// to the servers of an `mcpServers` file (here a one-tool stdio server, test/fixtures/mcp-upstream-server.mjs, and the
// real reference server @modelcontextprotocol/server-everything from node_modules),
// name their tools in execute_code's description, and the code calls them. Driven by the MCP SDK's own Client.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const BIN = path.join(root, 'bin/runbox.js');
const FIXTURE = path.join(root, 'test/fixtures/mcp-upstream-server.mjs');
// The reference server's bin from its own manifest, run with this node (no npx, no network).
const EVERYTHING = (() => {
  const manifestPath = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/package.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as { bin: Record<string, string> };
  return path.join(path.dirname(manifestPath), manifest.bin['mcp-server-everything']!);
})();
const CODE = [
  'import json',
  'answer = await call_tool("prices.lookup_price", {"fruit": "pear"})',
  'answer = json.loads(answer) if isinstance(answer, str) else answer',
  'try:',
  '    await call_tool("prices.lookup_price", {"fruit": "kiwi"})',
  '    missing = "no error"',
  'except ToolError as error:',
  '    missing = str(error)',
  'echoed = await everything__echo("hi")',
  '{"price": answer["price"], "upstream_pid": answer["pid"], "missing": missing, "echoed": echoed}',
].join('\n');

type Answer = { content: { type: string; text?: string }[]; structuredContent?: Record<string, unknown>; isError?: boolean };

let configDir: string;
let configFile: string;
let daemon: TestDaemon;
before(async () => {
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runbox-mcp-config-'));
  configFile = path.join(configDir, 'mcp.json');
  fs.writeFileSync(configFile, JSON.stringify({ mcpServers: { prices: { command: process.execPath, args: [FIXTURE] }, everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] } } }));
  daemon = await startDaemon({ mcpConfig: configFile });
});
after(async () => {
  await daemon?.close();
  fs.rmSync(configDir, { recursive: true, force: true });
});

// The checks for either way in: the upstream tool in the description, the code calling it (and its error).
async function checkUpstream(client: Client): Promise<number> {
  const { tools } = await client.listTools();
  const executeCode = tools.find((tool) => tool.name === 'execute_code')!;
  assert.match(executeCode.description ?? '', /lookup_price/);
  assert.match(executeCode.description ?? '', /The price of a fruit, in euros\./);
  const answer = (await client.callTool({ name: 'execute_code', arguments: { code: CODE } })) as Answer;
  assert.equal(answer.isError, false, answer.content.map((block) => block.text).join('\n'));
  const result = answer.structuredContent?.result as { price: number; upstream_pid: number; missing: string; echoed: unknown };
  assert.equal(result.price, 2.5);
  assert.equal(result.echoed, 'Echo: hi'); // the real reference server, through the same execute_code
  assert.match(result.missing, /no price for kiwi/);
  return result.upstream_pid;
}

describe('upstream MCP servers', () => {
  it('runbox mcp --mcp-config: the code calls the servers\' tools, and the servers stop with it', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--url', daemon.url, '--mcp-config', configFile], stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const client = new Client({ name: 'runbox-test', version: '1.0.0' });
    await client.connect(transport);
    let upstreamPid: number;
    try {
      upstreamPid = await checkUpstream(client);
      assert.match(stderr, /the code may call the tools of prices \(1 tools\)/);
    } finally {
      await client.close();
    }
    await waitForExit(upstreamPid);
  });

  it('the daemon\'s mcpConfig: /mcp\'s code calls the same servers', async () => {
    const client = new Client({ name: 'runbox-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', daemon.url)));
    try {
      await checkUpstream(client);
    } finally {
      await client.close();
    }
  });

  it('a configuration that cannot be read stops runbox mcp with its name', async () => {
    const { spawnSync } = await import('node:child_process');
    const missing = path.join(configDir, 'nope.json');
    const run = spawnSync(process.execPath, [BIN, 'mcp', '--url', daemon.url, '--mcp-config', missing], { encoding: 'utf8', input: '' });
    assert.equal(run.status, 2);
    assert.match(run.stderr, new RegExp(`cannot read the MCP configuration ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(run.stdout, '');
  });
});

// Waits until a process is gone (the upstream server runbox mcp started must not outlive it).
async function waitForExit(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`process ${pid} is still running`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
