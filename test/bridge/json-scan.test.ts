// The byte scans a bridge message goes through before it is parsed, against hostile text: nesting far past the
// limit, strings that never end, escapes that hide quotes, huge numbers, duplicate keys and bytes that are not
// UTF-8. On valid JSON both scans must agree with JSON.parse (checked on seeded random values); on anything else
// they must end quickly and quietly, since JSON.parse refuses it afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonNestsDeeper, topLevelStrings } from '../../daemon/bridge/json-scan.js';
import { randomValue, Rng, toJsonText } from '../helpers/fuzz.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const bytes = (text: string) => Buffer.from(text);
const fields = (text: string | Buffer) => Object.fromEntries(topLevelStrings(typeof text === 'string' ? bytes(text) : text));

// The nesting depth of a parsed value (the outermost object or array is level 1), without recursion.
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

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

test('jsonNestsDeeper: escapes cannot hide a quote, and sibling containers do not add up', () => {
  // An escaped quote does not end the string, an escaped backslash before a quote does.
  assert.equal(jsonNestsDeeper(bytes(`["\\"${'['.repeat(50)}"]`), 2), false, 'brackets after an escaped quote are still inside the string');
  assert.equal(jsonNestsDeeper(bytes(`["\\\\", ${nested(5)}]`), 5), true, 'brackets after an escaped backslash are outside it');
  assert.equal(jsonNestsDeeper(bytes(`["\\\\\\"${'['.repeat(50)}"]`), 2), false, 'three backslashes: the quote is escaped again');
  // \u0022 is a quote only once decoded: in the text it is six plain bytes inside the string.
  assert.equal(jsonNestsDeeper(bytes(`["\\u0022${'['.repeat(50)}"]`), 2), false);
  // Wide is not deep: ten thousand siblings of depth 2.
  assert.equal(jsonNestsDeeper(bytes(`[${Array(10_000).fill('[1]').join(',')}]`), 2), false);
  assert.equal(jsonNestsDeeper(bytes(`{"a":${'{"b":'.repeat(199)}1${'}'.repeat(199)}}`), 200), false, 'exactly 200 levels of objects');
  assert.equal(jsonNestsDeeper(bytes(`{"a":${'{"b":'.repeat(200)}1${'}'.repeat(200)}}`), 200), true);
});

test('jsonNestsDeeper on text that is not JSON ends at once, whatever it answers', () => {
  // A string that never ends: the scan stops there (JSON.parse refuses the text afterwards).
  assert.equal(jsonNestsDeeper(bytes(`["${'['.repeat(1000)}`), 10), false);
  assert.equal(jsonNestsDeeper(bytes(`${'['.repeat(11)}"never ends`), 10), true, 'deep before the string: found before it');
  assert.equal(jsonNestsDeeper(bytes('"\\'), 1), false, 'a lone backslash at the end');
  // Closers without openers cannot hide later depth from JSON.parse: the text is refused by it anyway.
  const hiding = bytes(`${']'.repeat(1000)}${nested(300)}`);
  assert.throws(() => JSON.parse(hiding.toString()));
  assert.equal(jsonNestsDeeper(bytes(''), 0), false);
  // Bytes that are not UTF-8 are just bytes: no decoding, no exception.
  assert.equal(jsonNestsDeeper(Buffer.from([0x5b, 0xff, 0xfe, 0x22, 0xc3, 0x28, 0x22, 0x5b, 0x5d, 0x5d]), 2), false);
  assert.equal(jsonNestsDeeper(Buffer.from([0x5b, 0xff, 0x5b, 0xed, 0xa0, 0x80, 0x5b]), 2), true);
  // A 50 MB unterminated string costs one native search.
  const started = performance.now();
  assert.equal(jsonNestsDeeper(Buffer.concat([bytes('["'), Buffer.alloc(50_000_000, 'x')]), 2), false);
  assert.ok(performance.now() - started < 2000);
});

test('jsonNestsDeeper agrees with the depth JSON.parse builds, on seeded random values and their deep markers', () => {
  const rng = new Rng(20_261_202);
  for (let i = 0; i < 400; i++) {
    const value = rng.chance(0.5) ? randomValue(rng) : { type: 'tool_call', callId: String(i), args: randomValue(rng) };
    const text = toJsonText(rng, value);
    const depth = depthOf(JSON.parse(text));
    for (const limit of [depth - 1, depth, 200]) {
      if (limit < 0) continue;
      assert.equal(jsonNestsDeeper(bytes(text), limit), depth > limit, `value ${i} (depth ${depth}), limit ${limit}: ${text.slice(0, 120)}`);
    }
  }
});

test('topLevelStrings reads a message\'s own string fields and skips the rest unparsed', () => {
  const text = `{"args": ${nested(5000)}, "type":"tool_call", "n": 3, "o": {"callId": "inner"}, "callId" : "c1", "name":"echo\\u0021"}`;
  assert.deepEqual(fields(text), { type: 'tool_call', callId: 'c1', name: 'echo!' });
  assert.deepEqual(fields('[1,2]'), {});
  assert.deepEqual(fields('{"type":"done", "result": [[[[ '), { type: 'done' });
});

test('topLevelStrings: escapes are decoded, invalid ones and long values are left out, duplicate keys go to the last', () => {
  assert.deepEqual(fields('{"type":"tool_call","callId":"\\u0063\\u0031","name":"a\\"b\\\\"}'), { type: 'tool_call', callId: 'c1', name: 'a"b\\' });
  assert.deepEqual(fields('{"bad":"\\x41","type":"done"}'), { type: 'done' }, 'an invalid escape drops that field only');
  assert.deepEqual(fields('{"lone":"\\ud800","type":"done"}'), { lone: '\ud800', type: 'done' }, 'a lone surrogate is a string like any');
  assert.deepEqual(fields(`{"callId":"${'x'.repeat(2000)}","type":"done"}`), { type: 'done' }, 'a long value is skipped, not read');
  assert.deepEqual(fields(`{"${'k'.repeat(5000)}":"v","type":"done"}`), { ['k'.repeat(5000)]: 'v', type: 'done' });
  // Duplicates: the last string wins, as with JSON.parse.
  const duplicated = '{"type":"done","callId":"a","type":"tool_call","callId":"b"}';
  assert.deepEqual(fields(duplicated), { type: 'tool_call', callId: 'b' });
  assert.equal(JSON.parse(duplicated).type, 'tool_call');
  // Keys that are special to objects are plain keys of a Map.
  assert.deepEqual([...topLevelStrings(bytes('{"__proto__":"x","constructor":"y","type":"done"}'))], [['__proto__', 'x'], ['constructor', 'y'], ['type', 'done']]);
});

test('topLevelStrings skips huge numbers, literals and deep values, and stops quietly at what is not JSON', () => {
  const numbers = `{"n":1e999999,"m":-${'9'.repeat(100_000)}.5e-7,"t":true,"f":null,"type":"done","deep":{"a":${nested(100_000)}},"name":"x"}`;
  assert.deepEqual(fields(numbers), { type: 'done', name: 'x' });
  assert.deepEqual(fields('{"type":"done" "name":"x"}'), { type: 'done' }, 'a missing comma ends the scan');
  assert.deepEqual(fields('{"type" "done"}'), {}, 'a missing colon');
  assert.deepEqual(fields('{type:"done"}'), {}, 'an unquoted key');
  assert.deepEqual(fields('{"type":"done","callId":"never ends'), { type: 'done' });
  assert.deepEqual(fields('{"type'), {});
  assert.deepEqual(fields(''), {});
  assert.deepEqual(fields('   \n\t{ "type" :\r\n "done" }'), { type: 'done' }, 'JSON whitespace anywhere');
  assert.deepEqual(fields('\u00a0{"type":"done"}'), {}, 'a no-break space is not JSON whitespace');
});

test('topLevelStrings on bytes that are not UTF-8: replaced, never thrown, and never a quote', () => {
  const text = Buffer.concat([bytes('{"type":"tool_call","callId":"c'), Buffer.from([0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80]), bytes('","name":"日本語🦀"}')]);
  const read = fields(text);
  assert.equal(read.type, 'tool_call');
  assert.equal(read.name, '日本語🦀', 'multi-byte UTF-8 is read whole (no byte of it is ever a quote or a backslash)');
  assert.match(read.callId, /^c\ufffd+\(\ufffd+$/);
  assert.deepEqual(fields(Buffer.from([0x7b, 0xff, 0x22, 0x74, 0x22, 0x3a, 0x22, 0x64, 0x22, 0x7d])), {}, 'a stray byte before the first key ends the scan');
});

test('topLevelStrings agrees with JSON.parse on the short string fields of seeded random objects', () => {
  const rng = new Rng(42);
  for (let i = 0; i < 400; i++) {
    const value = randomValue(rng);
    const object = typeof value === 'object' && value !== null && !Array.isArray(value) ? value : { type: 'done', result: value, callId: `c${i}` };
    const text = rng.chance(0.3) ? JSON.stringify(object, null, rng.int(1, 4)) : toJsonText(rng, object);
    const expected = Object.entries(JSON.parse(text) as Record<string, unknown>).filter(([, v]) => typeof v === 'string' && Buffer.byteLength(JSON.stringify(v)) <= 1024);
    assert.deepEqual([...topLevelStrings(bytes(text))], expected, `object ${i}: ${text.slice(0, 160)}`);
  }
});
