// The policy on what code may call, against a real daemon with real sandboxes: arguments checked against each
// tool's schema before the client sees the call, results against outputSchema, the request's budgets, the
// result's tool-call log, and the client's approval decisions (sent by a raw WebSocket client, as the SDK would).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/ws-client.js';

let d: TestDaemon;
let client: RawClient;

const tools = [
  {
    name: 'get_user',
    description: 'one user',
    parameters: { type: 'object', properties: { user_id: { type: 'string', pattern: '^(a+)+$' }, tags: { type: 'array', uniqueItems: true } }, required: ['user_id'], additionalProperties: false },
    outputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
  },
  { name: 'bad_user', description: 'answers off its outputSchema', parameters: { type: 'object', properties: {} }, outputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
  { name: 'get_sales', description: 'sales', parameters: { type: 'object', properties: { n: { type: 'integer' } } } },
  { name: 'slow', description: 'answers after 300 ms', parameters: { type: 'object', properties: {} } },
  { name: 'never', description: 'never answered', parameters: { type: 'object', properties: {} } },
  { name: 'guarded', description: 'answered by the test with approval decisions', parameters: { type: 'object', properties: { what: { type: 'string' } } } },
];
const handled: string[] = [];
const handlers = {
  get_user: (args: any) => (handled.push(`get_user ${JSON.stringify(args)}`), { name: `user ${args.user_id}` }),
  bad_user: () => (handled.push('bad_user'), { name: 42 }),
  get_sales: (args: any) => (handled.push('get_sales'), Array.from({ length: args.n ?? 1 }, (_, i) => ({ day: i, total: 100 }))),
  slow: async () => {
    handled.push('slow');
    await new Promise((resolve) => setTimeout(resolve, 300));
    return 'done';
  },
};

before(async () => {
  d = await startDaemon();
  client = await RawClient.connect(d.wsUrl);
  client.handlers = handlers;
  // `guarded` is answered here, the way the SDK answers a call that needed approval.
  client.ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.type !== 'tool_call' || message.name !== 'guarded') return;
    const what = message.args.what;
    const answers: Record<string, unknown> = {
      approve: { result: 'ran', approval: { decision: 'approved' } },
      modify: { result: 'ran with changes', approval: { decision: 'modified', reason: 'limit lowered to 10' } },
      deny: { error: { message: 'not on a Sunday', code: 'approval_denied' }, approval: { decision: 'denied', reason: 'not on a Sunday' } },
      deny_code_only: { error: { message: 'refused by policy', code: 'approval_denied' } },
      other_code: { error: { message: 'it broke', code: 'something_else' } },
      bad_approval: { result: 'x', approval: { decision: 'maybe' } },
    };
    client.send({ type: 'tool_result', callId: message.callId, ...(answers[what] as object) });
  });
});
after(async () => {
  client.close();
  await d.close();
});

// Python: each call's outcome as [code, message] or ["ok", result].
const pyCalls = (calls: string[]) =>
  ['out = []', ...calls.flatMap((call) => [`try:\n    out.append(["ok", ${call}])`, 'except ToolError as e:\n    out.append([e.code, str(e)])']), 'set_result(out)'].join('\n');
// Node: the same.
const nodeCalls = (calls: string[]) =>
  ['const out = [];', ...calls.map((call) => `try { out.push(['ok', await ${call}]); } catch (e) { out.push([e.code, e.message]); }`), 'return out;'].join('\n');

describe('arguments and results against the schemas', () => {
  for (const runtime of ['python', 'node'] as const) {
    test(`${runtime}: an invalid call raises with the field and the rule, and the client never sees it`, async () => {
      handled.length = 0;
      const call = runtime === 'python' ? (args: string) => `call_tool("get_user", ${args})` : (args: string) => `callTool("get_user", ${args})`;
      const calls = [call('{"user_id": 7}'), call('{}'), call('{"user_id": "aa", "extra": 1}'), call('{"user_id": "aa", "tags": [{"a": 1, "b": 2}, {"b": 2, "a": 1}]}'), call('{"user_id": "aaa"}')];
      const id = `${runtime}-invalid`;
      const result = await client.execute({ id, runtime, code: runtime === 'python' ? pyCalls(calls) : nodeCalls(calls), tools });
      assert.equal(result.status, 'ok', JSON.stringify(result.error));
      assert.deepEqual(result.result, [
        ['invalid_arguments', 'get_user: arguments.user_id must be string (type)'],
        ['invalid_arguments', "get_user: arguments must have required property 'user_id' (required)"],
        ['invalid_arguments', 'get_user: arguments must NOT have additional properties (additionalProperties: "extra")'],
        ['invalid_arguments', 'get_user: arguments.tags must NOT have duplicate items (items ## 0 and 1 are identical) (uniqueItems)'],
        ['ok', { name: 'user aaa' }],
      ]);
      assert.deepEqual(handled, ['get_user {"user_id":"aaa"}'], 'the handler saw only the valid call');
      assert.deepEqual(client.of(id).toolCalls.map((c) => c.args), [{ user_id: 'aaa' }]);
      assert.deepEqual(result.toolCallLog.map((e: any) => e.outcome), ['invalid_arguments', 'invalid_arguments', 'invalid_arguments', 'invalid_arguments', 'ok']);
    });
  }

  test('a catastrophic pattern against 50,000 characters is answered at once (linear-time matching)', async () => {
    const code = 'const started = Date.now();\ntry { await callTool("get_user", { user_id: "a".repeat(50000) + "!" }); } catch (e) { return [e.code, e.message, Date.now() - started]; }';
    const result = await client.execute({ id: 'redos', runtime: 'node', code, tools });
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    assert.equal(result.result[0], 'invalid_arguments');
    assert.equal(result.result[1], 'get_user: arguments.user_id must match pattern "^(a+)+$" (pattern)');
    // A safety net only (a backtracking engine takes longer than the universe has left); bench-free.
    assert.ok(result.result[2] < 5000, `took ${result.result[2]} ms`);
  });

  test('node: a result off its outputSchema raises invalid_result; validateResults: false lets it through', async () => {
    const checked = await client.execute({ id: 'out-checked', runtime: 'node', code: nodeCalls(['callTool("bad_user", {})']), tools });
    assert.deepEqual(checked.result, [['invalid_result', 'bad_user: result.name must be string (type)']]);
    assert.equal(checked.toolCallLog[0].outcome, 'invalid_result');
    assert.equal(checked.toolCallLog[0].resultBytes, 0);
    const unchecked = await client.execute({ id: 'out-unchecked', runtime: 'node', code: nodeCalls(['callTool("bad_user", {})']), tools, validateResults: false });
    assert.deepEqual(unchecked.result, [['ok', { name: 42 }]]);
    assert.equal(unchecked.toolCallLog[0].outcome, 'ok');
  });

  test('python: a result off its outputSchema raises invalid_result', async () => {
    const result = await client.execute({ id: 'py-out', runtime: 'python', code: pyCalls(['call_tool("bad_user", {})']), tools });
    assert.deepEqual(result.result, [['invalid_result', 'bad_user: result.name must be string (type)']]);
  });

  test('a schema that does not compile refuses the execute, naming it; so do bad budgets and validateResults', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ tools: [tools[2], { name: 'x', parameters: { type: 'strin' } }] }, /^tools\[1\]\.parameters: schema is invalid: data\/type must be equal to one of the allowed values/],
      [{ tools: [{ name: 'x', parameters: { type: 'string', pattern: '(?=a)' } }] }, /^tools\[0\]\.parameters: pattern "\(\?=a\)" is not supported .*RE2 syntax/],
      [{ tools: [{ name: 'x', parameters: { type: 'object' }, outputSchema: { type: 'object', properties: { a: { minimum: 'one' } } } }] }, /^tools\[0\]\.outputSchema: schema is invalid/],
      [{ tools, budgets: { maxCallsPerTool: { nope: 1 } } }, /^budgets\.maxCallsPerTool\.nope: no declared tool has this name/],
      [{ tools, budgets: { maxConcurrentToolCalls: 0 } }, /^budgets\.maxConcurrentToolCalls: expected an integer ≥ 1, received number 0/],
      [{ tools, budgets: { maxToolCalls: 3 } }, /^budgets\.maxToolCalls: unknown budget/],
      [{ tools, validateResults: 'yes' }, /^validateResults: expected true or false/],
    ];
    for (const [fields, message] of cases) {
      const error = client.nextError();
      client.send({ type: 'execute', id: 'refused', runtime: 'python', code: 'pass', ...fields });
      const answer = await error;
      assert.equal(answer.code, 'invalid_request');
      assert.match(answer.message, message);
    }
  });
});

describe('budgets', () => {
  test('python: maxCallsPerTool and maxToolResultBytes raise naming the budget; the result records each once', async () => {
    const calls = ['call_tool("get_sales", {"n": 1})', 'call_tool("get_sales", {"n": 1})', 'call_tool("get_sales", {"n": 1})', 'call_tool("get_sales", {"n": 1})', 'call_tool("get_user", {"user_id": "a"})'];
    const result = await client.execute({ id: 'per-tool', runtime: 'python', code: pyCalls(calls), tools, budgets: { maxCallsPerTool: { get_sales: 2 } } });
    assert.deepEqual(result.result.map((r: any) => r[0]), ['ok', 'ok', 'budget_exceeded', 'budget_exceeded', 'ok']);
    assert.equal(result.result[2][1], 'budget maxCallsPerTool for get_sales (2 calls) is spent');
    assert.deepEqual(result.budgetsExceeded, [{ budget: 'maxCallsPerTool', tool: 'get_sales', limit: 2 }]);
    assert.equal(client.of('per-tool').toolCalls.length, 3);

    // Each result of 1 row is 23 bytes of JSON ([{"day":0,"total":100}]); 50 bytes hold two.
    const bytes = await client.execute({ id: 'result-bytes', runtime: 'python', code: pyCalls(['call_tool("get_sales", {})', 'call_tool("get_sales", {})', 'call_tool("get_sales", {})']), tools, budgets: { maxToolResultBytes: 50, maxCallsPerTool: 10 } });
    assert.deepEqual(bytes.result.map((r: any) => r[0]), ['ok', 'ok', 'budget_exceeded']);
    assert.equal(bytes.result[2][1], 'budget maxToolResultBytes (50 bytes) would be exceeded by the result of get_sales (23 bytes, 46 spent before it)');
    assert.deepEqual(bytes.budgetsExceeded, [{ budget: 'maxToolResultBytes', limit: 50 }]);
    assert.deepEqual(bytes.toolCallLog.map((e: any) => e.resultBytes), [23, 23, 0]);
  });

  test('node: calls past maxConcurrentToolCalls raise; the ones within it run', async () => {
    const code = 'return await Promise.all([1, 2, 3].map(() => callTool("slow", {}).then((v) => ["ok", v], (e) => [e.code, e.message])));';
    const result = await client.execute({ id: 'concurrent', runtime: 'node', code, tools, budgets: { maxConcurrentToolCalls: 1 } });
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    assert.deepEqual(result.result.map((r: any) => r[0]).sort(), ['budget_exceeded', 'budget_exceeded', 'ok']);
    assert.ok(result.result.some((r: any) => r[1] === 'budget maxConcurrentToolCalls (1 call at once) is reached: slow was not called'));
    assert.deepEqual(result.budgetsExceeded, [{ budget: 'maxConcurrentToolCalls', limit: 1 }]);
    // Once the first call is answered, another may go.
    const after = await client.execute({ id: 'concurrent-2', runtime: 'node', code: 'await callTool("slow", {}); return await callTool("slow", {});', tools, budgets: { maxConcurrentToolCalls: 1 } });
    assert.equal(after.result, 'done');
    assert.deepEqual(after.budgetsExceeded, []);
  });
});

describe('the tool-call log', () => {
  test('python: each call with its tool, arguments (cut past 1 KiB), timing, outcome and result size', async () => {
    const code = [
      'call_tool("get_sales", {"n": 2})',
      'try:\n    call_tool("nope", {})\nexcept ToolError:\n    pass',
      'try:\n    call_tool("get_sales", {"n": "x" * 5000})\nexcept ToolError:\n    pass',
    ].join('\n');
    const result = await client.execute({ id: 'log', runtime: 'python', code, tools });
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    const [sales, unknown, long] = result.toolCallLog;
    assert.equal(result.toolCallLog.length, 3);
    assert.equal(result.toolCallLogTruncated, undefined);
    assert.deepEqual({ ...sales, startedAtMs: 0, durationMs: 0 }, { callId: client.of('log').toolCalls[0].callId, tool: 'get_sales', args: { n: 2 }, startedAtMs: 0, durationMs: 0, outcome: 'ok', resultBytes: 45 });
    assert.ok(sales.startedAtMs > 0 && sales.durationMs >= 0);
    assert.equal(unknown.outcome, 'unknown_tool');
    assert.match(unknown.callId, /^code:/, 'a call no client saw has the code\'s own id');
    assert.match(unknown.error, /unknown tool "nope"/);
    assert.equal(long.outcome, 'invalid_arguments');
    assert.equal(typeof long.args, 'string');
    assert.match(long.args, /^\{"n": ?"xxxx/);
    const total = Number(/… \[runbox: arguments cut, (\d+) bytes in all\]$/.exec(long.args)?.[1]);
    assert.ok(total >= 5006 && total <= 5010, long.args.slice(-60));
    assert.ok(long.args.length < 1100);
    assert.ok(long.startedAtMs >= unknown.startedAtMs && unknown.startedAtMs >= sales.startedAtMs);
  });

  test('node: past 1000 calls the log stops and says so; an install appears in it too', async () => {
    const code = 'for (let i = 0; i < 1003; i++) { try { await callTool("get_user", {}); } catch {} }\nreturn 1;';
    const result = await client.execute({ id: 'cap', runtime: 'node', code, tools });
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    assert.equal(result.toolCalls, 1003);
    assert.equal(result.toolCallLog.length, 1000);
    assert.equal(result.toolCallLogTruncated, true);
    assert.ok(result.toolCallLog.every((e: any) => e.outcome === 'invalid_arguments'));
    // A name the daemon refuses before anything is fetched (no network here).
    const short = await client.execute({ id: 'install-log', runtime: 'node', code: 'try { await installPackage("https://example.invalid/x.tgz"); } catch (e) { return e.code; }', tools });
    assert.equal(short.result, 'invalid_package');
    assert.equal(short.toolCallLog.length, 1);
    assert.equal(short.toolCallLog[0].tool, 'runbox.install');
    assert.equal(short.toolCallLog[0].outcome, 'error');
    assert.equal(short.toolCallLog[0].error.length > 0, true);
  });
});

test('a call still waiting when the execution ends is logged as cancelled', async () => {
  const result = await client.execute({ id: 'pending', runtime: 'node', code: 'await callTool("never", {a: 1});', tools, timeoutMs: 1500 });
  assert.equal(result.status, 'timeout');
  assert.equal(result.toolCallLog.length, 1);
  assert.deepEqual({ ...result.toolCallLog[0], startedAtMs: 0, durationMs: 0 }, { callId: client.of('pending').toolCalls[0].callId, tool: 'never', args: { a: 1 }, startedAtMs: 0, durationMs: 0, outcome: 'cancelled', resultBytes: 0 });
});

describe('approvals from the client', () => {
  for (const runtime of ['python', 'node'] as const) {
    test(`${runtime}: decisions are recorded; approval_denied reaches the code as .code`, async () => {
      const call = (what: string) => (runtime === 'python' ? `call_tool("guarded", {"what": "${what}"})` : `callTool("guarded", {what: "${what}"})`);
      const whats = ['approve', 'modify', 'deny', 'deny_code_only', 'other_code'];
      const id = `${runtime}-approvals`;
      const result = await client.execute({ id, runtime, code: (runtime === 'python' ? pyCalls : nodeCalls)(whats.map(call)), tools });
      assert.equal(result.status, 'ok', JSON.stringify(result.error));
      assert.deepEqual(result.result, [
        ['ok', 'ran'],
        ['ok', 'ran with changes'],
        ['approval_denied', 'not on a Sunday'],
        ['approval_denied', 'refused by policy'],
        ['tool_error', 'it broke'],
      ]);
      assert.deepEqual(result.toolCallLog.map((e: any) => [e.outcome, e.approval]), [
        ['ok', { decision: 'approved' }],
        ['ok', { decision: 'modified', reason: 'limit lowered to 10' }],
        ['denied', { decision: 'denied', reason: 'not on a Sunday' }],
        ['denied', undefined],
        ['error', undefined],
      ]);
    });
  }

  test('a malformed approval gets an error naming it, and fails the waiting call', async () => {
    const error = client.nextError();
    const result = await client.execute({ id: 'bad-approval', runtime: 'node', code: nodeCalls(['callTool("guarded", {what: "bad_approval"})']), tools });
    const answer = await error;
    assert.equal(answer.code, 'invalid_request');
    assert.match(answer.message, /^tool_result c\d+: approval\.decision: expected "approved", "modified", "denied", received "maybe"$/);
    assert.equal(result.result[0][0], 'tool_error');
    assert.match(result.result[0][1], /malformed tool_result \(approval\.decision/);
  });
});

test('the daemon logs each call\'s entry at debug level, with the execution\'s id', async () => {
  const logged = await startDaemon({ logLevel: 'debug' }, { logs: true });
  const raw = await RawClient.connect(logged.wsUrl);
  raw.handlers = handlers;
  try {
    const result = await raw.execute({ id: 'debug-log', runtime: 'node', code: 'await callTool("get_sales", {n: 1}); try { await callTool("get_user", {}); } catch {}', tools });
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    const lines = logged.logs.filter((line) => line.msg === 'tool call finished');
    assert.deepEqual(lines.map((line) => line.toolCall), result.toolCallLog);
    assert.ok(lines.every((line) => line.level === 20 && typeof line.executionId === 'string'));
  } finally {
    raw.close();
    await logged.close();
  }
});
