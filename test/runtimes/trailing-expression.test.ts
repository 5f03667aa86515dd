// A trailing expression is the result when the code set none (docs/protocol.md, "Inside the sandbox"), in both
// runtimes, through a real daemon and real sandboxed interpreters.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d.close();
});

// Runs code over HTTP and returns the execution result.
async function run(runtime: 'python' | 'node', code: string): Promise<any> {
  const { status, body } = await postExecution(d.url, { runtime, code, timeoutMs: 20000 });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

const ok = (body: any) => assert.equal(body.status, 'ok', JSON.stringify(body));

// The [file, line] of each frame of a Python traceback.
const pythonFrames = (traceback: string) => [...traceback.matchAll(/File "([^"]+)", line (\d+)/g)].map((m) => [m[1], Number(m[2])]);

describe('Python', () => {
  test('the last line `x + y` is the result; `a; b` gives b, and a runs', async () => {
    const body = await run('python', 'x = 2\ny = 40\nx + y');
    ok(body);
    assert.equal(body.result, 42);
    const both = await run('python', 'x = 1\nprint("a ran"); x + 1; x + 2');
    ok(both);
    assert.deepEqual([both.result, both.stdout], [3, 'a ran\n']);
  });

  test('a pandas df.describe() comes back converted as set_result would convert it, row labels included', async () => {
    const code = 'import pandas as pd\ndf = pd.DataFrame({"v": [1.0, 2.0, 3.0]})\n';
    const trailing = await run('python', `${code}df.describe()`);
    const explicit = await run('python', `${code}set_result(df.describe())`);
    ok(trailing);
    ok(explicit);
    assert.deepEqual(trailing.result, explicit.result);
    // the row labels are the records' leading "index" field: a model can tell count from mean
    assert.deepEqual(trailing.result, [
      { index: 'count', v: 3 }, { index: 'mean', v: 2 }, { index: 'std', v: 1 }, { index: 'min', v: 1 },
      { index: '25%', v: 1.5 }, { index: '50%', v: 2 }, { index: '75%', v: 2.5 }, { index: 'max', v: 3 },
    ]);
    assert.deepEqual(Object.keys(trailing.result[0]), ['index', 'v']);
    // a value JSON cannot hold goes through the same fallback: its repr
    const opaque = await run('python', 'class Opaque:\n    def __repr__(self):\n        return "<Opaque 7>"\nOpaque()');
    ok(opaque);
    assert.equal(opaque.result, '<Opaque 7>');
  });

  test('a None value (print) or matplotlib objects give no result, and keep an earlier set_result', async () => {
    const printed = await run('python', 'x = 5\nprint(x)');
    ok(printed);
    assert.deepEqual([printed.result, printed.stdout], [null, '5\n']);
    const drawing = await run('python', 'import matplotlib.pyplot as plt\nplt.plot([1, 2])');
    ok(drawing);
    assert.equal(drawing.result, null); // a list of Line2D: drawing, whose figure comes back as a file
    const kept = await run('python', 'set_result({"kept": True})\nprint("done")');
    ok(kept);
    assert.deepEqual(kept.result, { kept: true });
  });

  test('set_result wins over a trailing expression; a return that ran wins too', async () => {
    const setWins = await run('python', 'set_result("chosen")\n"ignored"');
    ok(setWins);
    assert.equal(setWins.result, 'chosen');
    const returnWins = await run('python', 'if True:\n    return "returned"\n"never reached"');
    ok(returnWins);
    assert.equal(returnWins.result, 'returned');
  });

  test('an expression inside an if block or a for loop is not a result; a lone string is the docstring', async () => {
    const inIf = await run('python', 'x = 3\nif x > 1:\n    x * 2');
    ok(inIf);
    assert.equal(inIf.result, null);
    const inFor = await run('python', 'for i in range(3):\n    i');
    ok(inFor);
    assert.equal(inFor.result, null);
    const docstring = await run('python', '"""Only a docstring."""');
    ok(docstring);
    assert.equal(docstring.result, null);
    const laterString = await run('python', 'x = 1\n"a string after code"');
    ok(laterString);
    assert.equal(laterString.result, 'a string after code');
  });

  test('a multi-line trailing expression and a trailing await', async () => {
    const multi = await run('python', 'a = 1\n{\n    "a": a,\n    "b": [a + 1,\n          a + 2],\n}');
    ok(multi);
    assert.deepEqual(multi.result, { a: 1, b: [2, 3] });
    const awaited = await run('python', 'import asyncio\nasync def main():\n    await asyncio.sleep(0)\n    return "slept"\nawait main()');
    ok(awaited);
    assert.equal(awaited.result, 'slept');
  });

  test('a failing trailing expression points at its own line; a conversion error too', async () => {
    const failing = await run('python', 'x = 0\n\n# a comment\n1 / x');
    assert.equal(failing.status, 'error');
    assert.equal(failing.error.type, 'ZeroDivisionError');
    assert.deepEqual(pythonFrames(failing.error.traceback), [['main.py', 4]]);
    assert.match(failing.error.traceback, /1 \/ x/);
    const deep = await run('python', 'x = []\nx.append(x)\n\nx');
    assert.equal(deep.status, 'error');
    assert.equal(deep.error.type, 'ResultError');
    assert.deepEqual(pythonFrames(deep.error.traceback), [['main.py', 4]]);
  });

  test('a syntax error is reported as before, with its line', async () => {
    const body = await run('python', 'x = 1\ny = (\n1 +');
    assert.equal(body.status, 'error');
    assert.equal(body.error.type, 'SyntaxError');
    assert.match(body.error.traceback, /File "main\.py", line 2/);
    const compileStage = await run('python', 'x = 1\nbreak\nx');
    assert.equal(compileStage.error.type, 'SyntaxError');
    assert.match(compileStage.error.traceback, /line 2\n\s+break\n/);
  });
});

describe('Node', () => {
  test('the last line `x + y` is the result; `a; b` gives b, and a runs', async () => {
    const body = await run('node', 'const x = 2, y = 40;\nx + y');
    ok(body);
    assert.equal(body.result, 42);
    const both = await run('node', 'let x = 1\nconsole.log("a ran"); x + 1; x + 2 // last');
    ok(both);
    assert.deepEqual([both.result, both.stdout], [3, 'a ran\n']);
  });

  test('undefined (console.log) gives no result and keeps an earlier setResult; an assignment is no result', async () => {
    const logged = await run('node', 'const x = 5\nconsole.log(x)');
    ok(logged);
    assert.deepEqual([logged.result, logged.stdout], [null, '5\n']);
    const kept = await run('node', 'setResult({ kept: true }, [])\nconsole.log("done")');
    ok(kept);
    assert.deepEqual(kept.result, { kept: true });
    const assigned = await run('node', 'let total = 0\ntotal = 7');
    ok(assigned);
    assert.equal(assigned.result, null);
  });

  test('setResult wins over a trailing expression; a return that ran wins too', async () => {
    const setWins = await run('node', 'setResult("chosen", [])\n"ignored"');
    ok(setWins);
    assert.equal(setWins.result, 'chosen');
    const returnWins = await run('node', 'if (true) return "returned"\n"never reached"');
    ok(returnWins);
    assert.equal(returnWins.result, 'returned');
  });

  test('an expression inside an if block or a for loop is not a result; a directive is not one', async () => {
    for (const code of ['const x = 3\nif (x > 1) { x * 2 }', 'for (const i of [1, 2]) i', '"use strict"']) {
      const body = await run('node', code);
      ok(body);
      assert.equal(body.result, null, code);
    }
  });

  test('a multi-line trailing expression, an object literal, a trailing await and a Promise resolve', async () => {
    const multi = await run('node', 'const a = 1;\n// the answer:\n({\n  a,\n  b: [a + 1,\n      a + 2],\n})');
    ok(multi);
    assert.deepEqual(multi.result, { a: 1, b: [2, 3] });
    const awaited = await run('node', 'const wait = (ms) => new Promise((r) => setTimeout(() => r(ms), ms))\nawait wait(5)');
    ok(awaited);
    assert.equal(awaited.result, 5);
    const promised = await run('node', 'async function main() {\n  return { rows: 3 }\n}\nmain()');
    ok(promised);
    assert.deepEqual(promised.result, { rows: 3 });
    const hashbang = await run('node', '#!/usr/bin/env node\n6 * 7');
    ok(hashbang);
    assert.equal(hashbang.result, 42);
  });

  test('a failing trailing expression points at its own line and column', async () => {
    const body = await run('node', 'const x = null\n\n// a comment\n  x.missing');
    assert.equal(body.status, 'error');
    assert.equal(body.error.type, 'TypeError');
    assert.match(body.error.traceback, /main\.js:4:5\b/);
    const first = await run('node', 'null.first'); // V8 points at the property
    assert.match(first.error.traceback, /main\.js:1:6\b/);
  });

  test('a syntax error is reported as before, with its line', async () => {
    const body = await run('node', 'const x = 1\nconst y = (\n1 +');
    assert.equal(body.status, 'error');
    assert.equal(body.error.type, 'SyntaxError');
    assert.match(body.error.traceback, /main\.js:4/);
    const declared = await run('node', 'let a = 1\nlet a = 2\na');
    assert.equal(declared.error.type, 'SyntaxError');
    assert.match(declared.error.traceback, /main\.js:2/);
  });
});
