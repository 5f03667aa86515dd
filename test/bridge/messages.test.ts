// The bridge's checks before use, as pure functions: depth measured on the bytes without recursion (and without
// parsing what is too deep), the budgets of bytes, messages and refused connections, and the main-thread share.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BridgeBudget, CpuShare } from '../../daemon/bridge/budget.js';
import { jsonNestsDeeper, topLevelStrings } from '../../daemon/bridge/json-scan.js';
import { parseBridgeMessage } from '../../daemon/bridge/messages.js';
import { PROTOCOL } from '../../daemon/protocol.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const bytes = (text: string) => Buffer.from(text);

test('jsonNestsDeeper counts objects and arrays, not brackets inside strings, and stops early', () => {
  assert.equal(jsonNestsDeeper(bytes(nested(3)), 3), false);
  assert.equal(jsonNestsDeeper(bytes(nested(4)), 3), true);
  assert.equal(jsonNestsDeeper(bytes('{"a":{"b":[1,{"c":2}]}}'), 4), false);
  assert.equal(jsonNestsDeeper(bytes('{"a":{"b":[1,{"c":2}]}}'), 3), true);
  assert.equal(jsonNestsDeeper(bytes(JSON.stringify({ s: '[[[[[[{{{{', t: 'quote \\" [[[ \\\\' })), 1), false);
  assert.equal(jsonNestsDeeper(bytes(JSON.stringify(['\\', [['x']]])), 3), false);
  assert.equal(jsonNestsDeeper(bytes(JSON.stringify(['\\', [['x']]])), 2), true);
  // 10 million levels: decided after the first few hundred bytes.
  const huge = Buffer.alloc(10_000_000, '[');
  const started = performance.now();
  assert.equal(jsonNestsDeeper(huge, 200), true);
  assert.ok(performance.now() - started < 1000);
});

test('topLevelStrings reads a message\'s own string fields and skips the rest unparsed', () => {
  const text = `{"args": ${nested(5000)}, "type":"tool_call", "n": 3, "o": {"callId": "inner"}, "callId" : "c1", "name":"echo\\u0021"}`;
  assert.deepEqual(Object.fromEntries(topLevelStrings(bytes(text))), { type: 'tool_call', callId: 'c1', name: 'echo!' });
  assert.deepEqual(Object.fromEntries(topLevelStrings(bytes('[1,2]'))), {});
  assert.deepEqual(Object.fromEntries(topLevelStrings(bytes('{"type":"done", "result": [[[[ '))), { type: 'done' });
});

test('a tool call whose arguments nest too deep is refused with its id and never parsed; a shallow one passes', () => {
  const depth = PROTOCOL.maxJsonDepth;
  const ok = parseBridgeMessage(bytes(`{"type":"tool_call","callId":"1","name":"echo","args":${nested(depth)}}`), false);
  assert.ok('message' in ok && ok.message.type === 'tool_call' && ok.message.refusal === undefined);
  const deep = parseBridgeMessage(bytes(`{"type":"tool_call","callId":"7","name":"echo","args":${nested(depth + 1)}}`), false);
  assert.ok('message' in deep && deep.message.type === 'tool_call');
  assert.equal(deep.message.callId, '7');
  assert.deepEqual(deep.message.readArgs(), { value: null });
  assert.match(deep.message.refusal ?? '', /arguments of echo are nested more than 200 levels deep/);
  const veryDeep = parseBridgeMessage(bytes(`{"type":"tool_call","callId":"8","name":"echo","args":${nested(100_000)}}`), false);
  assert.ok('message' in veryDeep && veryDeep.message.type === 'tool_call' && veryDeep.message.refusal);
});

test('a done whose result nests too deep becomes a BridgeError result; other deep messages are problems', () => {
  const deep = parseBridgeMessage(bytes(`{"type":"done","result":${nested(100_000)},"files":[],"error":null}`), false);
  assert.ok('message' in deep && deep.message.type === 'done');
  const report = deep.message.read();
  assert.ok('value' in report);
  assert.equal(report.value.result, null);
  assert.equal(report.value.error?.type, 'BridgeError');
  assert.match(report.value.error?.message ?? '', /nested more than 200 levels deep/);
  const other = parseBridgeMessage(bytes(`{"type":"other","x":${nested(1000)}}`), false);
  assert.ok('problem' in other && /nested more than 200/.test(other.problem));
  const badId = parseBridgeMessage(bytes(`{"type":"tool_call","callId":5,"name":"echo","args":${nested(1000)}}`), false);
  assert.ok('problem' in badId && /callId/.test(badId.problem));
});

test('the envelope is read without parsing the payload; the payload is parsed (and checked) only on demand', () => {
  const call = parseBridgeMessage(bytes('{"type":"tool_call","callId":"c","name":"echo","args":{"a":[1,2]}}'), false);
  assert.ok('message' in call && call.message.type === 'tool_call');
  assert.deepEqual(call.message.readArgs(), { value: { a: [1, 2] } });
  const broken = parseBridgeMessage(bytes('{"type":"tool_call","callId":"c","name":"echo","args":{"a":[1,2}}'), false);
  assert.ok('message' in broken && broken.message.type === 'tool_call');
  assert.deepEqual(broken.message.readArgs(), { problem: 'bridge message is not valid JSON' });
  const done = parseBridgeMessage(bytes('{"type":"done","result":{"x":1},"files":["a.png"],"error":null}'), false);
  assert.ok('message' in done && done.message.type === 'done');
  assert.deepEqual(done.message.read(), { value: { result: { x: 1 }, files: ['a.png'], error: null } });
  assert.deepEqual(parseBridgeMessage(bytes('[1,2,3]'), false), { problem: 'bridge message is not a JSON object' });
  assert.ok('problem' in parseBridgeMessage(bytes('{"type":"other"}'), false));
  assert.ok('problem' in parseBridgeMessage(bytes('not json at'), false));
});

test('BridgeBudget: bytes, messages and refusals each cut off once, naming the budget and its value', () => {
  const budget = new BridgeBudget({ maxInboundBytes: 100, maxMessages: 3, maxRefusedConnections: 2 });
  assert.equal(budget.chargeMessage(60), null);
  assert.match(budget.chargeMessage(60) ?? '', /more than maxBridgeInboundBytes \(100 bytes\)/);
  assert.equal(budget.chargeMessage(1), null, 'said once');
  const messages = new BridgeBudget({ maxInboundBytes: 1e9, maxMessages: 3, maxRefusedConnections: 2 });
  for (let i = 0; i < 3; i++) assert.equal(messages.chargeMessage(1), null);
  assert.match(messages.chargeMessage(1) ?? '', /maxBridgeMessages \(3 messages\)/);
  const refusals = new BridgeBudget({ maxInboundBytes: 1e9, maxMessages: 3, maxRefusedConnections: 2 });
  assert.equal(refusals.chargeRefusal(), null);
  assert.equal(refusals.chargeRefusal(), null);
  assert.match(refusals.chargeRefusal() ?? '', /maxBridgeRefusedConnections \(2\)/);
});

test('CpuShare: a burst is free, more must rest until the share allows again', () => {
  let now = 0;
  const share = new CpuShare(0.1, 250, () => now);
  assert.equal(share.charge(200), 0);
  assert.equal(share.charge(100), 500); // 50 ms over the burst, at 10 % of the thread: 500 ms of rest
  now += 500;
  assert.equal(share.charge(0), 0);
  now += 10_000;
  assert.equal(share.charge(250), 0, 'an idle bridge has its whole burst back');
});
