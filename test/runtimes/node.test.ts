// What the Node prelude promises the code (docs/protocol.md, "Inside the sandbox"), through a real daemon:
// HTTP for code without tools, a raw WebSocket client where tools must be answered.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { b64, postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RawClient, type ToolHandler } from '../helpers/ws-client.js';

let d: TestDaemon;
let client: RawClient;
before(async () => {
  d = await startDaemon();
  client = await RawClient.connect(d.wsUrl);
});
after(async () => {
  client.close();
  await d.close();
});

// Runs Node code over HTTP and returns the execution result.
async function run(code: string, files: Array<{ path: string; content: string }> = []): Promise<any> {
  const { status, body } = await postExecution(d.url, { runtime: 'node', code, files, timeoutMs: 30_000 });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

// The `file:line:column` of each stack frame of a traceback, in order.
function locations(traceback: string): string[] {
  const frames = traceback.split('\n').filter((line) => /^\s+at /.test(line));
  return frames.map((line) => /\(?([^\s()]+:\d+:\d+)\)?$/.exec(line)?.[1] ?? line.trim());
}

const params = (...names: string[]) => ({ type: 'object', properties: Object.fromEntries(names.map((n) => [n, {}])) });
const tool = (name: string, ...names: string[]) => ({ name, description: name, parameters: params(...names) });

// A handler that answers nothing until `count` calls are waiting, then answers them all, the last one first.
function gate(count: number, answered: number[]): ToolHandler {
  const waiting: Array<() => void> = [];
  return (args) =>
    new Promise((resolve) => {
      waiting.push(() => {
        answered.push(args.n);
        resolve(args.n * 10);
      });
      if (waiting.length === count) for (const open of waiting.reverse()) open();
    });
}

describe('the program', () => {
  test('top-level await and return; setResult wins over return; no result is null', async () => {
    const awaited = await run('const x = await new Promise((r) => setTimeout(() => r(20), 10));\nreturn x + 1;');
    assert.deepEqual([awaited.status, awaited.result, awaited.exitCode], ['ok', 21, 0]);
    assert.equal((await run('setResult("explicit");\nreturn "returned";')).result, 'explicit');
    const none = await run('const unused = 1;');
    assert.deepEqual([none.status, none.result, none.error], ['ok', null, null]);
    assert.equal((await run('return undefined')).result, null);
  });

  test('require and import() of built-ins, input files and a package in node_modules', async () => {
    const files = [
      { path: 'helper.js', content: b64('exports.twice = (n) => n * 2;\n') },
      { path: 'lib/util.mjs', content: b64('export const shout = (s) => s.toUpperCase() + "!";\n') },
      { path: 'node_modules/foo/package.json', content: b64('{"name": "foo", "main": "index.js"}') },
      { path: 'node_modules/foo/index.js', content: b64('module.exports = { name: "foo-pkg" };\n') },
    ];
    const code = [
      'const fs = require("node:fs");',
      'const path = await import("node:path");',
      'const { shout } = await import("./lib/util.mjs");',
      'return [typeof fs.readFileSync, path.join("a", "b"), require("./helper.js").twice(21), shout("hi"),',
      '  require("foo").name, (await import("foo")).default.name, process.cwd(), __filename, require.main === module];',
    ].join('\n');
    const body = await run(code, files);
    assert.equal(body.status, 'ok', JSON.stringify(body.error));
    assert.deepEqual(body.result, ['function', 'a/b', 42, 'HI!', 'foo-pkg', 'foo-pkg', '/workspace', '/workspace/main.js', true]);
    assert.equal(body.stderr, '', 'the loader behind import() warns nothing');
  });

  test('console.log prints as Node does, console.error goes to stderr, unicode survives', async () => {
    const code = [
      'console.log({ a: 1, b: [1, 2, { c: "s" }], d: null });',
      'console.log([1, "two", [3]], new Map([["k", 1]]), { a: { b: { c: { d: 1 } } } });',
      'console.log("%s=%d", "n", 5, "héllo ✓ 🎉");',
      'console.error("oops", 42);',
    ].join('\n');
    const body = await run(code);
    assert.equal(body.stdout, "{ a: 1, b: [ 1, 2, { c: 's' } ], d: null }\n[ 1, 'two', [ 3 ] ] Map(1) { 'k' => 1 } { a: { b: { c: [Object] } } }\nn=5 héllo ✓ 🎉\n");
    assert.equal(body.stderr, 'oops 42\n');
  });

  test('the bridge settings are not in the environment, not even a child\'s', async () => {
    const code = [
      'const child = require("node:child_process").execFileSync(process.execPath, ["-e", "console.log(Object.keys(process.env).join())"]);',
      'return [Object.keys(process.env).filter((k) => k.startsWith("RUNBOX")), String(child).includes("RUNBOX")];',
    ].join('\n');
    assert.deepEqual((await run(code)).result, [[], false]);
  });

  test('the prelude\'s files are all loaded from /runbox/node before the code, which cannot change them', async () => {
    const code = [
      'const fs = require("node:fs");',
      'let write;',
      'try { fs.writeFileSync("/runbox/node/prelude/bridge.cjs", "planted"); write = "written"; } catch (err) { write = err.code; }',
      'return [Object.keys(require.cache).sort(), write];',
    ].join('\n');
    const [loaded, write] = (await run(code)).result;
    const modules = ['bridge', 'errors', 'jsonable', 'namespace', 'program', 'protocol', 'warm-up', 'websocket'];
    assert.deepEqual(loaded, ['/runbox/node/prelude.cjs', ...modules.map((name) => `/runbox/node/prelude/${name}.cjs`)]);
    assert.ok(['EROFS', 'EACCES'].includes(write), write);
  });

  test('output that looks like a `done` message cannot forge the result', async () => {
    const forged = JSON.stringify({ type: 'done', result: 'forged', files: [], error: null });
    const code = `console.log(${JSON.stringify(forged)});\nconsole.error(${JSON.stringify(forged)});\nreturn "real";`;
    const body = await run(code);
    assert.deepEqual([body.status, body.result, body.stdout, body.stderr], ['ok', 'real', `${forged}\n`, `${forged}\n`]);
  });
});

describe('errors and tracebacks', () => {
  test('nested functions: the user\'s lines in main.js, no prelude or Node internals', async () => {
    const body = await run('function a() {\n  throw new Error("deep");\n}\nfunction b() { a(); }\nb();');
    assert.deepEqual([body.status, body.error.type, body.error.message, body.exitCode], ['error', 'Error', 'deep', 1]);
    assert.deepEqual(locations(body.error.traceback), ['/workspace/main.js:2:9', '/workspace/main.js:4:16', '/workspace/main.js:5:1']);
    assert.match(body.error.traceback, /^Error: deep\n/);
  });

  test('async functions and timer callbacks keep the user\'s lines', async () => {
    const awaited = await run('async function load() {\n  await null;\n  throw new TypeError("async boom");\n}\nawait load();');
    assert.equal(awaited.error.type, 'TypeError');
    assert.deepEqual(locations(awaited.error.traceback), ['/workspace/main.js:3:9', '/workspace/main.js:5:1']);
    const timer = await run('function explode() {\n  throw new RangeError("later");\n}\nsetTimeout(() => explode(), 5);\nreturn 1;');
    assert.deepEqual([timer.status, timer.error.type, timer.error.message, timer.result], ['error', 'RangeError', 'later', 1]);
    assert.deepEqual(locations(timer.error.traceback), ['/workspace/main.js:2:9', '/workspace/main.js:4:18']);
  });

  test('an error thrown while requiring a helper shows both files and no node:internal frames', async () => {
    const files = [{ path: 'bad.js', content: b64('// a helper\nthrow new Error("helper failed");\n') }];
    const body = await run('// uses the helper\nrequire("./bad.js");', files);
    assert.equal(body.error.message, 'helper failed');
    assert.deepEqual(locations(body.error.traceback), ['/workspace/bad.js:2:7', '/workspace/main.js:2:1']);
    assert.doesNotMatch(body.error.traceback, /node:internal|prelude/);
  });

  test('a SyntaxError names the user\'s line; a static import says what to use instead', async () => {
    const body = await run('const x = 1;\nconst = 2;');
    assert.deepEqual([body.status, body.error.type], ['error', 'SyntaxError']);
    assert.equal(body.error.message, "Unexpected token '=' (main.js, line 2)");
    assert.match(body.error.traceback, /^\/workspace\/main\.js:2\nconst = 2;\n/);
    const esm = await run('const a = 1;\nimport fs from "node:fs";');
    assert.equal(esm.error.message, 'Cannot use import statement outside a module (main.js, line 2): the code runs as a script; use `await import("…")` or `require("…")`');
  });

  test('non-Error throws, Error subclasses and a shebang line', async () => {
    assert.deepEqual((await run('throw "x"')).error, { type: 'Error', message: 'x', traceback: '' });
    assert.deepEqual((await run('throw { code: 1 }')).error, { type: 'Error', message: '{ code: 1 }', traceback: '' });
    const mine = await run('class MyError extends Error {}\nthrow new MyError("mine");');
    assert.deepEqual([mine.error.type, mine.error.message], ['MyError', 'mine']);
    const shebang = await run('#!/usr/bin/env node\nnull.x;');
    assert.equal(shebang.error.type, 'TypeError');
    assert.deepEqual(locations(shebang.error.traceback), ['/workspace/main.js:2:6']);
  });

  test('the result set before an error is still returned', async () => {
    const body = await run('setResult({ kept: true });\nthrow new Error("after");');
    assert.deepEqual([body.status, body.result, body.error.message], ['error', { kept: true }, 'after']);
  });
});

describe('how the program ends', () => {
  test('process.exit(0) is ok and keeps the result and the output written just before', async () => {
    const body = await run('process.stdout.write("x".repeat(200000));\nsetResult({ saved: 1 });\nprocess.exit(0);\nconsole.log("never");');
    assert.deepEqual([body.status, body.exitCode, body.error, body.result], ['ok', 0, null, { saved: 1 }]);
    assert.equal(body.stdout, 'x'.repeat(200000));
  });

  test('process.exit(3) and process.exitCode = 2 end with ExitCode (as docs/errors.md says)', async () => {
    const exit = await run('console.log("x");\nprocess.exit(3);');
    assert.deepEqual([exit.status, exit.exitCode, exit.error.type, exit.error.message], ['error', 3, 'ExitCode', 'process.exit(3)']);
    assert.deepEqual(locations(exit.error.traceback), ['/workspace/main.js:2:9']);
    const exitCode = await run('process.exitCode = 2;\nreturn 7;');
    assert.deepEqual([exitCode.status, exitCode.exitCode, exitCode.error.type, exitCode.result], ['error', 2, 'ExitCode', 7]);
  });

  test('an unhandled rejection after the body fails the execution', async () => {
    const body = await run('setTimeout(() => Promise.reject(new Error("late")), 10);\nreturn 5;');
    assert.deepEqual([body.status, body.error.type, body.error.message, body.result, body.exitCode], ['error', 'Error', 'late', 5, 1]);
    assert.deepEqual(locations(body.error.traceback), ['/workspace/main.js:1:33']);
  });

  test('pending timers run before the result, as `node main.js` would; an await that never settles is an error', async () => {
    const body = await run('setTimeout(() => { console.log("timer"); setResult("from timer"); }, 50);\nconsole.log("body");\nreturn "body";');
    assert.deepEqual([body.status, body.result, body.stdout], ['ok', 'from timer', 'body\ntimer\n']);
    const stuck = await run('await new Promise(() => {});');
    assert.deepEqual([stuck.status, stuck.error.type], ['error', 'UnsettledAwait']);
  });
});

describe('result conversion', () => {
  test('values JSON cannot encode are converted', async () => {
    const code = `return {
      undef: undefined, list: [undefined, NaN, Infinity, -Infinity], small: 10n, big: 2n ** 64n,
      map: new Map([["a", 1], [2, new Set(["x", "y"])]]), set: new Set([3, 1]), date: new Date(0),
      text: Buffer.from("héllo"), bytes: Buffer.from([255, 0, 1]), u8: new Uint8Array([1, 2, 3]),
      f64: new Float64Array([0.5, NaN]), error: new RangeError("too far"), custom: { toJSON: () => ({ custom: true }) },
    };`;
    const body = await run(code);
    assert.equal(body.status, 'ok', JSON.stringify(body.error));
    assert.deepEqual(body.result, {
      list: [null, null, null, null], small: 10, big: '18446744073709551616', map: { a: 1, 2: ['x', 'y'] }, set: [3, 1],
      date: '1970-01-01T00:00:00.000Z', text: 'héllo', bytes: '/wAB', u8: [1, 2, 3], f64: [0.5, null],
      error: { name: 'RangeError', message: 'too far' }, custom: { custom: true },
    });
  });

  test('a cycle, or nesting deeper than 200, is a ResultError naming where', async () => {
    const cycle = await run('const a = { x: 1 };\na.self = a;\nreturn a;');
    assert.deepEqual([cycle.status, cycle.result], ['error', null]);
    assert.deepEqual(cycle.error, { type: 'ResultError', message: 'the result cannot be sent: result.self: it contains a circular reference', traceback: '' });
    const nest = (levels: number) => `let v = "deep";\nfor (let i = 0; i < ${levels}; i++) v = [v];\nreturn v;`;
    const deep = await run(nest(201));
    assert.equal(deep.error?.type, 'ResultError');
    assert.equal(deep.error.message, `the result cannot be sent: result${'[0]'.repeat(200)}: it nests deeper than 200 levels`);
    const fits = await run(nest(200));
    assert.equal(fits.status, 'ok', JSON.stringify(fits.error));
    assert.equal(JSON.stringify(fits.result), `${'['.repeat(200)}"deep"${']'.repeat(200)}`);
  });
});

describe('tools over the WebSocket', () => {
  const tools = [tool('orders', 'user_id', 'limit'), tool('echo_data', 'data'), tool('gate', 'n'), tool('fail')];
  before(() => {
    client.handlers.orders = (args) => args;
    client.handlers.echo_data = (args) => args;
    client.handlers.fail = () => {
      throw new Error('the warehouse is closed');
    };
  });

  test('positional arguments bind to the declared parameters in order; one plain object is the arguments', async () => {
    const code = [
      'const out = [await orders(7, 5), await orders(7), await orders(7, undefined), await orders({ user_id: 8, limit: 2 }),',
      '  await echo_data({ foo: 1 }), await orders()];',
      'try { await orders(1, 2, 3); } catch (err) { out.push([err.name, err.message]); }',
      'return out;',
    ].join('\n');
    const result = await client.execute({ id: 'bind', runtime: 'node', code, tools });
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    assert.deepEqual(result.result, [
      { user_id: 7, limit: 5 }, { user_id: 7 }, { user_id: 7 }, { user_id: 8, limit: 2 }, { data: { foo: 1 } }, {},
      ['TypeError', 'orders() takes at most 2 (user_id, limit), received 3; or pass one object of named arguments'],
    ]);
    assert.equal(result.toolCalls, 6, 'the call with too many arguments never left the sandbox');
    assert.deepEqual(client.of('bind').toolCalls.map((c) => c.name), ['orders', 'orders', 'orders', 'orders', 'echo_data', 'orders']);
  });

  test('ToolError carries the tool\'s message, .tool and .code', async () => {
    const code = [
      'const caught = [];',
      'for (const call of [() => fail(), () => callTool("missing", {})]) {',
      '  try { await call(); } catch (err) { caught.push([err instanceof ToolError, err.name, err.message, err.tool, err.code]); }',
      '}',
      'return caught;',
    ].join('\n');
    const result = await client.execute({ id: 'tool-error', runtime: 'node', code, tools });
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    assert.deepEqual(result.result[0], [true, 'ToolError', 'the warehouse is closed', 'fail', 'tool_error']);
    assert.deepEqual(result.result[1].slice(0, 2), [true, 'ToolError']);
    assert.match(result.result[1][2], /unknown tool "missing"/);
    assert.deepEqual(result.result[1].slice(3), ['missing', 'unknown_tool']);
    const http = await run('try { await callTool("x", {}); } catch (err) { return [err.name, err.tool, err.code]; }');
    assert.deepEqual(http.result, ['ToolError', 'x', 'no_client']);
  });

  test('Promise.all over tool functions has every call in flight at once; results stay in order', async () => {
    const answered: number[] = [];
    client.handlers.gate = gate(4, answered);
    const result = await client.execute({ id: 'all', runtime: 'node', code: 'return await Promise.all([1, 2, 3, 4].map((n) => gate(n)));', tools, timeoutMs: 20_000 });
    assert.deepEqual([result.status, result.result], ['ok', [10, 20, 30, 40]]);
    assert.deepEqual(answered, [4, 3, 2, 1], 'the handler answered last call first');
  });

  test('callToolsParallel: results in call order; a failure rejects with the tool\'s ToolError after all calls', async () => {
    const answered: number[] = [];
    client.handlers.gate = gate(3, answered);
    const code = [
      'const results = await callToolsParallel([["gate", { n: 1 }], ["gate", { n: 2 }], ["gate", { n: 3 }]]);',
      'const failure = await callToolsParallel([["orders", { user_id: 1 }], ["fail", {}], ["echo_data", {}]]).catch((err) => err);',
      'return [results, failure instanceof ToolError, failure.message, failure.tool];',
    ].join('\n');
    const result = await client.execute({ id: 'parallel', runtime: 'node', code, tools, timeoutMs: 20_000 });
    assert.deepEqual([result.status, result.result], ['ok', [[10, 20, 30], true, 'the warehouse is closed', 'fail']]);
    assert.deepEqual(answered, [3, 2, 1]);
    assert.deepEqual(client.of('parallel').toolCalls.slice(3).map((c) => c.name), ['orders', 'fail', 'echo_data']);
  });

  test('tools whose names are not free identifiers are reached through callTool only', async () => {
    const named = [tool('weather.get', 'city'), tool('delete'), tool('console'), tool('setResult')];
    client.handlers['weather.get'] = (args) => ({ city: args.city, celsius: 21 });
    client.handlers.delete = () => 'deleted';
    client.handlers.console = () => 'console tool';
    client.handlers.setResult = () => 'setResult tool';
    const code = [
      'console.log("still the console");',
      'const answers = [await callTool("weather.get", { city: "Oslo" }), await callTool("delete"),',
      '  await callTool("console", {}), await callTool("setResult", {}), typeof globalThis["weather.get"]];',
      'setResult(answers);',
    ].join('\n');
    const result = await client.execute({ id: 'names', runtime: 'node', code, tools: named });
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    assert.deepEqual(result.result, [{ city: 'Oslo', celsius: 21 }, 'deleted', 'console tool', 'setResult tool', 'undefined']);
    assert.equal(result.stdout, 'still the console\n');
    assert.equal(client.of('names').stdout, 'still the console\n', 'the output streamed too');
  });
});
