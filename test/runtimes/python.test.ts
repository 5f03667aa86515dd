// What the Python prelude promises the code (docs/protocol.md "Inside the sandbox", runtimes/python/README.md),
// checked through a real daemon: HTTP where no tool is needed, a raw WebSocket client where one is.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { b64, postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { RawClient, type ToolHandler } from '../helpers/ws-client.js';

let d: TestDaemon;
let client: RawClient;
let nextId = 0;

const props = (...names: string[]) => ({ type: 'object', properties: Object.fromEntries(names.map((n) => [n, {}])) });
const tools = [
  { name: 'get_users', description: 'all users', parameters: props() },
  { name: 'echo', description: 'echoes its arguments', parameters: props('a', 'b', 'c') },
  { name: 'fail', description: 'always fails', parameters: props() },
  { name: 'gate', description: 'answers once enough calls are waiting', parameters: props('n') },
  { name: 'blob', description: 'a result of n bytes', parameters: props('i', 'n') },
  { name: 'weird.name-1', description: 'not an identifier', parameters: props() },
  { name: 'class', description: 'a keyword', parameters: props() },
  { name: '__init__', description: 'a dunder', parameters: props() },
  { name: 'set_result', description: 'a prelude name', parameters: props() },
  { name: 'print', description: 'a builtin', parameters: props() },
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const handlers: Record<string, ToolHandler> = {
  get_users: () => [{ id: 1 }, { id: 2 }],
  echo: async (args) => (args.delayMs ? sleep(args.delayMs).then(() => args) : args),
  fail: async (args) => {
    if (args.delayMs) await sleep(args.delayMs);
    throw new Error('the warehouse is closed');
  },
  blob: (args) => ({ i: args.i, data: 'x'.repeat(args.n) }),
  'weird.name-1': () => 'weird ok',
  class: () => 'keyword ok',
  __init__: () => 'dunder ok',
  set_result: () => 'tool ok',
  print: () => 'builtin ok',
};

// A gate handler: no call is answered until `count` calls are waiting at once, so sequential calls never finish.
function openGateAfter(count: number): void {
  let waiting = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  client.handlers.gate = async (args) => {
    if (++waiting === count) open();
    await opened;
    return args.n * 10;
  };
}

// Runs code over HTTP (no tools) and returns the execution result.
async function run(code: string, extra: Record<string, unknown> = {}): Promise<any> {
  const { status, body } = await postExecution(d.url, { runtime: 'python', code, timeoutMs: 20000, ...extra });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

// Runs code over the WebSocket with the tools above; returns the result message and what the client saw.
async function runWithTools(code: string): Promise<{ result: any; seen: ReturnType<RawClient['of']> }> {
  const id = `py-${++nextId}`;
  const result = await client.execute({ id, runtime: 'python', code, tools, timeoutMs: 20000 });
  return { result, seen: client.of(id) };
}

// The [file, line, function] of each frame of a Python traceback.
function frames(traceback: string): Array<[string, number, string]> {
  return [...traceback.matchAll(/File "([^"]+)", line (\d+), in (\S+)/g)].map((m) => [m[1], Number(m[2]), m[3]]);
}

const ok = (body: any) => assert.equal(body.status, 'ok', JSON.stringify(body));

before(async () => {
  d = await startDaemon();
  client = await RawClient.connect(d.wsUrl);
  client.handlers = { ...handlers };
});
after(async () => {
  client.close();
  await d.close();
});

describe('top-level await and return', () => {
  test('top-level await runs the code under asyncio; return works with it', async () => {
    const body = await run('import asyncio\nawait asyncio.sleep(0)\nvalue = await asyncio.sleep(0.01, result=21)\nset_result(value * 2)');
    ok(body);
    assert.equal(body.result, 42);
    const returned = await run('import asyncio\nreturn {"slept": await asyncio.sleep(0, result=True)}');
    ok(returned);
    assert.deepEqual(returned.result, { slept: true });
  });

  test('a top-level return sets the result, also from inside if and for; a return in a def is the function\'s', async () => {
    const code = [
      'def inner():',
      '    return "inner"',
      'class Box:',
      '    def get(self):',
      '        return "method"',
      'for i in range(10):',
      '    if i == 3:',
      '        return [i, inner(), Box().get(), (lambda: "lambda")()]',
      'print("never reached")',
      'return "too late"',
    ].join('\n');
    const body = await run(code);
    ok(body);
    assert.deepEqual(body.result, [3, 'inner', 'method', 'lambda']);
    assert.equal(body.stdout, '');
  });

  test('set_result wins over return and each call replaces the last; a bare return or no result is null', async () => {
    const won = await run('set_result("first")\nset_result("chosen")\nreturn "ignored"');
    ok(won);
    assert.equal(won.result, 'chosen');
    const bare = await run('print("a")\nreturn\nprint("b")');
    ok(bare);
    assert.deepEqual([bare.result, bare.stdout], [null, 'a\n']);
    const none = await run('x = 1 + 1');
    ok(none);
    assert.deepEqual([none.result, none.exitCode], [null, 0]);
  });
});

describe('names code-mode code uses without importing them', () => {
  test('asyncio, json and the datetime class are there when the code reads them, in functions too', async () => {
    const body = await run('async def twice(x):\n    await asyncio.sleep(0)\n    return x * 2\nstamp = datetime.now().isoformat()\nset_result([json.loads(json.dumps({"a": 1})), await twice(21), len(stamp) >= 19, datetime.__name__])');
    ok(body);
    assert.deepEqual(body.result, [{ a: 1 }, 42, true, 'datetime']);
  });

  test('only those the code reads are bound; its own import, an input or a tool of that name wins', async () => {
    const unused = await run('set_result(sorted(name for name in ("asyncio", "json", "datetime") if name in globals()))');
    ok(unused);
    assert.deepEqual(unused.result, []);
    const imported = await run('import datetime\nset_result(datetime.date(2020, 1, 2).isoformat())');
    ok(imported);
    assert.equal(imported.result, '2020-01-02');
    const { status, body: given } = await postExecution(d.url, { runtime: 'python', code: 'set_result(json)', inputs: { json: 'mine' } });
    assert.equal(status, 200);
    ok(given);
    assert.equal(given.result, 'mine');
  });
});

describe('errors and tracebacks', () => {
  test('a traceback shows the user\'s frames and lines in main.py, nested functions included, and no prelude', async () => {
    const code = ['def inner(x):', '    return 1 / x', 'def outer():', '    return inner(0)', '', 'outer()'].join('\n');
    const body = await run(code);
    assert.equal(body.status, 'error');
    assert.deepEqual([body.error.type, body.error.message, body.exitCode], ['ZeroDivisionError', 'division by zero', 1]);
    assert.deepEqual(frames(body.error.traceback), [['main.py', 6, '<module>'], ['main.py', 4, 'outer'], ['main.py', 2, 'inner']]);
    assert.match(body.error.traceback, /^Traceback \(most recent call last\):\n/);
    assert.match(body.error.traceback, /\n {4}return 1 \/ x\n/, 'the source line is shown');
    assert.doesNotMatch(body.error.traceback, /runbox|prelude/);
    assert.equal(body.stderr, body.error.traceback, 'printed to stderr as the interpreter would');
  });

  test('a SyntaxError has its type and the user\'s line, with or without a top-level return', async () => {
    const plain = await run('x = 1\nif x\n    pass\n');
    assert.equal(plain.status, 'error');
    assert.deepEqual([plain.error.type, plain.error.message], ['SyntaxError', "expected ':' (main.py, line 2)"]);
    assert.match(plain.error.traceback, /^ {2}File "main\.py", line 2\n {4}if x\n/);
    // The top-level return makes the prelude compile a rewritten tree; the error still shows the line's text.
    const rewritten = await run('if False:\n    return 1\nbreak\n');
    assert.deepEqual([rewritten.error.type, rewritten.error.message], ['SyntaxError', "'break' outside loop (main.py, line 3)"]);
    assert.match(rewritten.error.traceback, /^ {2}File "main\.py", line 3\n {4}break\n/);
  });

  test('a ToolError raised in an async coroutine under gather ends at the user\'s line, not the prelude\'s', async () => {
    const code = [
      'import asyncio',
      'async def step(n):',
      '    await asyncio.sleep(0)',
      '    if n == 2:',
      '        await fail()',
      '    return n',
      'await asyncio.gather(step(1), step(2))',
    ].join('\n');
    const { result } = await runWithTools(code);
    assert.equal(result.status, 'error');
    assert.deepEqual([result.error.type, result.error.message], ['ToolError', 'the warehouse is closed']);
    const all = frames(result.error.traceback);
    assert.deepEqual(all.filter(([file]) => file === 'main.py'), [['main.py', 7, '<module>'], ['main.py', 5, 'step']]);
    assert.deepEqual([all[0], all.at(-1)], [['main.py', 7, '<module>'], ['main.py', 5, 'step']], 'no asyncio runner frame above, no prelude frame below');
    assert.doesNotMatch(result.error.traceback, /runbox_prelude|namespace\.py|bridge\.py/);
  });
});

describe('how the code ends', () => {
  test('sys.exit(0) is a normal end; output and result before it are kept', async () => {
    const body = await run('import sys\nprint("bye")\nset_result(5)\nsys.exit(0)\nprint("not printed")');
    ok(body);
    assert.deepEqual([body.result, body.stdout, body.exitCode, body.error], [5, 'bye\n', 0, null]);
  });

  test('sys.exit(3) is an error of type SystemExit with exit code 3; the result set before is returned', async () => {
    const body = await run('import sys\nset_result(5)\nsys.exit(3)');
    assert.equal(body.status, 'error');
    assert.deepEqual([body.error.type, body.error.message, body.exitCode, body.result], ['SystemExit', 'exited with code 3', 3, 5]);
  });

  test('sys.exit("text") prints the text to stderr and exits 1', async () => {
    const body = await run('import sys\nsys.exit("bye now")');
    assert.equal(body.status, 'error');
    assert.deepEqual([body.error.type, body.error.message, body.exitCode, body.stderr], ['SystemExit', 'bye now', 1, 'bye now\n']);
  });

  test('os._exit(5) ends without reporting: an ExitCode error', async () => {
    const body = await run('import os\nset_result("lost")\nprint("before")\nos._exit(5)');
    assert.equal(body.status, 'error');
    assert.deepEqual([body.error.type, body.exitCode, body.stdout, body.result], ['ExitCode', 5, 'before\n', null]);
    assert.match(body.error.message, /exited with code 5 before reporting a result/);
  });

  test('before the end, open files are flushed and atexit handlers run; leftover threads do not keep it alive', async () => {
    const code = [
      'import atexit, logging, threading, time',
      'f = open("out.txt", "w")',
      'f.write("x" * 10)',
      'logging.basicConfig(filename="log.txt", level=logging.INFO)',
      'logging.info("hello")',
      'atexit.register(print, "atexit ran")',
      'threading.Thread(target=time.sleep, args=(600,)).start()',
      'set_result(1, files=["out.txt", "log.txt"])',
    ].join('\n');
    const body = await run(code);
    ok(body);
    assert.equal(body.stdout, 'atexit ran\n');
    assert.deepEqual(body.files.map((f: any) => [f.path, Buffer.from(f.content, 'base64').toString()]), [['out.txt', 'xxxxxxxxxx'], ['log.txt', 'INFO:root:hello\n']]);
  });
});

describe('result conversion', () => {
  test('numpy, pandas, dates, containers, bytes, numbers, dataclasses, enums, keys and reprs', async () => {
    const code = [
      'import dataclasses, datetime, decimal, enum, fractions, numpy as np, pandas as pd',
      '@dataclasses.dataclass',
      'class Point:',
      '    x: int',
      '    y: float',
      'class Color(enum.Enum):',
      '    RED = "red"',
      'class Opaque:',
      '    def __repr__(self):',
      '        return "<Opaque 7>"',
      'df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})',
      'set_result({',
      '    "np_int": np.int64(7), "np_float": np.float32(0.5), "np_array": np.arange(6).reshape(2, 3),',
      '    "np_nan_array": np.array([1.5, np.nan]), "df": df, "df_indexed": df.set_index("b"),',
      '    "df_nan": pd.DataFrame({"v": [1.5, None]}), "series": pd.Series([1.5, 2.5]),',
      '    "series_labelled": pd.Series({"p": 1, "q": 2}), "df_filtered": df[df.a > 1], "series_filtered": df.a[df.a > 1],',
      '    "df_grouped": df.groupby("b").sum(), "df_clash": df.set_index("a", drop=False),',
      '    "df_levels": df.set_index(["b", "a"]), "df_concat": pd.concat([df, df], ignore_index=True),',
      '    "datetime": datetime.datetime(2024, 5, 6, 7, 8, 9), "date": datetime.date(2024, 1, 2),',
      '    "aware": datetime.datetime(2024, 5, 6, tzinfo=datetime.timezone.utc), "timedelta": datetime.timedelta(minutes=1.5),',
      '    "set": {3, 1, 2}, "tuple": (1, "a"), "bytes": "héllo".encode(), "binary": b"\\xff\\x00",',
      '    "decimal": decimal.Decimal("1.25"), "fraction": fractions.Fraction(3, 4),',
      '    "dataclass": Point(1, 2.5), "enum": Color.RED, "opaque": Opaque(),',
      '    "nan": float("nan"), "inf": float("inf"), "ninf": -np.inf,',
      '    "keys": {1: "int", 2.5: "float", None: "none", datetime.date(2024, 1, 1): "date", (1, 2): "tuple"},',
      '    "bool_key": {True: "bool"},',
      '})',
    ].join('\n');
    const body = await run(code);
    ok(body);
    assert.deepEqual(body.result, {
      np_int: 7, np_float: 0.5, np_array: [[0, 1, 2], [3, 4, 5]], np_nan_array: [1.5, null],
      df: [{ a: 1, b: 'x' }, { a: 2, b: 'y' }], df_indexed: [{ b: 'x', a: 1 }, { b: 'y', a: 2 }],
      df_nan: [{ v: 1.5 }, { v: null }], series: [1.5, 2.5], series_labelled: { p: 1, q: 2 },
      // a non-default index is kept: leading fields named as reset_index names them ("_" before a column's name)
      df_filtered: [{ index: 1, a: 2, b: 'y' }], series_filtered: { '1': 2 }, df_grouped: [{ b: 'x', a: 1 }, { b: 'y', a: 2 }],
      df_clash: [{ _a: 1, a: 1, b: 'x' }, { _a: 2, a: 2, b: 'y' }], df_levels: [{ b: 'x', a: 1 }, { b: 'y', a: 2 }],
      df_concat: [{ a: 1, b: 'x' }, { a: 2, b: 'y' }, { a: 1, b: 'x' }, { a: 2, b: 'y' }],
      datetime: '2024-05-06T07:08:09', date: '2024-01-02', aware: '2024-05-06T00:00:00+00:00', timedelta: 90,
      set: [1, 2, 3], tuple: [1, 'a'], bytes: 'héllo', binary: '/wA=', decimal: 1.25, fraction: 0.75,
      dataclass: { x: 1, y: 2.5 }, enum: 'red', opaque: '<Opaque 7>', nan: null, inf: null, ninf: null,
      keys: { '1': 'int', '2.5': 'float', null: 'none', '2024-01-01': 'date', '(1, 2)': 'tuple' }, bool_key: { true: 'bool' },
    });
  });

  test('200 levels of nesting (maxJsonDepth) come through whole', async () => {
    const body = await run('v = "deep"\nfor _ in range(200):\n    v = [v]\nset_result(v)');
    assert.equal(body.status, 'ok', JSON.stringify(body.error));
    assert.equal(JSON.stringify(body.result), `${'['.repeat(200)}"deep"${']'.repeat(200)}`);
  });

  test('a cycle or a too deep value is a ResultError at the line of set_result or of the return', async () => {
    const cases: Array<[string, string, number]> = [
      ['a = {"k": []}\na["k"].append(a)\nset_result(a)\nprint("not reached")', 'the value contains a reference cycle', 3],
      ['a = []\na.append(a)\nreturn a', 'the value contains a reference cycle', 3],
      ['v = []\nfor _ in range(3000):\n    v = [v]\nset_result(v)', 'the value nests deeper than 200 levels', 4],
      // Deep enough for the protocol's limit, shallow enough for the C encoder, which stops only near 1,000.
      ['v = "deep"\nfor _ in range(201):\n    v = [v]\nset_result(v)', 'the value nests deeper than 200 levels', 4],
      ['v = {}\nfor _ in range(990):\n    v = {"k": v}\nreturn v', 'the value nests deeper than 200 levels', 4],
    ];
    for (const [code, message, line] of cases) {
      const body = await run(code);
      assert.equal(body.status, 'error', code);
      assert.deepEqual([body.error.type, body.error.message, body.result, body.stdout], ['ResultError', message, null, '']);
      assert.deepEqual(frames(body.error.traceback), [['main.py', line, '<module>']]);
    }
  });
});

describe('output and workspace', () => {
  test('print formats as Python does; unicode comes through intact, also across chunk boundaries', async () => {
    const code = [
      'import sys',
      'print("a", 1, None, [1, "b"], {"k": 2.5}, sep="|", end="!\\n")',
      'print("héllo wörld ✓ 🚀 日本語")',
      'print("ünïcode érror", file=sys.stderr)',
      'print("é🚀" * 30000)',
    ].join('\n');
    const body = await run(code);
    ok(body);
    assert.equal(body.stdout, `a|1|None|[1, 'b']|{'k': 2.5}!\nhéllo wörld ✓ 🚀 日本語\n${'é🚀'.repeat(30000)}\n`);
    assert.equal(body.stderr, 'ünïcode érror\n');
  });

  test('stdout and stderr interleave in the order written, without explicit flushes', async () => {
    // Each write is followed by a tool call that is answered only once the client has received the write.
    const id = `py-${++nextId}`;
    client.handlers.seen = async ({ stream, text }) => {
      while (!client.of(id)[stream as 'stdout' | 'stderr'].includes(text)) await sleep(10);
    };
    const code = [
      'import sys',
      'for i in range(2):',
      '    print(f"out{i}")',
      '    call_tool("seen", {"stream": "stdout", "text": f"out{i}\\n"})',
      '    print(f"err{i}", file=sys.stderr)',
      '    call_tool("seen", {"stream": "stderr", "text": f"err{i}\\n"})',
    ].join('\n');
    const seenTools = [{ name: 'seen', description: '', parameters: props('stream', 'text') }];
    const result = await client.execute({ id, runtime: 'python', code, tools: seenTools, timeoutMs: 20000 });
    ok(result);
    // print() writes its text and its end separately, so one line may come in several messages: join runs.
    const runs: string[][] = [];
    for (const m of client.of(id).messages.filter((m) => m.type === 'stdout' || m.type === 'stderr')) {
      if (runs.at(-1)?.[0] === m.type) runs.at(-1)![1] += m.data;
      else runs.push([m.type, m.data]);
    }
    assert.deepEqual(runs, [['stdout', 'out0\n'], ['stderr', 'err0\n'], ['stdout', 'out1\n'], ['stderr', 'err1\n']]);
  });

  test('the workspace is the cwd and sys.path[0]: a helper module shipped as an input file imports', async () => {
    const code = 'import os, sys, helper\nreturn [os.getcwd(), sys.path[0], helper.double(21), helper.__file__, sys.argv, __name__, __file__]';
    const body = await run(code, { files: [{ path: 'helper.py', content: b64('def double(x):\n    return 2 * x\n') }] });
    ok(body);
    assert.deepEqual(body.result, ['/workspace', '/workspace', 42, '/workspace/helper.py', ['main.py'], '__main__', 'main.py']);
  });

  test('JSON printed to stdout that looks like a done message does not change the result', async () => {
    const fake = '{"type":"done","result":666,"files":["x"],"error":{"type":"Fake","message":"m","traceback":""}}';
    const code = `import os, sys\nprint('${fake}')\nprint('${fake}', file=sys.stderr)\nos.write(1, b'${fake}\\n')\nset_result(1)`;
    const body = await run(code);
    ok(body);
    assert.deepEqual([body.result, body.files, body.error], [1, [], null]);
    assert.equal(body.stdout, `${fake}\n${fake}\n`);
    assert.equal(body.stderr, `${fake}\n`);
    const silent = await run(`print('${fake}')`);
    ok(silent);
    assert.equal(silent.result, null);
  });
});

describe('tools', () => {
  test('positional arguments bind to declared parameters in order, keywords by name, with Python\'s errors', async () => {
    const code = [
      'out = [await echo(1, 2), await echo(1, c=3), await echo(extra="x"), echo.__doc__]',
      'for call in (lambda: echo(1, 2, 3, 4), lambda: echo(1, a=2)):',
      '    try:',
      '        await call()',
      '    except TypeError as e:',
      '        out.append(str(e))',
      'return out',
    ].join('\n');
    const { result, seen } = await runWithTools(code);
    ok(result);
    assert.deepEqual(result.result, [{ a: 1, b: 2 }, { a: 1, c: 3 }, { extra: 'x' }, 'echoes its arguments\n\nArguments: a, b, c',
      'echo() takes 3 positional arguments but 4 were given', "echo() got multiple values for argument 'a'"]);
    assert.deepEqual(seen.toolCalls.map((c) => c.args), [{ a: 1, b: 2 }, { a: 1, c: 3 }, { extra: 'x' }], 'the failed bindings never left the sandbox');
    assert.equal(result.toolCalls, 3);
  });

  test('tools whose names are not usable identifiers are reachable through call_tool (a dotted one also by its alias)', async () => {
    const code = [
      'names = sorted(k for k in globals() if not k.startswith("__")) + [k for k in ("__init__", "__doc__") if k in globals()]',
      'print("print is still print")',
      'return [names, call_tool("weird.name-1"), call_tool("class", {}), call_tool("__init__"), call_tool("set_result"), set_result.__doc__.startswith("Sets the result"), call_tool("print")]',
    ].join('\n');
    const { result } = await runWithTools(code);
    ok(result);
    assert.deepEqual(result.result, [
      // weird.name-1 is also the function weird__name_1 (a dotted name's alias); the others get none.
      ['InstallError', 'ToolError', 'blob', 'call_tool', 'call_tools_parallel', 'describe_tool', 'echo', 'fail', 'gate', 'get_users', 'install_package', 'search_tools', 'set_result', 'weird__name_1', '__doc__'],
      'weird ok', 'keyword ok', 'dunder ok', 'tool ok', true, 'builtin ok',
    ]);
    assert.equal(result.stdout, 'print is still print\n');
  });

  test('await call_tool(...) works for dict, list and str results, which stay their plain types', async () => {
    const code = [
      'import pickle',
      'd = await call_tool("echo", {"a": 1})',
      'l = await call_tool("get_users")',
      's = await call_tool("weird.name-1", {})',
      'return [d, l, s, isinstance(d, dict) and isinstance(l, list) and isinstance(s, str), type(pickle.loads(pickle.dumps(d))).__name__]',
    ].join('\n');
    const { result } = await runWithTools(code);
    ok(result);
    assert.deepEqual(result.result, [{ a: 1 }, [{ id: 1 }, { id: 2 }], 'weird ok', true, 'dict']);
  });

  test('call_tools_parallel returns results in call order, whatever order the answers come in', async () => {
    const code = 'return call_tools_parallel([("echo", {"a": 1, "delayMs": 150}), ("get_users", {}), {"name": "echo", "args": {"a": 3}}])';
    const { result } = await runWithTools(code);
    ok(result);
    assert.deepEqual(result.result, [{ a: 1, delayMs: 150 }, [{ id: 1 }, { id: 2 }], { a: 3 }]);
  });

  test('call_tools_parallel raises the first failure in call order (not the first to arrive) as a ToolError', async () => {
    // The unknown tool fails at once in the daemon; the slow failing tool, first in order, is the one raised.
    const code = 'try:\n    call_tools_parallel([("echo", {}), ("fail", {"delayMs": 150}), ("nope", {})])\nexcept ToolError as e:\n    return [str(e), e.tool, e.code]';
    const { result, seen } = await runWithTools(code);
    ok(result);
    assert.deepEqual(result.result, ['the warehouse is closed', 'fail', 'tool_error']);
    assert.deepEqual(seen.toolCalls.map((c) => c.name), ['echo', 'fail'], 'the unknown tool never reached the client');
  });

  test('ToolError carries the tool\'s message, name and code', async () => {
    const code = 'out = []\nfor name in ("fail", "nope"):\n    try:\n        call_tool(name)\n    except ToolError as e:\n        out.append([str(e), e.tool, e.code, isinstance(e, Exception)])\nreturn out';
    const { result } = await runWithTools(code);
    ok(result);
    const declared = tools.map((t) => t.name).join(', ');
    assert.deepEqual(result.result, [['the warehouse is closed', 'fail', 'tool_error', true], [`unknown tool "nope"; this execution declared ${declared}`, 'nope', 'unknown_tool', true]]);
    const http = await run('try:\n    call_tool("echo", {})\nexcept ToolError as e:\n    return [e.tool, e.code]');
    ok(http);
    assert.deepEqual(http.result, ['echo', 'no_client']);
  });

  test('calls made by asyncio.gather, call_tools_parallel and threads are all in flight at once', async () => {
    // The gate answers nothing until three calls wait together: calls made one after another would never end.
    openGateAfter(3);
    const gathered = await runWithTools('import asyncio\nreturn await asyncio.gather(gate(1), gate(2), gate(n=3))');
    ok(gathered.result);
    assert.deepEqual(gathered.result.result, [10, 20, 30]);
    openGateAfter(3);
    const parallel = await runWithTools('return call_tools_parallel([("gate", {"n": n}) for n in (4, 5, 6)])');
    ok(parallel.result);
    assert.deepEqual(parallel.result.result, [40, 50, 60]);
    openGateAfter(3);
    const threaded = await runWithTools('from concurrent.futures import ThreadPoolExecutor\nwith ThreadPoolExecutor(3) as pool:\n    return list(pool.map(lambda n: call_tool("gate", {"n": n}), (7, 8, 9)))');
    ok(threaded.result);
    assert.deepEqual(threaded.result.result, [70, 80, 90]);
  });

  test('a signal handler that raises while synchronous calls read their answers leaves the bridge whole', async () => {
    // Sequential calls read their own answers on the code's thread (no reader thread: one task in /proc) until the
    // code installs a signal handler; then the reader thread reads, where no handler runs, and a handler raising
    // in the code's thread while 1 MB answers stream in interrupts only its wait: every answer that arrives is
    // the right one, whole, and the bridge stays usable.
    const code = [
      'import os, signal',
      'for i in range(5):',
      '    call_tool("echo", {"a": i})',
      'tasks_before = len(os.listdir("/proc/self/task"))',
      'class Tick(Exception): pass',
      'ticks = 0',
      'def on_tick(signum, frame):',
      '    global ticks',
      '    ticks += 1',
      '    if ticks % 4 == 0:',
      '        raise Tick()',
      'signal.signal(signal.SIGALRM, on_tick)',
      'signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)',
      'good = interrupted = 0',
      'for i in range(30):',
      '    try:',
      '        answer = call_tool("blob", {"i": i, "n": 1_000_000})',
      '    except Tick:',
      '        interrupted += 1',
      '        continue',
      '    assert answer["i"] == i and len(answer["data"]) == 1_000_000, (i, answer["i"])',
      '    good += 1',
      'signal.setitimer(signal.ITIMER_REAL, 0)',
      'return {"good": good, "interrupted": interrupted, "after": call_tool("echo", {"a": "after"}), "tasks": [tasks_before, len(os.listdir("/proc/self/task"))]}',
    ].join('\n');
    const { result } = await runWithTools(code);
    ok(result);
    assert.deepEqual(result.result.tasks, [1, 2], 'no reader thread until a handler was installed');
    assert.equal(result.result.good + result.result.interrupted, 30);
    assert.ok(result.result.interrupted > 0, `the handler interrupted some calls: ${JSON.stringify(result.result)}`);
    assert.deepEqual(result.result.after, { a: 'after' });
  });

  test('a forked process cannot call tools and never reports; the parent\'s result stands', async () => {
    const code = [
      'import os, sys',
      'pid = os.fork()',
      'if pid == 0:',
      '    try:',
      '        call_tool("echo", {"a": 1})',
      '    except ToolError as e:',
      '        print("child:", e)',
      '    set_result("from the child")',
      '    sys.exit(0)',
      'os.waitpid(pid, 0)',
      'return "from the parent"',
    ].join('\n');
    const { result, seen } = await runWithTools(code);
    ok(result);
    assert.equal(result.result, 'from the parent');
    assert.equal(result.stdout, 'child: tools can only be called from the sandbox\'s main process, not a forked one\n');
    assert.deepEqual([result.toolCalls, seen.toolCalls.length], [0, 0]);
  });
});

describe('isolation from the prelude', () => {
  test('the code cannot import the prelude, and its own module of that name works', async () => {
    const body = await run('try:\n    import runbox_prelude\nexcept ModuleNotFoundError as e:\n    return str(e)');
    ok(body);
    assert.equal(body.result, "No module named 'runbox_prelude'");
    const own = await run('import runbox_prelude\nreturn runbox_prelude.VALUE', { files: [{ path: 'runbox_prelude.py', content: b64('VALUE = "mine"\n') }] });
    ok(own);
    assert.equal(own.result, 'mine');
  });

  test('the bridge variables are not in os.environ', async () => {
    const body = await run('import os\nreturn [k for k in os.environ if k.startswith("RUNBOX")]');
    ok(body);
    assert.deepEqual(body.result, []);
  });
});
