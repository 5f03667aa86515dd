// The parser of what the prelude sends (hostile: it runs beside the code): the envelope read without parsing the
// payload, depth refused before anything is built, and every malformed message a problem, never an exception.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBridgeMessage } from '../../daemon/bridge/messages.js';
import { PROTOCOL } from '../../daemon/protocol.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const bytes = (text: string) => Buffer.from(text);

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
  assert.deepEqual(done.message.read(), { value: { result: { x: 1 }, files: ['a.png'], error: null, exitCode: null } });
  // exitCode is kept only as an exit status: an integer 0–255 (else the execution waits for the exit).
  for (const [raw, expected] of [['3', 3], ['0', 0], ['255', 255], ['256', null], ['-1', null], ['1.5', null], ['"0"', null], ['null', null]] as const) {
    const withCode = parseBridgeMessage(bytes(`{"type":"done","result":null,"files":[],"error":null,"exitCode":${raw}}`), false);
    assert.ok('message' in withCode && withCode.message.type === 'done');
    const read = withCode.message.read();
    assert.equal('value' in read && read.value.exitCode, expected, raw);
  }
  assert.deepEqual(parseBridgeMessage(bytes('[1,2,3]'), false), { problem: 'bridge message is not a JSON object' });
  assert.ok('problem' in parseBridgeMessage(bytes('{"type":"other"}'), false));
  assert.ok('problem' in parseBridgeMessage(bytes('not json at'), false));
});
