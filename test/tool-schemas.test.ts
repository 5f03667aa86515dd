// The schema checks of tool calls, pure: messages naming the field and the rule, what hostile arguments can make a
// check cost (patterns on a linear-time engine, uniqueItems in one pass), schemas refused at compile, the cache.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { checkValue, SchemaCompiler } from '../daemon/tool-schemas.js';

const compiler = new SchemaCompiler();
const userSchema = {
  type: 'object',
  properties: { user_id: { type: 'string' }, orders: { type: 'array', items: { type: 'object', properties: { 'total sum': { type: 'number', minimum: 0 } } } } },
  required: ['user_id'],
  additionalProperties: false,
};

test('a failure names the tool, the field path as code writes it, and the rule', () => {
  const validate = compiler.compile(userSchema);
  const check = (value: unknown) => checkValue(validate, value, 'get_user', 'arguments');
  assert.equal(check({ user_id: 'u1' }), null);
  assert.equal(check({ user_id: 7 }), 'get_user: arguments.user_id must be string (type)');
  assert.equal(check({}), "get_user: arguments must have required property 'user_id' (required)");
  assert.equal(check({ user_id: 'u', orders: [{}, { 'total sum': -1 }] }), 'get_user: arguments.orders[1]["total sum"] must be >= 0 (minimum)');
  assert.equal(check({ user_id: 'u', extra: 1 }), 'get_user: arguments must NOT have additional properties (additionalProperties: "extra")');
  assert.equal(checkValue(validate, [], 'get_user', 'result'), 'get_user: result must be object (type)');
  // A hostile key is cut in the message.
  const long = checkValue(validate, { user_id: 'u', ['k'.repeat(10_000)]: 1 }, 'get_user', 'arguments') ?? '';
  assert.ok(long.length < 200, long);
});

test('patterns run in linear time: ^(a+)+$ against 50,000 a\'s and a ! finishes in milliseconds', () => {
  const validate = compiler.compile({ type: 'object', properties: { id: { type: 'string', pattern: '^(a+)+$' } }, patternProperties: { '^(b+)+$': { type: 'number' } } });
  const hostile = `${'a'.repeat(50_000)}!`;
  checkValue(validate, { id: 'aaa!' }, 't', 'arguments'); // the engine's first use compiles it (JIT)
  const started = performance.now();
  assert.equal(checkValue(validate, { id: hostile }, 't', 'arguments'), 't: arguments.id must match pattern "^(a+)+$" (pattern)');
  assert.match(checkValue(validate, { [`${'b'.repeat(50_000)}`]: 'x' }, 't', 'arguments') ?? '', /must be number \(type\)/);
  assert.equal(checkValue(validate, { id: 'a'.repeat(50_000) }, 't', 'arguments'), null);
  const ms = performance.now() - started;
  console.log(`# three checks of 50,000-character strings against catastrophic patterns: ${ms.toFixed(2)} ms`);
  // Generous: a backtracking engine would not finish this in years (it doubles with each character).
  assert.ok(ms < 1000, `${ms} ms`);
});

test('uniqueItems is one pass (20,000 distinct objects), and finds duplicates whatever their key order', () => {
  const validate = compiler.compile({ type: 'array', uniqueItems: true });
  const distinct = Array.from({ length: 20_000 }, (_, i) => ({ i }));
  const started = performance.now();
  assert.equal(checkValue(validate, distinct, 't', 'arguments'), null);
  const ms = performance.now() - started;
  console.log(`# uniqueItems over 20,000 objects: ${ms.toFixed(2)} ms (ajv's pairwise check: about 7 s)`);
  assert.ok(ms < 2000, `${ms} ms`);
  assert.equal(checkValue(validate, [1, '1', { a: 1, b: [2] }, { b: [2], a: 1 }], 't', 'arguments'), 't: arguments must NOT have duplicate items (items ## 2 and 3 are identical) (uniqueItems)');
  assert.equal(checkValue(validate, [1, '1', null, 'null', [1], ['1']], 't', 'arguments'), null);
});

test('schemas that do not compile are refused with ajv\'s reason; patterns beyond RE2 syntax too', () => {
  assert.throws(() => compiler.compile({ type: 'strin' }), /^Error: schema is invalid: data\/type must be equal to one of the allowed values/);
  assert.throws(() => compiler.compile({ type: 'string', pattern: '(a)\\1' }), /pattern "\(a\)\\\\1" is not supported \(the daemon matches patterns in linear time with RE2 syntax/);
  assert.throws(() => compiler.compile({ $ref: '#/$defs/missing' }), /can't resolve reference/);
  assert.throws(() => compiler.compile({ $schema: 'http://json-schema.org/draft-04/schema#' }), /no schema with key or ref/);
});

test('draft-07 and 2020-12 schemas compile; $id may repeat across tools; formats are not checked', () => {
  const a = compiler.compile({ $schema: 'http://json-schema.org/draft-07/schema#', $id: 'user', type: 'string' });
  const b = compiler.compile({ $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'user', type: 'number' });
  assert.equal(a('x'), true);
  assert.equal(b('x'), false);
  assert.equal(compiler.compile({ type: 'string', format: 'email' })('not an email'), true);
});

test('compiled schemas are cached by their text, least recently used dropped first', () => {
  const small = new SchemaCompiler(2);
  const one = small.compile({ type: 'string' });
  assert.equal(small.compile({ type: 'string' }), one, 'the same text gets the same validator');
  small.compile({ type: 'number' });
  small.compile({ type: 'string' }); // used again: now the most recent
  small.compile({ type: 'boolean' }); // drops number
  assert.equal(small.size, 2);
  assert.equal(small.compile({ type: 'string' }), one);
  const started = performance.now();
  for (let i = 0; i < 256; i++) compiler.compile({ ...userSchema, description: `tool ${i}` });
  const cold = performance.now() - started;
  const again = performance.now();
  for (let i = 0; i < 256; i++) compiler.compile({ ...userSchema, description: `tool ${i}` });
  console.log(`# 256 tool schemas: compiled in ${cold.toFixed(1)} ms, from the cache in ${(performance.now() - again).toFixed(1)} ms`);
});
