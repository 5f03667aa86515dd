// Runbox as an MCP server, driven by the official MCP SDK's own Client against a real daemon: `runbox mcp` over stdio
// (the bin, as an MCP client starts it), the daemon's /mcp over Streamable HTTP (token required), and the README's
// client configuration run as written, from another directory, through setup's global link into a temporary prefix. Tools listed with their schemas, a matplotlib chart arriving as image
// content, structured content matching the declared output schema, a session's files, failing code as a tool
// error with its traceback, and no daemon as a tool error saying so.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { RunboxClient } from 'runbox/sdk';
import { createRunboxMcpServer } from 'runbox/sdk/mcp-server';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const BIN = path.join(root, 'bin/runbox.js');
const LINK_STEP = path.join(root, 'scripts/link-global.sh');
const TOKEN = 'mcp-test-token-0123456789';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHART_CODE = [
  'import matplotlib',
  'matplotlib.use("Agg")',
  'import matplotlib.pyplot as plt',
  'plt.bar(["a", "b", "c"], [3, 1, 2])',
  'plt.savefig("chart.png")',
  'set_result({"bars": 3}, files=["chart.png"])',
].join('\n');
const TOOL_NAMES = ['close_session', 'create_session', 'execute_code', 'list_files', 'read_file', 'write_file'];

type Content = { type: string; text?: string; data?: string; mimeType?: string; resource?: Record<string, unknown> };
type Answer = { content: Content[]; structuredContent?: Record<string, unknown>; isError?: boolean };

let daemon: TestDaemon;
before(async () => {
  daemon = await startDaemon({ token: TOKEN });
});
after(async () => {
  await daemon?.close();
});

// Calls a tool and returns its answer in the shape this test reads.
async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Answer> {
  return (await client.callTool({ name, arguments: args })) as Answer;
}

function textOf(answer: Answer): string {
  return answer.content.filter((block) => block.type === 'text').map((block) => block.text).join('\n');
}

// A stdio client of `runbox mcp` (the bin, as an MCP client would start it), with its stderr kept.
async function stdioClient(args: string[], env: Record<string, string>): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', ...args], env, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'runbox-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

async function httpClient(token: string | undefined): Promise<Client> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', daemon.url), { requestInit: { headers } });
  const client = new Client({ name: 'runbox-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

// The checks both transports must pass: the tools and their schemas, a chart, a CSV, structured content, failing code.
async function checkEssentials(client: Client): Promise<void> {
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((tool) => tool.name).sort(), TOOL_NAMES);
  const executeCode = tools.find((tool) => tool.name === 'execute_code')!;
  assert.match(executeCode.description ?? '', /Rules:/);
  assert.deepEqual(Object.keys(executeCode.inputSchema.properties ?? {}), ['code', 'runtime', 'sessionId', 'files']);
  assert.deepEqual((executeCode.inputSchema.properties as Record<string, { enum?: string[] }>).runtime.enum, ['python', 'node']);
  assert.ok(executeCode.outputSchema, 'execute_code declares an output schema');
  for (const tool of tools) assert.ok(tool.outputSchema, `${tool.name} declares an output schema`);

  // The chart arrives as image content, and the structured content matches the declared schema (the Client checks
  // it itself since listTools gave it the schema; checked here again so the test does not rest on that alone).
  const chart = await call(client, 'execute_code', { code: CHART_CODE });
  assert.equal(chart.isError, false, textOf(chart));
  const image = chart.content.find((block) => block.type === 'image');
  assert.ok(image, `an image block in ${JSON.stringify(chart.content.map((block) => block.type))}`);
  assert.equal(image.mimeType, 'image/png');
  assert.deepEqual(Buffer.from(image.data!, 'base64').subarray(0, 8), PNG_SIGNATURE);
  const validate = new Ajv({ strict: false }).compile(executeCode.outputSchema);
  assert.ok(validate(chart.structuredContent), JSON.stringify(validate.errors));
  assert.equal(chart.structuredContent?.status, 'ok');
  assert.deepEqual(chart.structuredContent?.result, { bars: 3 });
  assert.deepEqual((chart.structuredContent?.files as { path: string }[]).map((file) => file.path), ['chart.png']);
  assert.match(textOf(chart), /status: ok/);

  // A CSV file: an embedded text resource (text, not base64), under the outputs URI of a sessionless execution.
  const csv = await call(client, 'execute_code', { code: 'import pandas as pd\npd.DataFrame({"region": ["north", "south"], "total": [3, 4]}).to_csv("totals.csv", index=False)\nset_result(2, files=["totals.csv"])' });
  assert.equal(csv.isError, false, textOf(csv));
  assert.deepEqual(csv.content.filter((block) => block.type !== 'text'), [
    { type: 'resource', resource: { uri: 'runbox://outputs/totals.csv', mimeType: 'text/csv', text: 'region,total\nnorth,3\nsouth,4\n' } },
  ]);
  assert.deepEqual(csv.structuredContent?.files, [{ path: 'totals.csv', mimeType: 'text/csv', size: 29 }]);

  // Failing code: a tool error (not a protocol error) with the message and the traceback.
  const failing = await call(client, 'execute_code', { code: 'def f():\n    return 1 / 0\nf()' });
  assert.equal(failing.isError, true);
  assert.match(textOf(failing), /ZeroDivisionError/);
  assert.match(textOf(failing), /traceback:[\s\S]*line 2/);
  assert.ok(validate(failing.structuredContent), JSON.stringify(validate.errors));
  assert.equal((failing.structuredContent?.error as { type: string }).type, 'ZeroDivisionError');

  // Arguments that break the input schema are a tool error naming the field.
  const bad = await call(client, 'execute_code', { code: 'print(1)', runtime: 'ruby' });
  assert.equal(bad.isError, true);
  assert.match(textOf(bad), /invalid_arguments: arguments\.runtime must be equal to one of the allowed values/);
}

// A session through the session tools and execute_code.
async function checkSession(client: Client): Promise<void> {
  const created = await call(client, 'create_session', {});
  assert.equal(created.isError, undefined, textOf(created));
  const sessionId = created.structuredContent?.sessionId as string;
  assert.match(sessionId, /^ses_/);
  assert.ok(!Number.isNaN(Date.parse(created.structuredContent?.expiresAt as string)));

  const written = await call(client, 'write_file', { sessionId, path: 'data/numbers.txt', content: '3\n4\n5\n' });
  assert.deepEqual(written.structuredContent, { path: 'data/numbers.txt', size: 6 });
  const png = await call(client, 'write_file', { sessionId, path: 'dot.png', content: PNG_SIGNATURE.toString('base64'), encoding: 'base64' });
  assert.deepEqual(png.structuredContent, { path: 'dot.png', size: 8 });

  const summed = await call(client, 'execute_code', {
    sessionId,
    code: 'total = sum(int(line) for line in open("data/numbers.txt"))\nopen("total.txt", "w").write(str(total))\ntotal',
    files: [{ path: 'extra.bin', content: Buffer.from([0, 1, 2]).toString('base64'), encoding: 'base64' }],
  });
  assert.equal(summed.isError, false, textOf(summed));
  assert.equal(summed.structuredContent?.result, 12);

  const listed = await call(client, 'list_files', { sessionId });
  assert.deepEqual((listed.structuredContent?.files as { path: string }[]).map((file) => file.path), ['data/numbers.txt', 'dot.png', 'extra.bin', 'total.txt']);

  const text = await call(client, 'read_file', { sessionId, path: 'total.txt' });
  assert.deepEqual(text.content, [{ type: 'text', text: '12' }]);
  const image = await call(client, 'read_file', { sessionId, path: 'dot.png' });
  assert.equal(image.content[0].type, 'image');
  assert.deepEqual(Buffer.from(image.content[0].data!, 'base64'), PNG_SIGNATURE);
  const bytes = await call(client, 'read_file', { sessionId, path: 'extra.bin' });
  assert.equal(bytes.content[0].type, 'resource');
  assert.equal(bytes.content[0].resource?.uri, `runbox://sessions/${sessionId}/files/extra.bin`);
  assert.deepEqual(Buffer.from(bytes.content[0].resource?.blob as string, 'base64'), Buffer.from([0, 1, 2]));

  const missing = await call(client, 'read_file', { sessionId, path: 'nope.txt' });
  assert.equal(missing.isError, true);
  assert.match(textOf(missing), /file_not_found/);

  const closed = await call(client, 'close_session', { sessionId });
  assert.deepEqual(closed.structuredContent, { sessionId, closed: true });
  const gone = await call(client, 'list_files', { sessionId });
  assert.equal(gone.isError, true);
  assert.match(textOf(gone), /session_not_found/);
}

describe('runbox mcp over stdio', () => {
  let client: Client;
  before(async () => {
    ({ client } = await stdioClient(['--url', daemon.url], { RUNBOX_TOKEN: TOKEN }));
  });
  after(async () => {
    await client?.close();
  });

  it('lists the tools, returns a chart as image content, and answers failing code with a tool error', () => checkEssentials(client));
  it('runs Node code when asked for runtime node', async () => {
    const answer = await call(client, 'execute_code', { runtime: 'node', code: 'return [1, 2, 3].map((n) => n * 2)' });
    assert.equal(answer.isError, false, textOf(answer));
    assert.deepEqual(answer.structuredContent?.result, [2, 4, 6]);
  });

  it('keeps a session: write, execute in it, list, read text and image, close', () => checkSession(client));

  it('answers a tool error saying no daemon answers, and says so on stderr at start', async () => {
    const port = await closedPort();
    const { client: lonely, stderr } = await stdioClient(['--url', `http://127.0.0.1:${port}`], {});
    try {
      const answer = await call(lonely, 'execute_code', { code: 'print(1)' });
      assert.equal(answer.isError, true);
      assert.match(textOf(answer), new RegExp(`daemon_unreachable: no Runbox daemon answers at http://127.0.0.1:${port}/`));
      assert.match(textOf(answer), /runbox serve/);
      const session = await call(lonely, 'create_session', {});
      assert.equal(session.isError, true);
      assert.match(textOf(session), /daemon_unreachable/);
      await waitFor(() => stderr().includes('no Runbox daemon answers'));
      assert.equal(stderr().trim().split('\n').length, 1, stderr());
    } finally {
      await lonely.close();
    }
  });

  it('says on stderr and in tool errors when the token is wrong', async () => {
    const { client: refused, stderr } = await stdioClient(['--url', daemon.url], { RUNBOX_TOKEN: 'not-the-token' });
    try {
      const answer = await call(refused, 'execute_code', { code: 'print(1)' });
      assert.equal(answer.isError, true);
      assert.match(textOf(answer), /unauthorized/);
      await waitFor(() => stderr().includes('refused'));
      assert.match(stderr(), /the daemon at .* refused: 401 unauthorized: .*\(set RUNBOX_TOKEN to its token\)/);
    } finally {
      await refused.close();
    }
  });

  it('refuses a token on the command line and a runtime it does not know', async () => {
    const run = spawnSync(process.execPath, [BIN, 'mcp', '--token', 'x', '--runtimes', 'ruby'], { encoding: 'utf8' });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--token: not a flag .*RUNBOX_TOKEN/);
    assert.match(run.stderr, /--runtimes: expected a comma-separated list of python and\/or node, received "ruby"/);
  });
});

describe('the daemon\'s /mcp over Streamable HTTP', () => {
  it('refuses a request without the token (401)', async () => {
    const response = await fetch(new URL('/mcp', daemon.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(response.status, 401);
    assert.equal((await response.json() as { error: { code: string } }).error.code, 'unauthorized');
    await assert.rejects(httpClient(undefined));
  });

  it('takes only application/json bodies (a browser cannot post one without a preflight)', async () => {
    const response = await fetch(new URL('/mcp', daemon.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(response.status, 415);
    const preflight = await fetch(new URL('/mcp', daemon.url), { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    assert.notEqual(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  });

  it('answers GET with 405 (stateless: no server-sent stream to open)', async () => {
    const response = await fetch(new URL('/mcp', daemon.url), { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'POST');
  });

  it('serves the same tools with the token: chart, structured content, failing code, a session', async () => {
    const client = await httpClient(TOKEN);
    try {
      await checkEssentials(client);
      await checkSession(client);
    } finally {
      await client.close();
    }
  });
});

describe('createRunboxMcpServer, imported as docs/mcp.md does', () => {
  it('resolves every import of the doc\'s example by package name, and serves a tool the code calls', async () => {
    const doc = fs.readFileSync(path.join(root, 'docs/mcp.md'), 'utf8');
    const example = /### From code: `createRunboxMcpServer`\s*```ts\n([\s\S]*?)```/.exec(doc);
    assert.ok(example, 'docs/mcp.md has the createRunboxMcpServer example');
    const imports = [...example[1].matchAll(/^import \{ ([^}]+) \} from '([^']+)';$/gm)].map(([, names, specifier]) => ({ names: names.split(',').map((name) => name.trim()), specifier }));
    assert.deepEqual(imports.map((entry) => entry.specifier), ['runbox/sdk', 'runbox/sdk/mcp-server', '@modelcontextprotocol/sdk/server/stdio.js']);
    for (const { names, specifier } of imports) {
      const module = (await import(specifier)) as Record<string, unknown>;
      for (const name of names) assert.equal(typeof module[name], 'function', `${specifier} exports ${name}`);
    }
    // The package-name import (this file's own, at the top) serves, over an in-memory transport, a tool the code calls.
    const runbox = new RunboxClient({ url: daemon.url, token: TOKEN });
    const tools = { add: { description: 'Adds two numbers.', parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] }, handler: ({ a, b }: { a: number; b: number }) => a + b } };
    const server = createRunboxMcpServer(runbox, { tools, runtimes: ['python'] });
    const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 'runbox-doc', version: '1.0.0' });
    await client.connect(clientSide);
    try {
      const { tools: listed } = await client.listTools();
      assert.match(listed.find((tool) => tool.name === 'execute_code')?.description ?? '', /def add\(a: float, b: float\)/);
      const answer = await call(client, 'execute_code', { code: 'return await add(2, 3)' });
      assert.equal(answer.isError, false, textOf(answer));
      assert.equal(answer.structuredContent?.result, 5);
    } finally {
      await client.close();
      await server.close();
      await runbox.close();
    }
  });
});

describe('the README\'s MCP client configuration', () => {
  // A temporary npm global prefix, and a directory outside any package for the client to start npx in: npx can then
  // find runbox only where setup's link step put it, never in another checkout or on the registry.
  let prefix: string;
  let clientDir: string;
  before(() => {
    prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'runbox-npm-prefix-'));
    clientDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runbox-mcp-client-'));
  });
  after(() => {
    for (const dir of [prefix, clientDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // Runs setup's link step (scripts/link-global.sh) with the temporary prefix as npm's global one.
  const linkStep = () => {
    const run = spawnSync('bash', [LINK_STEP], { encoding: 'utf8', env: { ...process.env, npm_config_prefix: prefix, npm_config_global_prefix: prefix, RUNBOX_NO_GLOBAL_LINK: '' } });
    assert.equal(run.status, 0, run.stderr);
    return run.stderr;
  };
  const linked = () => fs.realpathSync(path.join(prefix, 'lib/node_modules/runbox'));

  it('setup\'s link step links this checkout into npm\'s global prefix, says nothing once done, and relinks from another checkout', () => {
    assert.match(linkStep(), /linking the runbox command into .*runbox-npm-prefix-.*, so that npx runbox mcp runs this checkout from any directory/);
    assert.equal(linked(), fs.realpathSync(root));
    assert.equal(fs.realpathSync(path.join(prefix, 'bin/runbox')), fs.realpathSync(BIN));
    assert.equal(linkStep(), '', 'nothing to do the second time');
    const other = path.join(clientDir, 'other-checkout');
    fs.mkdirSync(other);
    fs.rmSync(path.join(prefix, 'lib/node_modules/runbox'));
    fs.symlinkSync(other, path.join(prefix, 'lib/node_modules/runbox'));
    assert.match(linkStep(), new RegExp(`relinking the global runbox command from ${escapeRegExp(fs.realpathSync(other))} to this checkout`));
    assert.equal(linked(), fs.realpathSync(root));
  });

  it('starts runbox mcp as written, from another directory, through the global link, and runs code', async () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const block = /<!-- mcp-client-config -->\s*```json\n([\s\S]*?)```\s*<!-- \/mcp-client-config -->/.exec(readme);
    assert.ok(block, 'README.md has the snippet between <!-- mcp-client-config --> markers');
    const entry = (JSON.parse(block[1]) as { mcpServers: Record<string, { command: string; args: string[]; env?: Record<string, string> }> }).mcpServers.runbox;
    assert.deepEqual({ command: entry.command, args: entry.args }, { command: 'npx', args: ['runbox', 'mcp'] });
    assert.deepEqual(Object.keys(entry.env ?? {}).sort(), ['RUNBOX_TOKEN', 'RUNBOX_URL']);
    linkStep();
    // The command and args as written, started as an MCP client starts them: in a directory of its own, with npm's
    // global prefix (and its bin first on PATH) the temporary one, offline (the test never reaches the registry).
    const transport = new StdioClientTransport({
      command: entry.command, args: entry.args, cwd: clientDir, stderr: 'pipe',
      env: {
        PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`, npm_config_prefix: prefix,
        npm_config_offline: 'true', npm_config_update_notifier: 'false', RUNBOX_URL: daemon.url, RUNBOX_TOKEN: TOKEN,
      },
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const client = new Client({ name: 'runbox-readme', version: '1.0.0' });
    await client.connect(transport).catch((error: unknown) => {
      throw new Error(`${entry.command} ${entry.args.join(' ')} did not start runbox mcp: ${(error as Error).message}\n${stderr}`);
    });
    try {
      const answer = await call(client, 'execute_code', { code: 'print(6 * 7)' });
      assert.equal(answer.isError, false, textOf(answer));
      assert.equal(answer.structuredContent?.stdout, '42\n');
    } finally {
      await client.close();
    }
  });
});

// A loopback port nobody listens on (bound, then released).
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
