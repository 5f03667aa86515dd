// The WebSocket API against a real daemon: tools, streaming, cancel, concurrency and malformed messages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findProcesses, startDaemon, waitForNoProcesses, type TestDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/ws-client.js';

let d: TestDaemon;
let client: RawClient;
const tools = [
  { name: 'get_users', description: 'all users', parameters: { type: 'object', properties: {} } },
  { name: 'get_user_orders', description: 'orders of a user', parameters: { type: 'object', properties: { user_id: { type: 'integer' }, limit: { type: 'integer' } } } },
  { name: 'fail', description: 'always fails', parameters: { type: 'object', properties: {} } },
  { name: 'big', description: 'a result over maxToolCallBytes', parameters: { type: 'object', properties: {} } },
];
const handlers = {
  get_users: () => [{ id: 1 }, { id: 2 }, { id: 3 }],
  big: () => 'x'.repeat(100 * 1024),
  get_user_orders: (args: any) => Array.from({ length: args.user_id }, (_, i) => ({ total: 10 * (i + 1), limit: args.limit ?? null })),
  fail: () => {
    throw new Error('the warehouse is closed');
  },
};

before(async () => {
  d = await startDaemon({ maxToolCallBytes: 64 * 1024 });
  client = await RawClient.connect(d.wsUrl);
  client.handlers = handlers;
});
after(async () => {
  client.close();
  await d.close();
});

describe('tool calls', () => {
  test('python: sequential calls, tool functions, gather and call_tools_parallel', async () => {
    const code = [
      'import asyncio',
      'users = call_tool("get_users", {})',
      'orders = await asyncio.gather(*[get_user_orders(u["id"]) for u in users])',
      'first = await get_user_orders(1, limit=5)',
      'both = call_tools_parallel([("get_user_orders", {"user_id": 2}), ("get_users", {})])',
      'set_result({"totals": [sum(o["total"] for o in os) for os in orders], "first": first, "both": [len(both[0]), len(both[1])]})',
    ].join('\n');
    const result = await client.execute({ id: 'py-tools', runtime: 'python', code, tools });
    assert.equal(result.status, 'ok', JSON.stringify(result));
    assert.deepEqual(result.result, { totals: [10, 30, 60], first: [{ total: 10, limit: 5 }], both: [2, 3] });
    assert.equal(result.toolCalls, 7);
    const calls = client.of('py-tools').toolCalls;
    assert.deepEqual(calls.find((c) => c.args.limit === 5)?.args, { user_id: 1, limit: 5 });
    assert.equal(new Set(calls.map((c) => c.callId)).size, calls.length, 'call ids are unique');
  });

  test('node: callTool, tool functions and Promise.all', async () => {
    const code = [
      'const users = await callTool("get_users", {});',
      'const orders = await Promise.all(users.map((u) => get_user_orders(u.id)));',
      'const par = await callToolsParallel([["get_users", {}], ["get_user_orders", {user_id: 2}]]);',
      'return { totals: orders.map((os) => os.reduce((s, o) => s + o.total, 0)), par: par.map((p) => p.length) };',
    ].join('\n');
    const result = await client.execute({ id: 'node-tools', runtime: 'node', code, tools });
    assert.equal(result.status, 'ok', JSON.stringify(result));
    assert.deepEqual(result.result, { totals: [10, 30, 60], par: [3, 2] });
  });

  test('a tool error raises in the code with the tool\'s message; an unknown tool never reaches the client', async () => {
    const code = [
      'out = []',
      'try:\n    call_tool("fail", {})\nexcept ToolError as e:\n    out.append(str(e))',
      'try:\n    call_tool("launch_missiles", {})\nexcept ToolError as e:\n    out.append(str(e))',
      'set_result(out)',
    ].join('\n');
    const result = await client.execute({ id: 'py-errors', runtime: 'python', code, tools });
    assert.equal(result.status, 'ok', JSON.stringify(result));
    assert.match(result.result[0], /the warehouse is closed/);
    assert.match(result.result[1], /unknown tool "launch_missiles"; this execution declared get_users, get_user_orders, fail/);
    assert.deepEqual(client.of('py-errors').toolCalls.map((c) => c.name), ['fail']);
  });

  test('an uncaught tool error fails the execution with the tool\'s message', async () => {
    const result = await client.execute({ id: 'node-uncaught', runtime: 'node', code: 'await fail()', tools });
    assert.equal(result.status, 'error');
    assert.equal(result.error.type, 'ToolError');
    assert.match(result.error.message, /the warehouse is closed/);
  });
});

describe('tool-call limits', () => {
  test('past limits.maxToolCalls, calls fail in the code with a message naming the limit', async () => {
    const code = 'out = []\nfor i in range(4):\n    try:\n        out.append(len(call_tool("get_users", {})))\n    except ToolError as e:\n        out.append(str(e))\nset_result(out)';
    const result = await client.execute({ id: 'call-limit', runtime: 'python', code, tools, limits: { maxToolCalls: 2 } });
    assert.deepEqual(result.result.slice(0, 2), [3, 3]);
    assert.match(result.result[2], /tool call limit reached: this execution may make 2 tool calls \(maxToolCalls\)/);
    assert.equal(client.of('call-limit').toolCalls.length, 2, 'refused calls never reach the client');
  });

  test('oversized tool arguments and results fail that call, not the execution', async () => {
    const code = [
      'out = []',
      'for name, args in [("get_users", {"pad": "y" * 100000}), ("big", {})]:',
      '    try:\n        call_tool(name, args)\n    except ToolError as e:\n        out.append(str(e))',
      'out.append(len(call_tool("get_users", {})))',
      'set_result(out)',
    ].join('\n');
    const result = await client.execute({ id: 'call-size', runtime: 'python', code, tools });
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    assert.match(result.result[0], /arguments of get_users are \d+ bytes, over maxToolCallBytes 65536/);
    assert.match(result.result[1], /result is \d+ bytes, over maxToolCallBytes 65536/);
    assert.equal(result.result[2], 3);
  });

  test('limits may be lowered per request, never raised', async () => {
    const lowered = await client.execute({ id: 'low-output', runtime: 'node', code: 'console.log("z".repeat(5000))', limits: { maxOutputBytes: 100 } });
    assert.match(lowered.stdout, /^z{100}\n\[runbox: stdout truncated after 100 bytes/);
    const error = client.nextError();
    client.send({ type: 'execute', id: 'raise', runtime: 'node', code: '', limits: { memoryBytes: 64 * 1024 ** 4 } });
    const refused = await error;
    assert.equal(refused.code, 'limit_exceeded');
    assert.equal(refused.id, 'raise');
  });
});

describe('streaming, concurrency and cancel', () => {
  test('output streams before the result, in order', async () => {
    // The code waits, after each line, for a tool whose answer comes only once the client has received that line:
    // the run cannot finish unless its output streamed, however slowly a loaded machine schedules the daemon.
    const seen = { name: 'seen', description: 'answers once the client has the line', parameters: { type: 'object', properties: { line: { type: 'string' } } } };
    client.handlers.seen = async (args: any) => {
      while (!client.of('stream').stdout.includes(args.line)) await new Promise((r) => setTimeout(r, 10));
      return true;
    };
    const code = 'for i in range(3):\n    print(i)\n    await seen(f"{i}\\n")';
    const result = await client.execute({ id: 'stream', runtime: 'python', code, tools: [seen] });
    const messages = client.of('stream').messages;
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    assert.equal(client.of('stream').stdout, '0\n1\n2\n');
    assert.equal(messages.at(-1).type, 'result');
    assert.ok(messages.filter((m) => m.type === 'stdout').length >= 3, 'each line came in messages of its own, as it was printed');
    assert.equal(result.stdout, '0\n1\n2\n');
  });

  test('several executions run at once on one connection', async () => {
    const started = Date.now();
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) => client.execute({ id: `par-${i}`, runtime: i % 2 ? 'node' : 'python', code: i % 2 ? `await new Promise(r => setTimeout(r, 700)); return ${i}` : `import time\ntime.sleep(0.7)\nset_result(${i})` })),
    );
    assert.deepEqual(results.map((r) => r.result), [0, 1, 2, 3]);
    assert.ok(Date.now() - started < 2500, 'they overlapped');
  });

  test('cancel stops the code and says cancelled; no process is left', async () => {
    const marker = `sleep ${800000 + Math.floor(Math.random() * 90000)}`;
    const pending = client.execute({ id: 'to-cancel', runtime: 'python', code: `import subprocess\nsubprocess.Popen("${marker}".split())\nprint("started", flush=True)\nwhile True: pass` });
    while (!client.of('to-cancel').stdout.includes('started')) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await findProcesses(marker)).length, 1);
    client.send({ type: 'cancel', id: 'to-cancel' });
    const result = await pending;
    assert.equal(result.status, 'cancelled');
    await waitForNoProcesses(marker);
  });

  test('closing the connection cancels its executions', async () => {
    const other = await RawClient.connect(d.wsUrl);
    const marker = `sleep ${700000 + Math.floor(Math.random() * 90000)}`;
    other.send({ type: 'execute', id: 'orphan', runtime: 'node', code: `require("child_process").spawn("sleep", ["${marker.split(' ')[1]}"]); console.log("started"); setInterval(() => {}, 1000)` });
    while (!other.of('orphan').stdout.includes('started')) await new Promise((r) => setTimeout(r, 20));
    other.close();
    await waitForNoProcesses(marker);
  });
});

describe('malformed messages', () => {
  test('each gets an error and the connection stays usable', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      ['{oops', 'invalid_json', /not valid JSON/],
      ['[1,2]', 'invalid_request', /expected a JSON object/],
      [{ type: 'launch' }, 'invalid_request', /type: expected "execute", "tool_result" or "cancel"/],
      [{ type: 'execute', runtime: 'python', code: '' }, 'invalid_request', /id: expected a string/],
      [{ type: 'execute', id: 'x', runtime: 'cobol', code: '' }, 'invalid_request', /runtime/],
      [{ type: 'tool_result', callId: 'c999999', result: 1 }, 'unknown_call', /no pending tool call has callId "c999999"/],
      [{ type: 'tool_result', callId: 'c1' }, 'invalid_request', /exactly one of "result" or "error"/],
      [{ type: 'cancel', id: 'nope' }, 'unknown_execution', /no running execution has id "nope"/],
    ];
    for (const [message, code, text] of cases) {
      const error = client.nextError();
      client.send(message);
      const received = await error;
      assert.equal(received.code, code, JSON.stringify(message));
      assert.match(received.message, text);
    }
    const result = await client.execute({ id: 'after-garbage', runtime: 'python', code: 'set_result(1 + 1)' });
    assert.equal(result.result, 2);
  });

  test('a duplicate id while running is refused', async () => {
    const running = client.execute({ id: 'dup', runtime: 'python', code: 'import time\ntime.sleep(0.5)' });
    const error = client.nextError();
    client.send({ type: 'execute', id: 'dup', runtime: 'python', code: '' });
    assert.equal((await error).code, 'duplicate_id');
    assert.equal((await running).status, 'ok');
  });
});
