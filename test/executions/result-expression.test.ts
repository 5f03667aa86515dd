// The pure finder of Node's trailing expression: what it finds, what it refuses, and that hostile shapes of code
// (deep nesting, past the size cap, not JavaScript) give "no trailing expression", never an exception.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findResultExpression, MAX_RESULT_EXPRESSION_SEARCH } from '../../daemon/executions/result-expression.js';

// The text the prelude wraps: from `start` (inserting `;return (`) to `end` (inserting `)`).
const wrapped = (code: string) => {
  const found = findResultExpression(code);
  return found === null ? null : code.slice(found.start, found.end);
};

test('the last expression statement is found, from the end of the statement before it', () => {
  assert.deepEqual(findResultExpression('const x = 1;\nx + 1'), { start: 12, end: 18 });
  assert.equal(wrapped('let a = 1 // one\n// two\n\n  a * 2; // end'), ' // one\n// two\n\n  a * 2');
  assert.equal(wrapped('a;b'), 'b');
  assert.equal(wrapped('(\n  1 +\n  2\n)'), '(\n  1 +\n  2');
});

test('the first statement starts at 0, after a hashbang or comments', () => {
  assert.deepEqual(findResultExpression('x + y'), { start: 0, end: 5 });
  assert.deepEqual(findResultExpression('#!/usr/bin/env node\n6 * 7'), { start: 0, end: 25 });
  assert.deepEqual(findResultExpression('// hi\nawait main()'), { start: 0, end: 18 });
});

test('await, return and a Promise parse as they run in the prelude\'s async function', () => {
  assert.equal(wrapped('const v = await fetchIt()\nawait v.json()'), '\nawait v.json()');
  assert.equal(wrapped('if (done) return 1\nlater()'), '\nlater()');
});

test('not a result: a declaration, a block, an assignment, an update, a directive, an empty program', () => {
  for (const code of ['const x = 1', 'if (x) { x }', 'for (const i of a) i', 'x = 5', 'total += 1', 'i++', '"use strict"', "'use strict'; 'a'", 'function f() { return 1 }', '', '// only a comment', 'return 5']) {
    assert.equal(findResultExpression(code), null, code);
  }
  assert.equal(wrapped('"use strict";\nx'), '\nx'); // a string after code is an expression, not a directive
});

test('code the parser refuses, nesting deeper than its stack, and code past the cap give null without throwing', () => {
  assert.equal(findResultExpression('const = 1\nx'), null);
  assert.equal(findResultExpression('import x from "y"\nx'), null); // a script: the prelude reports the SyntaxError
  assert.equal(findResultExpression('('.repeat(60_000) + '1' + ')'.repeat(60_000)), null);
  assert.equal(findResultExpression('1' + '+1'.repeat(30_000)), null);
  const long = `${'x;'.repeat(MAX_RESULT_EXPRESSION_SEARCH / 2)}x`;
  assert.equal(findResultExpression(long), null);
  assert.equal(wrapped(long.slice(-100)), 'x');
  assert.deepEqual(findResultExpression('x;y', 2), null);
});

test('offsets are UTF-16 code units, as the prelude slices the string', () => {
  const code = 'const s = "😀é"\ns.length';
  const found = findResultExpression(code);
  assert.ok(found);
  assert.equal(code.slice(found.start, found.end), '\ns.length');
});
