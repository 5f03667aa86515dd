// Progressive discovery in both runtimes, against a real daemon and the real SDK: search_tools / searchTools
// rank and limit, describe_tool / describeTool return the SDK's stub (or, for a raw client that sent none, the
// schemas as text), an unknown name's error lists close names, both names are the prelude's (no input of that
// name; a tool of that name stays reachable through call_tool), and the code tool sends the stubs it renders.
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { createCodeTool, pythonStubs, renderToolStub, RunboxClient, typescriptStubs, type Runtime, type ToolDeclaration, type ToolSet } from 'runbox/sdk';
import { parseExecutionRequest } from '../../daemon/executions/request.js';
import { postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/ws-client.js';
import { manyToolDeclarations, manyTools } from '../sdk/many-tools.js';

const LONG_LINE = `Counts of issues per label${', then per milestone'.repeat(10)}`;
const DECLARATIONS: ToolDeclaration[] = [
  {
    name: 'get_user',
    description: 'Fetch one user by id.',
    parameters: { type: 'object', properties: { user_id: { type: 'string', description: 'Account id' } }, required: ['user_id'] },
    outputSchema: { type: 'object', properties: { name: { type: 'string' }, email: { type: 'string', format: 'email' } }, required: ['name'] },
  },
  { name: 'github.search_issues', description: 'Search issues and pull requests.', parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
  { name: 'github.get_issue', description: 'Fetch one issue.', parameters: { type: 'object', properties: { number: { type: 'integer' } }, required: ['number'] } },
  { name: 'jira.search_issues', description: 'Search Jira issues with JQL.', parameters: { type: 'object', properties: { jql: { type: 'string' } }, required: ['jql'] } },
  { name: 'slack.post_message', description: 'Post a message to a channel; it may link an ISSUE.', parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } },
  { name: 'search_tools', description: "Search the team's own tool catalog.", parameters: { type: 'object', properties: {} } },
  { name: 'issue_stats', description: `${LONG_LINE}\nA second line, never shown in a result.`, parameters: { type: 'object', properties: {} } },
];
const TOOLS: ToolSet = Object.fromEntries(DECLARATIONS.map(({ name, ...rest }) => [name, { ...rest, handler: () => ({ from: name }) }]));

/** What search_tools("search issue") must answer, in order: both words first, then more in the name, then order. */
const SEARCH_ISSUE = ['github.search_issues', 'jira.search_issues', 'github.get_issue', 'search_tools', 'issue_stats', 'slack.post_message'];
/** The function each tool has (Node binds `search_tools`: its prelude's name is `searchTools`). */
/** A dotted name's function is its `server__tool` alias (docs/protocol.md), in both runtimes. */
const DOTTED_FUNCTIONS = {
  'github.search_issues': 'github__search_issues',
  'github.get_issue': 'github__get_issue',
  'jira.search_issues': 'jira__search_issues',
  'slack.post_message': 'slack__post_message',
};
const FUNCTIONS: Record<Runtime, Record<string, string | null>> = {
  python: { get_user: 'get_user', issue_stats: 'issue_stats', ...DOTTED_FUNCTIONS },
  node: { get_user: 'get_user', issue_stats: 'issue_stats', search_tools: 'search_tools', ...DOTTED_FUNCTIONS },
};
/** Tools named like the discovery functions of either runtime, beside the others. */
const SHADOW_TOOLS: ToolSet = {
  ...TOOLS,
  ...Object.fromEntries(['describe_tool', 'searchTools', 'describeTool'].map((name) => [name, { description: 'Another catalog.', parameters: { type: 'object', properties: {} }, handler: () => ({ from: name }) }])),
};
const SHADOWS = ['search_tools', 'describe_tool', 'searchTools', 'describeTool'];

/** The same probes in each language; each program returns one JSON object. */
const PROBES: Record<Runtime, Record<string, string>> = {
  python: {
    search: 'all_ = search_tools("search issue")\nreturn {"all": all_, "three": [r.name for r in await search_tools("Search  ISSUE", limit=3)], "none": search_tools("zebra"), "empty": len(search_tools("", limit=None))}',
    describe: 'return {"by_name": describe_tool("get_user"), "awaited": await describe_tool("github.get_issue")}',
    unknown: 'try:\n    describe_tool("search_issues")\nexcept ValueError as error:\n    return {"type": type(error).__name__, "message": str(error)}',
    shadow: 'return {"called": [call_tool(n, {}) for n in ["search_tools", "describe_tool"]], "prelude": [r.name for r in search_tools("catalog")], "stub": describe_tool("describe_tool")}',
  },
  node: {
    search: 'return { all: searchTools("search issue"), three: (await searchTools("Search  ISSUE", { limit: 3 })).map((r) => r.name), none: searchTools("zebra"), empty: searchTools("", { limit: null }).length };',
    describe: 'return { by_name: describeTool("get_user"), awaited: await describeTool("github.get_issue") };',
    unknown: 'try { describeTool("search_issues"); } catch (error) { return { type: error.constructor.name, message: error.message }; }',
    shadow: 'return { called: [await callTool("searchTools", {}), await callTool("describeTool", {})], prelude: searchTools("catalog").map((r) => r.name), stub: describeTool("describeTool") };',
  },
};

describe('discovery in the sandbox', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;

  before(async () => {
    daemon = await startDaemon();
    client = new RunboxClient({ url: daemon.url });
  });
  after(async () => {
    await client?.close();
    await daemon?.close();
  });

  const run = async (runtime: Runtime, code: string, extra: { toolStubs?: boolean } = { toolStubs: true }, tools = TOOLS) => {
    const out = await client.execute({ runtime, code, tools, ...extra });
    assert.equal(out.status, 'ok', `${out.stderr}\n${JSON.stringify(out.error)}`);
    return out.result as any;
  };

  for (const runtime of ['python', 'node'] as const) {
    it(`${runtime}: search ranks by words matched, then by words in the name, and limits`, async () => {
      const result = await run(runtime, PROBES[runtime].search);
      assert.deepEqual(result.all.map((r: any) => r.name), SEARCH_ISSUE);
      assert.deepEqual(result.three, SEARCH_ISSUE.slice(0, 3));
      assert.deepEqual(result.none, []);
      assert.equal(result.empty, DECLARATIONS.length);
      for (const entry of result.all) assert.equal(entry.function, FUNCTIONS[runtime][entry.name] ?? null, entry.name);
      const stats = result.all.find((r: any) => r.name === 'issue_stats');
      assert.equal(stats.description, `${LONG_LINE.slice(0, 119).trimEnd()}…`);
      assert.equal(result.all[0].description, 'Search issues and pull requests.');
    });

    it(`${runtime}: describe returns the stub the SDK rendered for this runtime`, async () => {
      const result = await run(runtime, PROBES[runtime].describe);
      const render = runtime === 'python' ? pythonStubs : typescriptStubs;
      assert.equal(result.by_name, render([DECLARATIONS[0]], { prelude: false }));
      assert.equal(result.by_name, renderToolStub(DECLARATIONS[0], runtime));
      assert.equal(result.awaited, render([DECLARATIONS[2]], { prelude: false }));
      assert.match(result.by_name, runtime === 'python' ? /async def get_user\(user_id: str\) -> GetUserOutput:/ : /declare function get_user\(args: \{/);
    });

    it(`${runtime}: without stubs sent, describe shows the description and the schemas as JSON`, async () => {
      const result = await run(runtime, PROBES[runtime].describe, {});
      assert.match(result.by_name, /get_user: Fetch one user by id\./);
      assert.ok(result.by_name.includes(JSON.stringify(DECLARATIONS[0].parameters)), result.by_name);
      assert.ok(result.by_name.includes(JSON.stringify(DECLARATIONS[0].outputSchema)), result.by_name);
    });

    it(`${runtime}: an unknown name's error lists the close names`, async () => {
      const result = await run(runtime, PROBES[runtime].unknown);
      assert.equal(result.type, runtime === 'python' ? 'ValueError' : 'Error');
      const tail = result.message.split('close names: ')[1];
      assert.ok(tail !== undefined, result.message);
      assert.deepEqual(tail.split(', '), ['jira.search_issues', 'github.search_issues']); // both contain it; the closer first
      assert.match(result.message, /no tool named "search_issues"/);
    });

    it(`${runtime}: tools named like the discovery functions are reached through call_tool; the prelude's stay`, async () => {
      const result = await run(runtime, PROBES[runtime].shadow, { toolStubs: true }, SHADOW_TOOLS);
      const shadowed = runtime === 'python' ? ['search_tools', 'describe_tool'] : ['searchTools', 'describeTool'];
      assert.deepEqual(result.called, shadowed.map((name) => ({ from: name })));
      assert.deepEqual(result.prelude, SHADOWS);
      assert.match(result.stub, runtime === 'python' ? /call_tool\("describe_tool"/ : /callTool\(name: "describeTool"/);
    });
  }

  it('a raw WebSocket client that sends no stub gets the plain rendering', async () => {
    const raw = await RawClient.connect(daemon.wsUrl);
    try {
      const result = await raw.execute({ id: 'd1', runtime: 'python', code: 'return describe_tool("github.get_issue")', tools: DECLARATIONS });
      assert.equal(result.status, 'ok', JSON.stringify(result.error));
      assert.equal(result.result, [
        '# github.get_issue: Fetch one issue.',
        '# call: await github__get_issue(...) or await call_tool("github.get_issue", {...})',
        `parameters = ${JSON.stringify(DECLARATIONS[2].parameters)}`,
        '',
      ].join('\n'));
    } finally {
      raw.close();
    }
  });

  it('refuses an input named like a discovery function (400)', async () => {
    for (const name of ['search_tools', 'describe_tool', 'searchTools', 'describeTool']) {
      const { status, body } = await postExecution(daemon.url, { runtime: 'python', code: 'pass', inputs: { [name]: 1 } });
      assert.equal(status, 400, name);
      assert.match(body.error.message, /reserved word or a name the prelude binds/);
    }
  });

  it('the code tool sends each tool\'s stub: describe_tool of 120 tools gives what the SDK renders', async () => {
    const codeTool = createCodeTool(client, { tools: manyTools(), runtimes: ['python', 'node'] });
    assert.equal(codeTool.discovery, true);
    const declaration = manyToolDeclarations().find((tool) => tool.name === 'github.search_issues')!;
    const python = await codeTool.run({ code: 'return describe_tool("github.search_issues")' });
    assert.equal(python.result?.result, renderToolStub(declaration, 'python'));
    const node = await codeTool.run({ runtime: 'node', code: 'return [describeTool("github.search_issues"), searchTools("search issues", {limit: 2}).map((r) => r.name)]' });
    assert.deepEqual(node.result?.result, [renderToolStub(declaration, 'node'), ['github.search_issues', 'jira.search_issues']]);
  });
});

test('request: a declaration\'s stub is a string of at most maxToolStubBytes', () => {
  const limits = {
    defaultTimeoutMs: 30000, maxTimeoutMs: 60000, maxCodeBytes: 100, maxFileBytes: 10, maxTotalFileBytes: 15,
    memoryBytes: 64 * 1024 * 1024, maxProcesses: 64, cpuTimeMs: 10000, maxOutputBytes: 1000, maxToolCalls: 5,
  };
  const parse = (stub: unknown) => parseExecutionRequest({ runtime: 'python', code: '', tools: [{ name: 't', stub }] }, limits, { toolsAllowed: true });
  assert.equal(parse('async def t() -> Any: ...').tools[0].stub, 'async def t() -> Any: ...');
  assert.equal('stub' in parse(undefined).tools[0], false);
  assert.equal(parse('é'.repeat(8192)).tools[0].stub?.length, 8192);
  assert.throws(() => parse('é'.repeat(8193)), /tools\[0\]\.stub: 16386 bytes; at most 16384 \(maxToolStubBytes\)/);
  assert.throws(() => parse(42), /tools\[0\]\.stub: expected a string, received number 42/);
});
