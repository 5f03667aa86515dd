// The HTTP API against a real daemon and real sandboxes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { b64, postExecution, startDaemon, waitForNoProcesses, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon({ maxOutputBytes: 64 * 1024, maxFileBytes: 1024 * 1024 });
});
after(() => d.close());

describe('running code over HTTP', () => {
  test('python: prints and returns a result', async () => {
    const { status, body } = await postExecution(d.url, { runtime: 'python', code: 'print("hi", 6*7)\nset_result({"answer": 42})' });
    assert.equal(status, 200);
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.equal(body.stdout, 'hi 42\n');
    assert.deepEqual(body.result, { answer: 42 });
    assert.equal(body.exitCode, 0);
    assert.equal(body.error, null);
    assert.equal(body.toolCalls, 0);
    assert.ok(body.durationMs > 0);
  });

  test('node: prints and returns a result', async () => {
    const { body } = await postExecution(d.url, { runtime: 'node', code: 'console.log("hi", 6*7, {a: 1})\nreturn [1, "two"]' });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.equal(body.stdout, 'hi 42 { a: 1 }\n');
    assert.deepEqual(body.result, [1, 'two']);
  });

  test('a failure of the code is a normal answer with the error and the user\'s line number', async () => {
    const { status, body } = await postExecution(d.url, { runtime: 'python', code: 'x = 1\ny = 2\nprint(x / 0)\n' });
    assert.equal(status, 200);
    assert.equal(body.status, 'error');
    assert.equal(body.error.type, 'ZeroDivisionError');
    assert.match(body.error.traceback, /main\.py", line 3/);
    assert.doesNotMatch(body.error.traceback, /prelude/);
    assert.match(body.stderr, /ZeroDivisionError: division by zero\n$/, 'printed to stderr as python would');
    assert.equal(body.exitCode, 1);
  });

  test('node errors point at the user\'s line', async () => {
    const { body } = await postExecution(d.url, { runtime: 'node', code: 'const a = 1;\n\nnull.boom;\n' });
    assert.equal(body.status, 'error');
    assert.equal(body.error.type, 'TypeError');
    assert.match(body.error.traceback, /main\.js:3/);
    assert.doesNotMatch(body.error.traceback, /prelude/);
    assert.equal(body.stderr, `${body.error.traceback}\n`, 'printed to stderr as node main.js would');
  });

  test('a tool call over plain HTTP raises a clear error in the code instead of hanging', async () => {
    const code = 'try:\n    call_tool("get_users", {})\nexcept ToolError as e:\n    set_result(str(e))';
    const { body } = await postExecution(d.url, { runtime: 'python', code });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.match(body.result, /no client is connected to answer tool calls/);
    assert.equal(body.toolCalls, 1);
    const node = await postExecution(d.url, { runtime: 'node', code: 'await callTool("x", {})' });
    assert.equal(node.body.status, 'error');
    assert.match(node.body.error.message, /no client is connected/);
  });
});

describe('files', () => {
  test('input files are in the working directory; declared outputs come back with MIME types', async () => {
    const code = [
      'import csv, os',
      'rows = list(csv.DictReader(open("data/in.csv")))',
      'os.makedirs("out/a", exist_ok=True)',
      'open("out/a/total.txt", "w").write(str(sum(int(r["n"]) for r in rows)))',
      'open("ignored.txt", "w").write("not declared")',
      'set_result(os.getcwd(), files=["out/a/total.txt"])',
    ].join('\n');
    const { body } = await postExecution(d.url, { runtime: 'python', code, files: [{ path: 'data/in.csv', content: b64('n\n1\n2\n39\n') }] });
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.equal(body.result, '/workspace');
    assert.equal(body.files.length, 1);
    assert.deepEqual({ ...body.files[0], content: Buffer.from(body.files[0].content, 'base64').toString() }, { path: 'out/a/total.txt', mimeType: 'text/plain', size: 2, content: '42' });
  });

  test('a matplotlib chart comes back as image/png', async () => {
    const code = [
      'import matplotlib.pyplot as plt, numpy as np, pandas as pd',
      'df = pd.DataFrame({"x": np.arange(10), "y": np.arange(10) ** 2})',
      'df.plot(x="x", y="y")',
      'plt.savefig("chart.png")',
      'set_result({"points": len(df), "max": df.y.max()}, files=["chart.png"])',
    ].join('\n');
    const { body } = await postExecution(d.url, { runtime: 'python', code, timeoutMs: 60000 });
    assert.equal(body.status, 'ok', JSON.stringify({ ...body, files: undefined }));
    assert.deepEqual(body.result, { points: 10, max: 81 });
    const [chart] = body.files;
    assert.equal(chart.mimeType, 'image/png');
    const bytes = Buffer.from(chart.content, 'base64');
    assert.equal(bytes.subarray(1, 4).toString(), 'PNG');
    assert.equal(chart.size, bytes.length);
    assert.doesNotMatch(body.stderr, /Matplotlib is building the font cache|created a temporary/);
  });

  test('refused output paths: each named with its reason, never read', async () => {
    const code = [
      'import os',
      'os.symlink("/etc/passwd", "link")',
      'os.mkdir("dir")',
      'os.mkfifo("fifo")',
      'open("real", "w").write("x")',
      'os.link("real", "hard")',
      'os.mkdir("sub"); os.symlink("/etc", "sub/etc")',
      'open("big", "wb").write(b"0" * (2 * 1024 * 1024))',
      'open("ok.json", "w").write("{}")',
      'set_result(1, files=["link", "dir", "fifo", "hard", "sub/etc/passwd", "big", "/etc/passwd", "../x", "missing", "ok.json"])',
    ].join('\n');
    const { body } = await postExecution(d.url, { runtime: 'python', code });
    assert.equal(body.status, 'error');
    assert.equal(body.error.type, 'OutputFileError');
    assert.deepEqual(body.files.map((f: any) => [f.path, f.mimeType]), [['ok.json', 'application/json']]);
    const reasons = Object.fromEntries(body.fileErrors.map((f: any) => [f.path, f.message]));
    assert.match(reasons.link, /symlink/);
    assert.match(reasons.dir, /directory/);
    assert.match(reasons.fifo, /not a regular file/);
    assert.match(reasons.hard, /hard link/);
    assert.match(reasons['sub/etc/passwd'], /sub\/etc is a symlink/);
    assert.match(reasons.big, /over maxFileBytes/);
    assert.match(reasons['/etc/passwd'], /absolute/);
    assert.match(reasons['../x'], /\.\./);
    assert.match(reasons.missing, /does not exist/);
    assert.equal(body.result, 1);
  });
});

describe('limits', () => {
  test('a timeout kills the whole process tree, children included', async () => {
    const marker = `sleep ${900000 + Math.floor(Math.random() * 90000)}`;
    const code = `import subprocess\nsubprocess.Popen(["/bin/sh", "-c", "${marker}"])\nsubprocess.Popen("${marker}".split(), start_new_session=True)\nwhile True:\n    pass`;
    const { body } = await postExecution(d.url, { runtime: 'python', code, timeoutMs: 1500 });
    assert.equal(body.status, 'timeout');
    assert.equal(body.error.type, 'Timeout');
    assert.match(body.error.message, /1500 ms/);
    await waitForNoProcesses(marker);
  });

  test('node timeout', async () => {
    const { body } = await postExecution(d.url, { runtime: 'node', code: 'while (true) {}', timeoutMs: 1000 });
    assert.equal(body.status, 'timeout');
  });

  test('output beyond the cap is cut with a visible marker, and the daemon carries on', async () => {
    const { body } = await postExecution(d.url, { runtime: 'python', code: 'import sys\nfor i in range(20000):\n    print("x" * 50)\nsys.stderr.write("e" * 100000)\nset_result("done")' });
    assert.equal(body.status, 'ok');
    assert.equal(body.result, 'done');
    assert.ok(body.stdout.length < 70 * 1024);
    assert.match(body.stdout, /\[runbox: stdout truncated after 65536 bytes; \d+ more bytes dropped\]\n$/);
    assert.match(body.stderr, /\[runbox: stderr truncated after 65536 bytes/);
    const next = await postExecution(d.url, { runtime: 'python', code: 'print("still fine")' });
    assert.equal(next.body.stdout, 'still fine\n');
  });
});

describe('bad requests', () => {
  test('each gets a 4xx naming what was wrong', async () => {
    const cases: Array<[unknown, number, string, RegExp]> = [
      ['{not json', 400, 'invalid_json', /not valid JSON/],
      ['', 400, 'invalid_json', /empty/],
      [{ runtime: 'ruby', code: 'puts 1' }, 400, 'invalid_request', /runtime: expected "python" or "node", received "ruby"/],
      [{ runtime: 'python' }, 400, 'invalid_request', /code: expected a string/],
      [{ runtime: 'python', code: '', timeoutMs: 10 ** 9 }, 400, 'limit_exceeded', /timeoutMs/],
      [{ runtime: 'python', code: '', files: [{ path: '/etc/x', content: '' }] }, 400, 'invalid_path', /absolute/],
    ];
    for (const [body, status, code, message] of cases) {
      const answer = await postExecution(d.url, body);
      assert.equal(answer.status, status, JSON.stringify(body));
      assert.equal(answer.body.error.code, code);
      assert.match(answer.body.error.message, message);
    }
  });

  test('a body over the limit is refused with 413', async () => {
    const small = await startDaemon({ maxRequestBytes: 4096 });
    try {
      const answer = await postExecution(small.url, { runtime: 'python', code: `# ${'x'.repeat(10000)}` });
      assert.equal(answer.status, 413);
      assert.equal(answer.body.error.code, 'payload_too_large');
    } finally {
      await small.close();
    }
  });

  test('unknown routes and wrong methods', async () => {
    const missing = await fetch(`${d.url}/v2/nothing`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, 'not_found');
    const wrong = await fetch(`${d.url}/v1/executions`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
  });
});

describe('health and runtimes', () => {
  test('healthz is 200 with both runtimes; runtimes lists versions', async () => {
    const health = await fetch(`${d.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual((await health.json()).runtimes, ['python', 'node']);
    const { runtimes } = await (await fetch(`${d.url}/v1/runtimes`)).json();
    assert.match(runtimes.find((r: any) => r.name === 'python').version, /^3\.\d+\.\d+$/);
    assert.equal(runtimes.find((r: any) => r.name === 'node').version, process.versions.node);
  });
});
