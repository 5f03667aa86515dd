// MCP servers' tools inside the code, against a real daemon with real sandboxes and real MCP servers from the npm
// registry (the reference servers `everything` and `filesystem`, spawned over stdio by connectMcpServers in this
// process), plus test/fixtures/mcp-faulty-server.mjs for servers that crash, write garbage or list nonsense.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  connectMcpServers,
  createCodeTool,
  pythonStubs,
  RunboxClient,
  RunboxMcpError,
  typescriptStubs,
  type McpToolSources,
  type Runtime,
  type ToolCallRecord,
} from 'runbox/sdk';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { referenceServers, startEverythingHttp, type HttpMcpServer } from '../helpers/mcp-servers.js';

// Resolved before any test, so that servers missing from node_modules fail every test saying to run `npm ci`.
let EVERYTHING: string;
let FILESYSTEM: string;
before(() => {
  ({ everything: EVERYTHING, filesystem: FILESYSTEM } = referenceServers());
});
const FAULTY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/mcp-faulty-server.mjs');

// The processes of this test process running a script (the stdio servers it started), by pid.
function childrenRunning(script: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(script)) pids.push(Number(entry));
    } catch {
      // The process ended while being read.
    }
  }
  return pids;
}

// Waits until no child runs the script (a closed stdio server may take a moment to exit).
async function assertGone(script: string): Promise<void> {
  for (let i = 0; i < 50 && childrenRunning(script).length > 0; i++) await sleep(100);
  assert.deepEqual(childrenRunning(script), [], `${path.basename(script)} still runs`);
}

describe('MCP tools inside the code', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;
  let mcp: McpToolSources;
  let shared: string;

  before(async () => {
    daemon = await startDaemon();
    client = new RunboxClient({ url: daemon.url });
    shared = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-mcp-fs-'));
    await fs.writeFile(path.join(shared, 'notes.txt'), 'written by the test\nsecond line\n');
    mcp = await connectMcpServers({
      everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] },
      files: { command: process.execPath, args: [FILESYSTEM, shared] },
    });
  });
  after(async () => {
    await mcp?.close();
    await client?.close();
    await daemon?.close();
    if (shared) await fs.rm(shared, { recursive: true, force: true });
    await assertGone(EVERYTHING);
    await assertGone(FILESYSTEM);
  });

  it('lists every server\'s tools as <server>.<tool>, with their schemas', () => {
    const everything = mcp.servers.find((server) => server.name === 'everything');
    assert.ok(everything && everything.toolCount >= 10, JSON.stringify(mcp.servers));
    assert.deepEqual(everything.skipped, []);
    for (const name of ['everything.echo', 'everything.get-sum', 'everything.get-tiny-image', 'files.read_text_file', 'files.list_directory']) assert.ok(name in mcp.tools, name);
    assert.deepEqual(mcp.tools['everything.get-sum'].parameters?.required, ['a', 'b']);
    assert.ok(mcp.tools['everything.get-structured-content'].outputSchema, 'get-structured-content declares an outputSchema');
  });

  it('stubs show them as server__tool functions', () => {
    const python = pythonStubs(mcp.tools, { prelude: false });
    assert.match(python, /^async def everything__echo\(message: str\) -> Any:/m);
    assert.match(python, /^async def everything__get_sum\(a: float, b: float\) -> Any:/m);
    assert.match(python, /^async def everything__get_structured_content\(location: Literal\["New York", "Chicago", "Los Angeles"\]\) -> EverythingGetStructuredContentOutput:/m);
    assert.match(python, /^async def files__read_text_file\(path: str/m);
    const typescript = typescriptStubs(mcp.tools, { prelude: false });
    assert.match(typescript, /^declare function everything__echo\(args: \{\n {2}\/\*\* Message to echo \*\/\n {2}message: string;/m);
    assert.match(typescript, /^declare function everything__get_sum\(args: \{/m);
    assert.doesNotMatch(typescript, /callTool\(name: "everything\./);
  });

  const CALLS: Record<Runtime, string> = {
    python: [
      'import base64',
      'by_name = await call_tool("everything.echo", {"message": "by name"})',
      'by_function = await everything__echo("by function")',
      'total = await everything__get_sum(2, 3.5)',
      'blocks = await everything__get_tiny_image()',
      'image = next(block for block in blocks if isinstance(block, dict) and block.get("type") == "image")',
      'weather = await everything__get_structured_content(location="Chicago")',
      'set_result({"by_name": by_name, "by_function": by_function, "total": total, "mime": image.mimeType,',
      '            "png": base64.b64decode(image.data)[:4] == b"\\x89PNG", "weather": sorted(weather.to_dict())})',
    ].join('\n'),
    node: [
      'const by_name = await callTool("everything.echo", { message: "by name" });',
      'const by_function = await everything__echo("by function");',
      'const total = await everything__get_sum(2, 3.5);',
      'const blocks = await everything__get_tiny_image();',
      'const image = blocks.find((block) => block?.type === "image");',
      'const weather = await everything__get_structured_content({ location: "Chicago" });',
      'return { by_name, by_function, total, mime: image.mimeType, png: Buffer.from(image.data, "base64").subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47])), weather: Object.keys(weather).sort() };',
    ].join('\n'),
  };

  for (const runtime of ['python', 'node'] as const) {
    it(`${runtime}: calls server-everything's tools by call_tool name and as functions; an image block arrives as an object`, async () => {
      const out = await client.execute({ runtime, code: CALLS[runtime], tools: mcp.tools });
      assert.equal(out.status, 'ok', JSON.stringify(out.error));
      assert.deepEqual(out.result, {
        by_name: 'Echo: by name',
        by_function: 'Echo: by function',
        total: 'The sum of 2 and 3.5 is 5.5.',
        mime: 'image/png',
        png: true,
        weather: ['conditions', 'humidity', 'temperature'],
      });
      assert.deepEqual(out.toolCallLog.map((entry) => [entry.tool, entry.outcome]), [
        ['everything.echo', 'ok'], ['everything.echo', 'ok'], ['everything.get-sum', 'ok'], ['everything.get-tiny-image', 'ok'], ['everything.get-structured-content', 'ok'],
      ]);
    });
  }

  it('budgets apply to MCP tools: a call past maxCallsPerTool raises naming the budget, and the result records it', async () => {
    const code = [
      'first = await everything__echo("once")',
      'try:',
      '    await everything__echo("twice")',
      '    second = "no error"',
      'except ToolError as error:',
      '    second = [error.code, str(error)]',
      'set_result([first, second, await everything__get_sum(1, 2)])',
    ].join('\n');
    const answered: string[] = [];
    const out = await client.execute({
      runtime: 'python', code, tools: mcp.tools, budgets: { maxCallsPerTool: { 'everything.echo': 1 } }, onToolCallFinish: (record) => answered.push(record.tool),
    });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    assert.deepEqual(out.result, ['Echo: once', ['budget_exceeded', 'budget maxCallsPerTool for everything.echo (1 call) is spent'], 'The sum of 1 and 2 is 3.']);
    assert.deepEqual(out.budgetsExceeded, [{ budget: 'maxCallsPerTool', tool: 'everything.echo', limit: 1 }]);
    assert.deepEqual(answered, ['everything.echo', 'everything.get-sum'], 'the refused call never reached the server');
  });

  // The code tool with discovery on: groups in the description, and the code finds the tools it then calls.
  const DISCOVERY: Record<Runtime, string> = {
    python: [
      'found = [(match.name, match.function) for match in search_tools("echo message", limit=2)]',
      'stub = describe_tool("everything.get-sum")',
      'set_result({"found": found, "stub": stub, "sum": await call_tool("everything.get-sum", {"a": 1, "b": 1})})',
    ].join('\n'),
    node: [
      'const found = searchTools("echo message", { limit: 2 }).map((match) => [match.name, match.function]);',
      'const stub = describeTool("everything.get-sum");',
      'return { found, stub, sum: await callTool("everything.get-sum", { a: 1, b: 1 }) };',
    ].join('\n'),
  };

  it('discovery over server-everything\'s tools: the description lists the server groups; search_tools/describe_tool and searchTools/describeTool find them', async () => {
    const codeTool = createCodeTool(client, { tools: mcp.tools, runtimes: ['python', 'node'], discovery: true });
    assert.match(codeTool.description, /^- everything \(\d+ tools\): echo, get-annotated-message, /m);
    assert.match(codeTool.description, /^- files \(\d+ tools\): read_file, read_text_file, /m);
    assert.doesNotMatch(codeTool.description, /everything__get_sum\(/, 'no stub in the description');
    for (const runtime of ['python', 'node'] as const) {
      const output = await codeTool.run({ code: DISCOVERY[runtime], runtime });
      assert.equal(output.isError, false, output.text);
      const result = output.result?.result as { found: [string, string][]; stub: string; sum: string };
      assert.deepEqual(result.found[0], ['everything.echo', 'everything__echo'], `${runtime}: ${JSON.stringify(result.found)}`);
      // The stub describe_tool returns is the one the full description would show.
      const expected = runtime === 'python' ? /^async def everything__get_sum\(a: float, b: float\) -> Any:/m : /^declare function everything__get_sum\(args: \{/m;
      assert.match(result.stub, expected, runtime);
      assert.equal(result.sum, 'The sum of 1 and 1 is 2.');
    }
  });

  it('refuses invalid arguments in the daemon, before they reach the server', async () => {
    const answered: ToolCallRecord[] = [];
    const code = [
      'try:',
      '    await everything__get_sum("two", 3)',
      'except ToolError as error:',
      '    set_result([error.code, str(error)])',
    ].join('\n');
    const out = await client.execute({ runtime: 'python', code, tools: mcp.tools, onToolCallFinish: (record) => answered.push(record) });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    const [code_, message] = out.result as [string, string];
    assert.equal(code_, 'invalid_arguments');
    assert.match(message, /everything\.get-sum: arguments\.a must be number/);
    assert.deepEqual(answered, [], 'the call never reached the client, so never the server');
    assert.deepEqual(out.toolCallLog.map((entry) => entry.outcome), ['invalid_arguments']);
  });

  it('lists and reads files of a directory only the filesystem server sees', async () => {
    const notes = path.join(shared, 'notes.txt');
    const code = [
      'import os',
      `listing = await files__list_directory(${JSON.stringify(shared)})`,
      `text = await files__read_text_file(path=${JSON.stringify(notes)})`,
      `set_result({"listing": listing.content, "text": text.content, "sandbox_sees_it": os.path.exists(${JSON.stringify(notes)})})`,
    ].join('\n');
    const out = await client.execute({ runtime: 'python', code, tools: mcp.tools });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    assert.deepEqual(out.result, { listing: '[FILE] notes.txt', text: 'written by the test\nsecond line\n', sandbox_sees_it: false });
    const node = await client.execute({
      runtime: 'node',
      code: `const { content } = await callTool("files.read_text_file", { path: ${JSON.stringify(notes)}, head: 1 });\nreturn content;`,
      tools: mcp.tools,
    });
    assert.equal(node.status, 'ok', JSON.stringify(node.error));
    assert.equal(node.result, 'written by the test');
  });

  it('turns an isError answer into a ToolError with the server\'s text', async () => {
    const code = [
      'try:',
      `    await files__read_text_file(path="/etc/passwd")`,
      'except ToolError as error:',
      '    set_result([error.code, str(error)])',
    ].join('\n');
    const out = await client.execute({ runtime: 'python', code, tools: mcp.tools });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    const [errorCode, message] = out.result as [string, string];
    assert.equal(errorCode, 'tool_error');
    assert.match(message, /Access denied|outside allowed/i);
  });
});

describe('MCP tools: a server reached over Streamable HTTP', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;
  let web: HttpMcpServer;

  before(async () => {
    daemon = await startDaemon();
    client = new RunboxClient({ url: daemon.url });
    web = await startEverythingHttp(EVERYTHING); // the operator's server, started by the test
  });
  after(async () => {
    await web?.stop();
    await client?.close();
    await daemon?.close();
    await assertGone(EVERYTHING);
  });

  it('calls its tools from the code, and a call after the server stopped fails with a message naming it', async () => {
    const mcp = await connectMcpServers({ web: { url: web.url } }, { callTimeoutMs: 5000 });
    try {
      const out = await client.execute({ runtime: 'python', code: 'return [await web__echo("over http"), await call_tool("web.get-sum", {"a": 1, "b": 2})]', tools: mcp.tools });
      assert.equal(out.status, 'ok', JSON.stringify(out.error));
      assert.deepEqual(out.result, ['Echo: over http', 'The sum of 1 and 2 is 3.']);
      await web.stop();
      const later = await client.execute({ runtime: 'node', code: 'try { await web__echo("x"); } catch (error) { return [error.name, error.message]; }', tools: mcp.tools });
      assert.equal(later.status, 'ok', JSON.stringify(later.error));
      const [name, message] = later.result as string[];
      assert.equal(name, 'ToolError');
      assert.match(message, /^MCP server "web" could not be reached for web\.echo: /);
    } finally {
      await mcp.close();
    }
  });
});

describe('MCP tools: a client the agent already has, and approvals', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;
  let own: Client;

  before(async () => {
    daemon = await startDaemon();
    client = new RunboxClient({ url: daemon.url });
    own = new Client({ name: 'agent', version: '1.0.0' });
    await own.connect(new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'], stderr: 'ignore' }));
  });
  after(async () => {
    await own?.close();
    await client?.close();
    await daemon?.close();
    await assertGone(EVERYTHING);
  });

  it('uses a connected Client, asks approval where needsApproval says, and leaves the client open on close()', async () => {
    const asked: string[] = [];
    const mcp = await connectMcpServers({ mine: own }, { needsApproval: (tool, args) => tool === 'mine.echo' && (args as { message?: string }).message === 'secret' });
    try {
      const code = [
        'out = [await mine__echo("hello")]',
        'try:',
        '    await mine__echo("secret")',
        'except ToolError as error:',
        '    out.append([error.code, str(error)])',
        'out.append(await mine__get_sum(1, 1))',
        'set_result(out)',
      ].join('\n');
      const out = await client.execute({
        runtime: 'python',
        code,
        tools: mcp.tools,
        onToolCall: ({ tool, args }) => {
          asked.push(`${tool} ${JSON.stringify(args)}`);
          return { decision: 'deny', reason: 'no secrets' };
        },
      });
      assert.equal(out.status, 'ok', JSON.stringify(out.error));
      assert.deepEqual(out.result, ['Echo: hello', ['approval_denied', 'no secrets'], 'The sum of 1 and 1 is 2.']);
      assert.deepEqual(asked, ['mine.echo {"message":"secret"}']);
    } finally {
      await mcp.close();
    }
    const still = await own.listTools();
    assert.ok(still.tools.some((tool) => tool.name === 'echo'), 'the caller\'s client is still open');
  });
});

describe('MCP tools: faulty upstream servers', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;

  before(async () => {
    daemon = await startDaemon();
    client = new RunboxClient({ url: daemon.url });
  });
  after(async () => {
    await client?.close();
    await daemon?.close();
    await assertGone(FAULTY);
  });

  it('a server that crashes mid-execution gives the code a ToolError naming it; later calls fail at once; the daemon serves on', async () => {
    const mcp = await connectMcpServers({ faulty: { command: process.execPath, args: [FAULTY, 'crash-on-second-call'] } });
    try {
      const code = [
        'out = [await faulty__ping()]',
        'for _ in range(2):',
        '    try:',
        '        out.append(await faulty__ping())',
        '    except ToolError as error:',
        '        out.append([error.code, str(error)])',
        'set_result(out)',
      ].join('\n');
      const out = await client.execute({ runtime: 'python', code, tools: mcp.tools });
      assert.equal(out.status, 'ok', JSON.stringify(out.error));
      const [first, second, third] = out.result as [string, [string, string], [string, string]];
      assert.equal(first, 'pong 1');
      assert.equal(second[0], 'tool_error');
      assert.match(second[1], /^MCP server "faulty" closed the connection during faulty\.ping; its stderr ends: faulty: crashing on purpose at call 2$/);
      assert.equal(third[0], 'tool_error');
      assert.match(third[1], /^MCP server "faulty" is not connected \(.*\): faulty\.ping was not called$/);
      await assertGone(FAULTY);
      // A later execution sees the tool failing, never hanging, and the daemon runs it as any other.
      const later = await client.execute({ runtime: 'node', code: 'try { await faulty__ping(); } catch (error) { return [error.name, error.message]; }', tools: mcp.tools });
      assert.equal(later.status, 'ok', JSON.stringify(later.error));
      assert.match((later.result as string[])[1], /MCP server "faulty" is not connected/);
      const plain = await client.execute({ runtime: 'python', code: 'return 6 * 7' });
      assert.equal(plain.result, 42);
    } finally {
      await mcp.close();
    }
  });

  it('a server that answers with garbage times out the call with a message naming it and what it sent', async () => {
    const mcp = await connectMcpServers({ faulty: { command: process.execPath, args: [FAULTY, 'garbage'] } }, { callTimeoutMs: 1500 });
    try {
      const out = await client.execute({ runtime: 'node', code: 'try { await faulty__ping(); } catch (error) { return [error.name, error.code, error.message]; }', tools: mcp.tools });
      assert.equal(out.status, 'ok', JSON.stringify(out.error));
      const [name, code, message] = out.result as string[];
      assert.deepEqual([name, code], ['ToolError', 'tool_error']);
      assert.match(message, /^MCP server "faulty" did not answer faulty\.ping within 1500 ms \(its last transport error: .+\)$/);
    } finally {
      await mcp.close();
    }
    await assertGone(FAULTY);
  });

  it('a server that cannot be listed or started fails connectMcpServers naming it, and closes the others it opened', async () => {
    await assert.rejects(
      connectMcpServers({
        good: { command: process.execPath, args: [FAULTY, 'crash-on-second-call'] },
        faulty: { command: process.execPath, args: [FAULTY, 'bad-list'] },
      }),
      (error: unknown) => error instanceof RunboxMcpError && error.server === 'faulty' && error.code === 'mcp_error' && /^Runbox: MCP server "faulty" did not list its tools/.test(error.message),
    );
    await assertGone(FAULTY);
    await assert.rejects(
      connectMcpServers({ missing: { command: path.join(os.tmpdir(), 'runbox-no-such-mcp-server') } }),
      (error: unknown) => error instanceof RunboxMcpError && error.server === 'missing' && /could not be started or reached: .*ENOENT/.test(error.message),
    );
  });

  it('refuses bad servers and options at the boundary, naming them', async () => {
    await assert.rejects(connectMcpServers({ 'a.b': { command: 'x' } }), /^TypeError: Runbox: servers\.a\.b: expected a name of 1-64 characters/);
    await assert.rejects(connectMcpServers({ runbox: { command: 'x' } }), /servers\.runbox: expected a name other than "runbox"/);
    await assert.rejects(connectMcpServers({ x: { args: [] } as never }), /servers\.x: expected a connected MCP Client, \{command, args\?, env\?, cwd\?\} or \{url, headers\?\}, received \{"args":\[\]\}/);
    await assert.rejects(connectMcpServers({}, { callTimeoutMs: 0 }), /options\.callTimeoutMs: expected a positive integer of ms, received 0/);
    await assert.rejects(connectMcpServers({}, { needsApproval: 'yes' as never }), /options\.needsApproval: expected a boolean or a function, received "yes"/);
  });
});
