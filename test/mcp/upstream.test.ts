// One execute_code in front of upstream MCP servers: `runbox mcp --mcp-config` and the daemon's `mcpConfig` connect
// to the servers of one `mcpServers` file (a one-tool stdio server, test/fixtures/mcp-upstream-server.mjs; the real
// reference servers server-everything over stdio and over Streamable HTTP (a `url` entry) and server-filesystem on
// a temporary directory; and test/fixtures/mcp-faulty-server.mjs, which crashes on its second call), list their
// groups in execute_code's description (42 tools: discovery is on), and the code finds and calls them. A crashing
// server is a tool error naming it and leaves everything else serving; a file that cannot be read or connected, or
// whose servers offer more tools than an execution may declare, stops runbox mcp (exit 2) and the daemon's start.
// Driven by the MCP SDK's own Client.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { postExecution, startDaemon, waitForNoProcesses, type TestDaemon } from '../helpers/daemon.js';
import { referenceServers, startEverythingHttp, type HttpMcpServer } from '../helpers/mcp-servers.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const BIN = path.join(root, 'bin/runbox.js');
const FIXTURE = path.join(root, 'test/fixtures/mcp-upstream-server.mjs');
const FAULTY = path.join(root, 'test/fixtures/mcp-faulty-server.mjs');
/** What the groups of execute_code's description must show: the server, its tool count, its first tools. */
const GROUPS = [
  /^- prices \(1 tool\): lookup_price$/m,
  /^- everything \(\d+ tools\): echo, /m,
  /^- files \(\d+ tools\): read_file, /m,
  /^- web \(\d+ tools\): echo, /m,
  /^- faulty \(1 tool\): ping$/m,
];

type Answer = { content: { type: string; text?: string }[]; structuredContent?: Record<string, unknown>; isError?: boolean };

let configDir: string;
let configFile: string;
let notesFile: string;
let web: HttpMcpServer;
let daemon: TestDaemon;
before(async () => {
  const { everything, filesystem } = referenceServers();
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runbox-mcp-config-'));
  const shared = path.join(configDir, 'shared');
  fs.mkdirSync(shared);
  notesFile = path.join(fs.realpathSync(shared), 'notes.txt');
  fs.writeFileSync(notesFile, 'only the filesystem server reads this\n');
  web = await startEverythingHttp(everything); // an operator's HTTP server, reached by its url
  configFile = writeConfig('mcp.json', {
    prices: { command: process.execPath, args: [FIXTURE] },
    everything: { command: process.execPath, args: [everything, 'stdio'] },
    files: { command: process.execPath, args: [filesystem, shared] },
    web: { url: web.url },
    faulty: { command: process.execPath, args: [FAULTY, 'crash-on-second-call', crashMarker()] },
  });
  // No fork server of its own (it may restart one under load): every fork server assertRefused finds is a failed start's.
  daemon = await startDaemon({ mcpConfig: configFile, forkServer: false });
});
after(async () => {
  await daemon?.close();
  if (configDir) await waitForNoProcesses(configDir); // the daemon's stdio servers (files, faulty) stopped with it
  await web?.stop();
  if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
});

// What the crashing server's command line carries, to tell it from the other tests' (test files run side by side).
const crashMarker = () => path.join(configDir, 'crashing');

// Writes an mcpServers file into the test's directory; returns its path.
function writeConfig(name: string, servers: Record<string, unknown>): string {
  const file = path.join(configDir, name);
  fs.writeFileSync(file, JSON.stringify({ mcpServers: servers }));
  return file;
}

async function executeCode(client: Client, code: string): Promise<Answer> {
  return (await client.callTool({ name: 'execute_code', arguments: { code } })) as Answer;
}

const textOf = (answer: Answer) => answer.content.map((block) => block.text).join('\n');

// The code finds a tool (discovery) and calls every kind of server: stdio, HTTP, the filesystem one, and a refusal.
const CODE = (notes: string) => [
  'import json',
  'found = [match.name for match in search_tools("price of a fruit", limit=3)]',
  'stub = describe_tool("prices.lookup_price")',
  'answer = await call_tool("prices.lookup_price", {"fruit": "pear"})',
  'answer = json.loads(answer) if isinstance(answer, str) else answer',
  'try:',
  '    await call_tool("prices.lookup_price", {"fruit": "kiwi"})',
  '    missing = "no error"',
  'except ToolError as error:',
  '    missing = str(error)',
  'echoed = await everything__echo("hi")',
  'over_http = await web__get_sum(2, 3)',
  `notes = (await files__read_text_file(path=${JSON.stringify(notes)})).content`,
  '{"found": found, "stub": stub, "price": answer["price"], "upstream_pid": answer["pid"], "missing": missing,',
  ' "echoed": echoed, "over_http": over_http, "notes": notes}',
].join('\n');

// The checks for either way in: the description's groups, the code calling each server; returns the stdio
// fixture's pid.
async function checkUpstream(client: Client): Promise<number> {
  const { tools } = await client.listTools();
  const description = tools.find((tool) => tool.name === 'execute_code')?.description ?? '';
  assert.match(description, /Tool groups \(\d+ tools; searching a group's name lists its tools\):/);
  for (const group of GROUPS) assert.match(description, group);
  assert.doesNotMatch(description, /The price of a fruit, in euros\./, 'with discovery on, the stubs are left out');
  const answer = await executeCode(client, CODE(notesFile));
  assert.equal(answer.isError, false, textOf(answer));
  const result = answer.structuredContent?.result as Record<string, unknown>;
  assert.equal((result.found as string[])[0], 'prices.lookup_price');
  assert.match(result.stub as string, /def prices__lookup_price\(fruit: str\)[\s\S]*The price of a fruit, in euros\./);
  assert.equal(result.price, 2.5);
  assert.match(result.missing as string, /no price for kiwi/);
  assert.equal(result.echoed, 'Echo: hi'); // the real reference server, over stdio
  assert.equal(result.over_http, 'The sum of 2 and 3 is 5.'); // and over Streamable HTTP
  assert.equal(result.notes, 'only the filesystem server reads this\n');
  return result.upstream_pid as number;
}

// The faulty server's second call crashes it: a tool error in the code naming it; the next execute_code still runs.
async function checkCrashingServer(client: Client): Promise<void> {
  const crashed = await executeCode(client, [
    'out = [await faulty__ping()]',
    'for _ in range(2):',
    '    try:',
    '        out.append(await faulty__ping())',
    '    except ToolError as error:',
    '        out.append(str(error))',
    'out',
  ].join('\n'));
  assert.equal(crashed.isError, false, textOf(crashed));
  const [first, second, third] = crashed.structuredContent?.result as string[];
  assert.equal(first, 'pong 1');
  assert.equal(second, 'MCP server "faulty" closed the connection during faulty.ping; its stderr ends: faulty: crashing on purpose at call 2');
  assert.match(third, /^MCP server "faulty" is not connected \(.*\): faulty\.ping was not called$/);
  const after = await executeCode(client, 'return [await everything__echo("still here"), 6 * 7]');
  assert.equal(after.isError, false, textOf(after));
  assert.deepEqual(after.structuredContent?.result, ['Echo: still here', 42]);
}

describe('upstream MCP servers', () => {
  it('runbox mcp --mcp-config: the code finds and calls the servers\' tools, a crashing one is a tool error, and the servers stop with it', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--url', daemon.url, '--mcp-config', configFile], stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const client = new Client({ name: 'runbox-test', version: '1.0.0' });
    await client.connect(transport);
    let upstreamPid: number;
    try {
      upstreamPid = await checkUpstream(client);
      assert.match(stderr, /the code may call the tools of prices \(1 tool\), everything \(\d+ tools\), files \(\d+ tools\), web \(\d+ tools\), faulty \(1 tool\)/);
      await checkCrashingServer(client);
    } finally {
      await client.close();
    }
    await waitForExit(upstreamPid);
  });

  it('the daemon\'s mcpConfig: /mcp\'s code calls the same servers; a crashing one leaves /mcp and plain executions serving', async () => {
    const client = new Client({ name: 'runbox-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', daemon.url)));
    try {
      await checkUpstream(client);
      await checkCrashingServer(client);
    } finally {
      await client.close();
    }
    const again = new Client({ name: 'runbox-test', version: '1.0.0' });
    await again.connect(new StreamableHTTPClientTransport(new URL('/mcp', daemon.url)));
    try {
      const answer = await executeCode(again, 'return await prices__lookup_price("apple")');
      assert.equal(answer.isError, false, textOf(answer));
      assert.match(String(answer.structuredContent?.result), /"price":1\.25/);
    } finally {
      await again.close();
    }
    const { body } = await postExecution(daemon.url, { runtime: 'python', code: '6 * 7' });
    assert.equal(body.result, 42);
  });

  it('a configuration that cannot be read stops runbox mcp with its name', () => {
    const missing = path.join(configDir, 'nope.json');
    const run = runMcp(missing);
    assert.equal(run.status, 2);
    assert.match(run.stderr, new RegExp(`cannot read the MCP configuration ${escapeRegExp(missing)}`));
    assert.equal(run.stdout, '');
  });

  it('a server that does not list its tools stops runbox mcp (exit 2) and the daemon\'s start, naming the file and the server', async () => {
    const marker = path.join(configDir, 'bad-list');
    const file = writeConfig('bad-list.json', { prices: { command: process.execPath, args: [FIXTURE, marker] }, faulty: { command: process.execPath, args: [FAULTY, 'bad-list', marker] } });
    await assertRefused(file, marker, `MCP server "faulty" did not list its tools`);
  });

  it('servers offering more tools than an execution may declare stop runbox mcp (exit 2) and the daemon\'s start, naming the count and the limit', async () => {
    const marker = path.join(configDir, 'many-tools');
    const file = writeConfig('many.json', {
      many: { command: process.execPath, args: [FAULTY, 'many-tools', '200', marker] },
      more: { command: process.execPath, args: [FAULTY, 'many-tools', '57', marker] },
    });
    await assertRefused(file, marker, 'its servers offer 257 tools (many (200 tools), more (57 tools)), more than the 256 one execution may declare (maxTools)');
  });
});

// A configuration runbox mcp refuses (exit 2, the message on stderr, nothing on stdout) and a daemon refuses to
// start with (a StartupError), saying `problem` after the file's name; neither leaves a server of it (found by the
// marker in their arguments) running, and the failed daemon start leaves no fork server and no bind mount behind.
async function assertRefused(file: string, marker: string, problem: string): Promise<void> {
  const expected = new RegExp(`^MCP configuration ${escapeRegExp(file)}: ${escapeRegExp(problem)}`);
  const run = runMcp(file);
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr.replace(/^runbox: /, ''), expected);
  assert.equal(run.stdout, '');
  await waitForNoProcesses(marker);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runbox-refused-'));
  try {
    await assert.rejects(startDaemon({ mcpConfig: file, workDir }), (error: Error) => error.name === 'StartupError' && expected.test(error.message));
    await waitForNoProcesses(marker);
    assert.deepEqual(forkServersOfThisProcess(), [], 'the fork server of the failed start is stopped');
    assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${workDir} `), 'its bind of the work directory is undone');
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

// The Python fork servers (zygotes) that daemons of this test process started, by pid.
function forkServersOfThisProcess(): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('zygote.py')) pids.push(Number(entry));
    } catch {
      // The process ended while being read.
    }
  }
  return pids.sort();
}

// Runs `runbox mcp --mcp-config <file>` with stdin closed, as a client that gave up would.
function runMcp(file: string) {
  return spawnSync(process.execPath, [BIN, 'mcp', '--url', daemon.url, '--mcp-config', file], { encoding: 'utf8', input: '', timeout: 60_000 });
}

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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
