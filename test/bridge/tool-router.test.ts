// The routing of tool calls with real parts: calls parsed from real bridge bytes, the client side answered
// through the real ClientToolRouter (the test plays the client that answers it) or NO_CLIENT_TOOL_HOST, and
// daemon tools registered by the test. What the sandbox gets back is recorded as the bridge would send it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { ClientToolRouter, type ToolCallMessage } from '../../daemon/bridge/client-tools.js';
import { parseBridgeMessage, type BridgeOutbound } from '../../daemon/bridge/messages.js';
import { DaemonTools, RESERVED_TOOL_PREFIX, ToolRouter, type BridgeToolCall, type DaemonToolCall, type ToolRouterOptions } from '../../daemon/bridge/tool-router.js';
import { NO_CLIENT_TOOL_HOST, ToolCallError } from '../../daemon/bridge/tools.js';
import { PROTOCOL } from '../../daemon/protocol.js';

const silent = pino({ level: 'silent' });
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

// A tool call as the prelude sends it, through the real parser.
function callOf(callId: string, name: string, args: unknown = {}, rawArgs?: string): BridgeToolCall {
  const parsed = parseBridgeMessage(Buffer.from(`{"type":"tool_call","callId":${JSON.stringify(callId)},"name":${JSON.stringify(name)},"args":${rawArgs ?? JSON.stringify(args)}}`), false);
  assert.ok('message' in parsed && parsed.message.type === 'tool_call');
  return parsed.message;
}

type Answer = Extract<BridgeOutbound, { type: 'tool_result' }>;

// A router over a real client tool host whose tool_call messages the test answers (as the SDK would).
function setUp(overrides: Partial<ToolRouterOptions> = {}) {
  const asked: ToolCallMessage[] = [];
  const client = new ClientToolRouter((message) => asked.push(message), 1024);
  const answers: Answer[] = [];
  const waiting: Array<() => void> = [];
  const stop = new AbortController();
  const router = new ToolRouter({
    toolHost: client.hostFor('exec-1'),
    declared: [{ name: 'echo', description: 'echoes', parameters: { type: 'object' } }],
    maxToolCalls: 10,
    maxToolCallBytes: 4096,
    daemonTools: new DaemonTools(),
    send: (message) => {
      assert.equal(message.type, 'tool_result');
      answers.push(message as Answer);
      waiting.splice(0).forEach((wake) => wake());
    },
    signal: stop.signal,
    log: silent,
    ...overrides,
  });
  // The answers once there are n of them.
  const answered = async (n: number): Promise<Answer[]> => {
    while (answers.length < n) await new Promise<void>((resolve) => waiting.push(resolve));
    return answers.slice(0, n);
  };
  return { router, client, asked, answers, answered, stop };
}

test('a declared tool goes to the client, and its answer back to the code', async () => {
  const { router, client, asked, answered } = setUp();
  router.route(callOf('1', 'echo', { text: 'hi' }));
  assert.equal(asked.length, 1);
  assert.deepEqual({ name: asked[0].name, args: asked[0].args, id: asked[0].id }, { name: 'echo', args: { text: 'hi' }, id: 'exec-1' });
  assert.ok(client.answer(asked[0].callId, { result: { text: 'hi' } }));
  assert.deepEqual(await answered(1), [{ type: 'tool_result', callId: '1', result: { text: 'hi' } }]);
  assert.equal(router.toolCalls, 1);
  // The client's own failure is tool_error with its message.
  router.route(callOf('2', 'echo'));
  client.answer(asked[1].callId, { error: { message: 'the client said no' } });
  assert.deepEqual((await answered(2))[1], { type: 'tool_result', callId: '2', error: { code: 'tool_error', message: 'the client said no' } });
});

test('a registered daemon tool answers its calls; the client is never asked and maxToolCalls is not charged', async () => {
  const daemonTools = new DaemonTools();
  const seen: unknown[] = [];
  daemonTools.register(`${RESERVED_TOOL_PREFIX}add`, async (call: DaemonToolCall) => {
    const args = call.readArgs();
    assert.ok('value' in args);
    seen.push(args.value);
    const { a, b } = args.value as { a: number; b: number };
    if (a < 0) throw new ToolCallError('limit_exceeded', 'only positive numbers');
    return a + b;
  });
  const { router, asked, answered } = setUp({ daemonTools, maxToolCalls: 0 });
  router.route(callOf('d1', `${RESERVED_TOOL_PREFIX}add`, { a: 2, b: 3 }));
  router.route(callOf('d2', `${RESERVED_TOOL_PREFIX}add`, { a: -1, b: 3 }));
  const answers = await answered(2);
  assert.deepEqual(answers.find((a) => a.callId === 'd1'), { type: 'tool_result', callId: 'd1', result: 5 });
  assert.deepEqual(answers.find((a) => a.callId === 'd2'), { type: 'tool_result', callId: 'd2', error: { code: 'limit_exceeded', message: 'only positive numbers' } });
  assert.deepEqual(seen, [{ a: 2, b: 3 }, { a: -1, b: 3 }]);
  assert.equal(asked.length, 0);
  assert.equal(router.toolCalls, 0);
  await router.settled();
});

test('an undeclared tool is unknown_tool, and a reserved name nobody registered too; the client is never asked', async () => {
  const { router, asked, answered } = setUp();
  router.route(callOf('1', 'nope'));
  router.route(callOf('2', `${RESERVED_TOOL_PREFIX}nothing`));
  const answers = await answered(2);
  assert.equal(asked.length, 0);
  for (const answer of answers) assert.ok('error' in answer && answer.error.code === 'unknown_tool', JSON.stringify(answer));
  assert.ok('error' in answers[0] && /unknown tool "nope"; this execution declared echo/.test(answers[0].error.message));
});

test('without a client every call is no_client, declared or not; a daemon tool still answers', async () => {
  const daemonTools = new DaemonTools().register(`${RESERVED_TOOL_PREFIX}ping`, async () => 'pong');
  const { router, answered } = setUp({ toolHost: NO_CLIENT_TOOL_HOST, daemonTools });
  router.route(callOf('1', 'echo'));
  router.route(callOf('2', 'undeclared'));
  router.route(callOf('3', `${RESERVED_TOOL_PREFIX}ping`));
  const answers = await answered(3);
  assert.deepEqual(answers.filter((a) => 'error' in a).map((a) => 'error' in a && a.error.code), ['no_client', 'no_client']);
  assert.deepEqual(answers.find((a) => a.callId === '3'), { type: 'tool_result', callId: '3', result: 'pong' });
  assert.equal(router.toolCalls, 2);
});

test('limits: maxToolCalls, maxToolCallBytes, and arguments the parser refused (even for a daemon tool)', async () => {
  let handled = 0;
  const daemonTools = new DaemonTools().register(`${RESERVED_TOOL_PREFIX}count`, async () => ++handled);
  const { router, asked, answered } = setUp({ maxToolCalls: 1, maxToolCallBytes: 200, daemonTools });
  router.route(callOf('big', 'echo', { text: 'x'.repeat(300) }));
  router.route(callOf('over', 'echo'));
  router.route(callOf('deep', `${RESERVED_TOOL_PREFIX}count`, null, nested(PROTOCOL.maxJsonDepth + 1)));
  const answers = await answered(3);
  const byId = Object.fromEntries(answers.map((a) => [a.callId, 'error' in a ? a.error : null]));
  assert.equal(byId.big?.code, 'limit_exceeded');
  assert.match(byId.big?.message ?? '', /over maxToolCallBytes 200/);
  assert.equal(byId.over?.code, 'limit_exceeded');
  assert.match(byId.over?.message ?? '', /may make 1 tool calls \(maxToolCalls\)/);
  assert.equal(byId.deep?.code, 'limit_exceeded');
  assert.match(byId.deep?.message ?? '', /nested more than 200 levels deep/);
  assert.equal(asked.length, 0);
  assert.equal(handled, 0);
  assert.equal(router.toolCalls, 3);
});

test('arguments that are not valid JSON fail the call without reaching the client', async () => {
  const { router, asked, answered } = setUp();
  router.route(callOf('1', 'echo', null, '{"broken": }'));
  const [answer] = await answered(1);
  assert.ok('error' in answer && answer.error.code === 'tool_error' && /the call was refused/.test(answer.error.message));
  assert.equal(asked.length, 0);
});

test('a daemon tool that fails unexpectedly is tool_error; once the execution stopped it is not answered, and settled() waits for it', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let sawAbort = false;
  const daemonTools = new DaemonTools()
    .register(`${RESERVED_TOOL_PREFIX}broken`, async () => {
      throw new Error('a bug, with /secret/paths in it');
    })
    .register(`${RESERVED_TOOL_PREFIX}slow`, async (call) => {
      await gate;
      sawAbort = call.signal.aborted;
      throw new Error('stopped');
    });
  const { router, answers, answered, stop } = setUp({ daemonTools });
  router.route(callOf('1', `${RESERVED_TOOL_PREFIX}broken`));
  assert.deepEqual(await answered(1), [{ type: 'tool_result', callId: '1', error: { code: 'tool_error', message: 'the tool failed' } }]);
  router.route(callOf('2', `${RESERVED_TOOL_PREFIX}slow`));
  let settled = false;
  const done = router.settled().then(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(settled, false);
  stop.abort(new Error('the execution ended'));
  release();
  await done;
  assert.equal(sawAbort, true);
  assert.equal(answers.length, 1);
});

test('daemon tools carry the reserved prefix, once each', () => {
  const tools = new DaemonTools();
  assert.throws(() => tools.register('install', async () => null), /must start with "runbox\."/);
  tools.register(PROTOCOL.installTool, async () => null);
  assert.throws(() => tools.register(PROTOCOL.installTool, async () => null), /registered twice/);
  assert.ok(tools.get(PROTOCOL.installTool));
  assert.equal(tools.get('echo'), undefined);
});

test('a ToolCallError without a message carries the registry\'s default', () => {
  assert.equal(new ToolCallError('unknown_tool').message, 'The tool was not declared for this execution');
});
