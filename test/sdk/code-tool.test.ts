// createCodeTool and its adapters against a real daemon with real tools: answers for good and failing code, a
// matplotlib chart (saved, or only shown and captured) coming back as an image in each provider's format, bad input answered (never thrown), output
// cut at both ends, both runtimes, and the AI SDK tool's execute() running a real execution.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import {
  createCodeTool,
  RunboxClient,
  runAnthropicToolUse,
  runOpenAIResponsesCall,
  runOpenAIToolCall,
  toAnthropicTool,
  toOpenAIResponsesTool,
  toOpenAITool,
  type CodeTool,
  type ToolSet,
} from 'runbox/sdk';
import { toAISdkTool } from 'runbox/sdk/ai';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { checkAdapterTypes } from './adapter-types.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHART_CODE = [
  'import matplotlib',
  'matplotlib.use("Agg")',
  'import matplotlib.pyplot as plt',
  'users = await call_tools_parallel([("get_user", {"user_id": "u1"}), ("get_user", {"user_id": "u2"})])',
  'plt.bar([u["name"] for u in users], [len(u["email"]) for u in users])',
  'plt.savefig("chart.png")',
  'set_result({"users": len(users)}, files=["chart.png"])',
].join('\n');

function makeTools(calls: string[]): ToolSet {
  return {
    get_user: {
      description: 'Fetch one user by id.',
      parameters: { type: 'object', properties: { user_id: { type: 'string' } }, required: ['user_id'] },
      outputSchema: { type: 'object', properties: { name: { type: 'string' }, email: { type: 'string', format: 'email' } }, required: ['name', 'email'] },
      handler: ({ user_id }: { user_id: string }) => {
        calls.push(user_id);
        return { name: `user ${user_id}`, email: `${user_id}@example.com` };
      },
    },
    'search-docs': {
      description: 'Search the docs.',
      parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
      handler: ({ query }: { query: string }) => [{ title: `About ${query}` }],
    },
  };
}

describe('createCodeTool against a real daemon', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;
  const calls: string[] = [];
  let python: CodeTool;
  let both: CodeTool;

  before(async () => {
    daemon = await startDaemon();
    client = new RunboxClient({ url: daemon.url });
    python = createCodeTool(client, { tools: makeTools(calls), execute: { inputs: { team: 'support' } }, instructions: 'Answer in French.' });
    both = createCodeTool(client, { tools: makeTools(calls), runtimes: ['python', 'node'], maxOutputChars: 1000 });
  });

  after(async () => {
    await client?.close();
    await daemon?.close();
  });

  it('describes itself: rules, stubs of the allowed runtimes, inputs, instructions, and the input schema', () => {
    assert.equal(python.name, 'execute_code');
    assert.match(python.description, /async def get_user\(user_id: str\) -> GetUserOutput:/);
    assert.match(python.description, /# await call_tool\("search-docs", \{"query": str\}\)/);
    assert.match(python.description, /No network access/);
    assert.match(python.description, /`team` \(string\)/);
    assert.ok(python.description.trimEnd().endsWith('```'));
    assert.ok(python.description.includes('\n\nAnswer in French.\n'));
    assert.ok(!python.description.includes('declare function'), 'no Node stubs when only Python is allowed');
    assert.deepEqual(python.inputSchema, { type: 'object', properties: { code: { type: 'string', description: 'The Python 3 program to run.' } }, required: ['code'], additionalProperties: false });
    assert.match(both.description, /declare function get_user\(args: \{/);
    assert.match(both.description, /declare function callTool\(name: "search-docs"/);
    assert.deepEqual((both.inputSchema.properties as Record<string, { enum?: string[] }>).runtime.enum, ['python', 'node']);
  });

  it('answers good code with its result and output; the inputs are variables', async () => {
    const out = await python.run({ code: 'u = await get_user("u7")\nprint("looked up", u["name"])\nreturn {"email": u["email"], "team": team}' });
    assert.equal(out.isError, false, out.text);
    assert.deepEqual(out.result?.result, { email: 'u7@example.com', team: 'support' });
    assert.match(out.text, /^status: ok; 1 tool call; \d+ ms\nresult:\n\{"email":"u7@example.com","team":"support"\}\nstdout:\nlooked up user u7$/);
    assert.deepEqual(out.attachments, []);
  });

  it('answers failing code with the error and its traceback, isError true', async () => {
    const out = await python.run({ code: 'x = 1\nx / 0' });
    assert.equal(out.isError, true);
    assert.equal(out.result?.status, 'error');
    assert.match(out.text, /^status: error \(exit code 1\)/);
    assert.match(out.text, /error: ZeroDivisionError: division by zero\ntraceback:\nTraceback \(most recent call last\):\n {2}File "main\.py", line 2/);
    assert.equal(out.text.match(/Traceback/g)?.length, 1, 'stderr repeating the traceback is left out');
  });

  it('answers bad input without running anything and without throwing', async () => {
    const before = calls.length;
    const cases: [unknown, RegExp][] = [
      [{}, /`code` is missing or empty/],
      [{ code: '   ' }, /`code` is missing or empty/],
      [{ code: 'print(1)', runtime: 'node' }, /`runtime` must be "python", received "node"/],
      [{ code: 'print(1)', runtime: 'ruby' }, /`runtime` must be "python", received "ruby"/],
      ['{not json', /the input is not JSON/],
      [[1, 2], /must be an object/],
      [null, /must be an object/],
    ];
    for (const [input, expected] of cases) {
      const out = await python.run(input);
      assert.equal(out.isError, true);
      assert.equal(out.result, null);
      assert.match(out.text, /^status: not run\nerror: InvalidInput: /);
      assert.match(out.text, expected);
    }
    const { messages } = await runOpenAIToolCall(python, { id: 'call_1', type: 'function', function: { name: 'execute_code', arguments: '{"code": ' } });
    assert.deepEqual(messages.map((message) => message.role), ['tool']);
    assert.match(messages[0].content as string, /not JSON/);
    assert.equal(calls.length, before, 'no tool was called');
  });

  it('answers code the daemon refuses (over maxCodeBytes) as an error for the model', async () => {
    const out = await python.run({ code: `# ${'x'.repeat(daemon.config.maxCodeBytes)}` });
    assert.equal(out.isError, true);
    assert.equal(out.result, null);
    assert.match(out.text, /^status: not run\nerror: payload_too_large: code: \d+ bytes exceeds maxCodeBytes/);
  });

  it('cuts huge stdout keeping its start and its end, with a marker', async () => {
    const out = await both.run({ code: 'print("HEAD-LINE")\nfor i in range(20000):\n    print("filler", i)\nprint("TAIL-LINE")' });
    assert.equal(out.isError, false);
    const stdout = out.text.slice(out.text.indexOf('stdout:\n'));
    assert.match(stdout, /^stdout:\nHEAD-LINE\n/);
    assert.match(stdout, /\n\[runbox: \d+ characters of stdout cut\]\n/);
    assert.ok(stdout.trimEnd().endsWith('TAIL-LINE'));
    assert.ok(stdout.length < 1200, `${stdout.length} characters`);
    assert.ok((out.result?.stdout.length ?? 0) > 200_000, 'the full output stays in output.result');
  });

  it('runs Node code when the model picks it', async () => {
    const out = await both.run({ runtime: 'node', code: 'const [u, docs] = await Promise.all([get_user({ user_id: "n1" }), callTool("search-docs", { query: "tools" })]);\nreturn { email: u.email, title: docs[0].title };' });
    assert.equal(out.isError, false, out.text);
    assert.deepEqual(out.result?.result, { email: 'n1@example.com', title: 'About tools' });
    const py = await both.run({ code: 'return (await call_tool("search-docs", {"query": "py"}))[0]["title"]' });
    assert.deepEqual(py.result?.result, 'About py');
  });

  it('returns a chart as an attachment, an Anthropic image block and OpenAI image inputs', async () => {
    const out = await python.run({ code: CHART_CODE });
    assert.equal(out.isError, false, out.text);
    assert.deepEqual(out.attachments.map((file) => [file.path, file.mimeType]), [['chart.png', 'image/png']]);
    assert.ok(out.attachments[0].content.subarray(0, 8).equals(PNG_SIGNATURE));
    assert.match(out.text, /files:\n- chart\.png \(image\/png, \d+ bytes\)/);

    const anthropic = await runAnthropicToolUse(python, { id: 'toolu_1', name: 'execute_code', input: { code: CHART_CODE } });
    assert.equal(anthropic.block.tool_use_id, 'toolu_1');
    assert.equal(anthropic.block.is_error, false);
    assert.deepEqual(anthropic.block.content.map((part) => part.type), ['text', 'image']);
    const image = anthropic.block.content[1];
    assert.ok(image.type === 'image' && image.source.media_type === 'image/png');
    assert.ok(Buffer.from(image.source.data, 'base64').subarray(0, 8).equals(PNG_SIGNATURE));

    const chat = await runOpenAIToolCall(python, { id: 'call_9', type: 'function', function: { name: 'execute_code', arguments: JSON.stringify({ code: CHART_CODE }) } });
    assert.deepEqual(chat.messages.map((message) => message.role), ['tool', 'user']);
    const [toolMessage, userMessage] = chat.messages;
    assert.ok(toolMessage.role === 'tool' && toolMessage.tool_call_id === 'call_9' && toolMessage.content.startsWith('status: ok'));
    assert.ok(userMessage.role === 'user');
    assert.deepEqual(userMessage.content[0], { type: 'text', text: 'Files from the execute_code call call_9: chart.png' });
    const part = userMessage.content[1];
    assert.ok(part.type === 'image_url' && part.image_url.url.startsWith('data:image/png;base64,iVBORw0KGgo'));

    const responses = await runOpenAIResponsesCall(python, { call_id: 'fc_1', name: 'execute_code', arguments: JSON.stringify({ code: CHART_CODE }) });
    assert.equal(responses.item.type, 'function_call_output');
    assert.ok(Array.isArray(responses.item.output));
    assert.deepEqual(responses.item.output.map((entry) => entry.type), ['input_text', 'input_image']);
  });

  it('a figure the code only shows (plt.show(), nothing saved or declared) reaches the model as an image in each format', async () => {
    const code = 'import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.title("squares")\nplt.show()';
    const anthropic = await runAnthropicToolUse(python, { id: 'toolu_fig', name: 'execute_code', input: { code } });
    assert.equal(anthropic.block.is_error, false);
    assert.deepEqual(anthropic.block.content.map((part) => part.type), ['text', 'image']);
    const [text, image] = anthropic.block.content;
    assert.ok(text.type === 'text');
    assert.match(text.text, /files:\n- figure_1\.png \(image\/png, \d+ bytes\)$/);
    assert.ok(image.type === 'image' && image.source.media_type === 'image/png');
    assert.ok(Buffer.from(image.source.data, 'base64').subarray(0, 8).equals(PNG_SIGNATURE));

    const chat = await runOpenAIToolCall(python, { id: 'call_fig', type: 'function', function: { name: 'execute_code', arguments: JSON.stringify({ code }) } });
    assert.deepEqual(chat.messages.map((message) => message.role), ['tool', 'user']);
    const userMessage = chat.messages[1];
    assert.ok(userMessage.role === 'user');
    assert.deepEqual(userMessage.content[0], { type: 'text', text: 'Files from the execute_code call call_fig: figure_1.png' });
    const part = userMessage.content[1];
    assert.ok(part.type === 'image_url' && part.image_url.url.startsWith('data:image/png;base64,iVBORw0KGgo'));

    const responses = await runOpenAIResponsesCall(python, { call_id: 'fc_fig', name: 'execute_code', arguments: JSON.stringify({ code }) });
    assert.ok(Array.isArray(responses.item.output));
    assert.deepEqual(responses.item.output.map((entry) => entry.type), ['input_text', 'input_image']);
    const input = responses.item.output[1];
    assert.ok(input.type === 'input_image' && String(input.image_url).startsWith('data:image/png;base64,iVBORw0KGgo'));
  });

  it('gives an Anthropic error result for failing code, and the tool definitions in each format', async () => {
    const { block } = await runAnthropicToolUse(python, { id: 'toolu_2', name: 'execute_code', input: { code: 'raise ValueError("nope")' } });
    assert.equal(block.is_error, true);
    assert.match(block.content[0].type === 'text' ? block.content[0].text : '', /error: ValueError: nope/);
    assert.deepEqual(toAnthropicTool(both), { name: 'execute_code', description: both.description, input_schema: both.inputSchema });
    assert.deepEqual(toOpenAITool(both), { type: 'function', function: { name: 'execute_code', description: both.description, parameters: both.inputSchema } });
    assert.deepEqual(toOpenAIResponsesTool(both), { type: 'function', name: 'execute_code', description: both.description, parameters: both.inputSchema, strict: false });
  });

  it("fits the provider SDKs' own types (test/sdk/adapter-types.ts) with real calls", async () => {
    const code = JSON.stringify({ code: 'return 6 * 7' });
    const values = await checkAdapterTypes(
      python,
      { id: 'call_t', type: 'function', function: { name: 'execute_code', arguments: code } },
      { type: 'function_call', call_id: 'fc_t', name: 'execute_code', arguments: code },
      { type: 'tool_use', id: 'toolu_t', name: 'execute_code', input: { code: 'return 6 * 7' }, caller: { type: 'direct' } },
    );
    assert.match(String(values.chatMessages[0].content), /result:\n42/);
    assert.match(JSON.stringify(values.anthropicResult.content), /result:\\n42/);
    assert.equal(typeof values.aiTools.execute_code.execute, 'function');
  });

  it('as an AI SDK tool: execute() runs the code, toModelOutput() gives the text and the chart', async () => {
    const aiTool = toAISdkTool(python);
    assert.equal(aiTool.description, python.description);
    const execute = aiTool.execute;
    assert.ok(execute !== undefined);
    const output = await execute({ code: CHART_CODE }, { toolCallId: 'ai_1', messages: [] });
    assert.ok(!(Symbol.asyncIterator in Object(output)));
    const result = output as Awaited<ReturnType<CodeTool['run']>>;
    assert.equal(result.isError, false, result.text);
    const modelOutput = await aiTool.toModelOutput?.({ toolCallId: 'ai_1', input: { code: CHART_CODE }, output: result });
    assert.ok(modelOutput?.type === 'content');
    assert.deepEqual(modelOutput.value.map((part) => part.type), ['text', 'image-data']);
    const image = modelOutput.value[1];
    assert.ok(image.type === 'image-data' && image.mediaType === 'image/png' && Buffer.from(image.data, 'base64').subarray(0, 8).equals(PNG_SIGNATURE));
  });

  it('tells the model, one line each, which budgets the code went past and which calls were denied', async () => {
    const denied: string[] = [];
    const tools = makeTools([]);
    tools.get_user.needsApproval = ({ user_id }: { user_id: string }) => user_id.startsWith('vip');
    const limited = createCodeTool(client, {
      tools,
      execute: {
        budgets: { maxCallsPerTool: { get_user: 3 }, maxConcurrentToolCalls: 4 },
        onToolCall: ({ args }) => {
          denied.push((args as { user_id: string }).user_id);
          return { decision: 'deny', reason: 'VIP users are off limits' };
        },
      },
    });
    const code = [
      'seen = []',
      'for user_id in ["u1", "vip1", "u2", "vip2", "u3"]:',
      '    try:',
      '        seen.append((await get_user(user_id)).name)',
      '    except ToolError as e:',
      '        seen.append(e.code)',
      'set_result(seen)',
    ].join('\n');
    const out = await limited.run({ code });
    assert.equal(out.isError, false, out.text);
    assert.deepEqual(out.result?.result, ['user u1', 'approval_denied', 'user u2', 'budget_exceeded', 'budget_exceeded']);
    assert.deepEqual(denied, ['vip1']);
    const lines = out.text.split('\n');
    assert.match(lines[0], /^status: ok; 5 tool calls; \d+ ms$/);
    assert.deepEqual(lines.slice(1, 3), [
      'budgets exceeded: maxCallsPerTool for get_user (3 calls)',
      'denied tool calls: 1 (get_user): VIP users are off limits',
    ]);
    // Without either, the answer has neither line.
    const plain = await limited.run({ code: 'return (await get_user("u9")).name' });
    assert.doesNotMatch(plain.text, /budgets exceeded|denied tool calls/);
  });

  it('refuses bad options at once, naming them', () => {
    assert.throws(() => createCodeTool(client, { tools: {}, runtimes: [] }), /options\.runtimes/);
    assert.throws(() => createCodeTool(client, { tools: {}, runtimes: ['ruby' as never] }), /options\.runtimes/);
    assert.throws(() => createCodeTool(client, { tools: {}, name: 'has space' }), /options\.name/);
    assert.throws(() => createCodeTool(client, { tools: {}, execute: { code: 'x' } as never }), /options\.execute\.code/);
    assert.throws(() => createCodeTool(client, { tools: {}, maxOutputChars: 0 }), /options\.maxOutputChars/);
    assert.throws(() => createCodeTool({} as never, { tools: {} }), /createCodeTool\(client\)/);
    // More tools than one execution may declare would make every call fail: refused when the tool is made.
    const handler = () => null;
    const tools = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`t${i}`, { description: '', parameters: { type: 'object' as const, properties: {} }, handler }]));
    assert.throws(() => createCodeTool(client, { tools: tools(257) }), /^TypeError: Runbox: options\.tools: expected at most 256 tools \(maxTools: every execution declares them all\), received 257$/);
    assert.equal(createCodeTool(client, { tools: tools(256) }).discovery, true);
  });
});

// The packages a module and the modules it imports (at run time: `import type` left out) load, from its source.
function runtimePackages(entry: string, seen = new Set<string>()): Set<string> {
  const packages = new Set<string>();
  if (seen.has(entry)) return packages;
  seen.add(entry);
  const source = fs.readFileSync(entry, 'utf8');
  for (const match of source.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)) {
    const specifier = match[1];
    if (specifier.startsWith('.')) {
      for (const found of runtimePackages(path.resolve(path.dirname(entry), specifier.replace(/\.js$/, '.ts')), seen)) packages.add(found);
    } else packages.add(specifier);
  }
  return packages;
}

test('runbox/sdk loads none of the optional peers at run time; runbox/sdk/ai loads ai', () => {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
  const main = runtimePackages(path.join(root, 'sdk/index.ts'));
  assert.ok(main.has('ws'), `the walk sees the SDK's own dependencies: ${[...main].join(', ')}`);
  for (const peer of ['openai', '@anthropic-ai/sdk', 'ai']) assert.ok(!main.has(peer), `runbox/sdk loads ${peer}`);
  assert.ok(runtimePackages(path.join(root, 'sdk/ai.ts')).has('ai'));
});
