// The SDK against a real daemon with real sandboxes: tools (sequential, parallel, failing), streamed output,
// files both ways, abort, concurrency on one connection, and the errors a caller can meet.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RunboxAbortError,
  RunboxAPIError,
  RunboxClient,
  RunboxConnectionError,
  RunboxError,
  type ExecutionResult,
  type ToolSet,
} from 'runbox/sdk';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

// Tools shared by the Python and Node tests: arithmetic that checks its arguments, a slow echo, a failure.
function makeTools(calls: { name: string; args: unknown }[], inFlight = { now: 0, max: 0 }): ToolSet {
  return {
    add: {
      description: 'Adds two numbers',
      parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
      handler: ({ a, b }: { a: number; b: number }) => {
        calls.push({ name: 'add', args: { a, b } });
        return a + b;
      },
    },
    slow_echo: {
      description: 'Echoes its value after a short wait',
      parameters: { type: 'object', properties: { value: {} } },
      handler: async ({ value }: { value: unknown }) => {
        inFlight.now += 1;
        inFlight.max = Math.max(inFlight.max, inFlight.now);
        await sleep(150);
        inFlight.now -= 1;
        calls.push({ name: 'slow_echo', args: { value } });
        return { echoed: value };
      },
    },
    nothing: { description: 'Returns undefined', handler: () => undefined },
    explode: {
      description: 'Always fails',
      parameters: { type: 'object', properties: { why: { type: 'string' } } },
      handler: ({ why }: { why: string }) => {
        throw new Error(`exploded: ${why}`);
      },
    },
    too_big_for_json: { description: 'Returns a BigInt', handler: () => 10n },
  };
}

describe('RunboxClient against a real daemon', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;
  const strayErrors: RunboxError[] = [];

  before(async () => {
    daemon = await startDaemon();
    client = new RunboxClient({ url: daemon.url, onError: (error) => strayErrors.push(error) });
  });

  after(async () => {
    await client?.close();
    await daemon?.close();
    assert.deepEqual(strayErrors, [], 'no daemon error went unrouted');
  });

  it('reports health and runtimes over HTTP', async () => {
    const health = await client.health();
    assert.equal(health.ok, true, JSON.stringify(health));
    const runtimes = await client.runtimes();
    assert.deepEqual(runtimes.map((runtime) => runtime.name).sort(), ['node', 'python']);
    for (const runtime of runtimes) assert.equal(runtime.available, true, JSON.stringify(runtime));
  });

  it('runs Python that calls tools one after another', async () => {
    const calls: { name: string; args: unknown }[] = [];
    const out = await client.execute({
      runtime: 'python',
      code: 'a = await add(1, 2)\nb = await add(a, b=10)\nnone = await nothing()\nset_result({"sum": b, "none": none})',
      tools: makeTools(calls),
    });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    assert.deepEqual(out.result, { sum: 13, none: null });
    assert.equal(out.toolCalls, 3);
    assert.deepEqual(calls, [{ name: 'add', args: { a: 1, b: 2 } }, { name: 'add', args: { a: 3, b: 10 } }]);
    assert.match(out.id, /^e\d+$/);
  });

  it('runs Python tool calls in parallel with asyncio.gather', async () => {
    const calls: { name: string; args: unknown }[] = [];
    const inFlight = { now: 0, max: 0 };
    const out = await client.execute({
      runtime: 'python',
      code: 'import asyncio\nvalues = await asyncio.gather(*(slow_echo(i) for i in range(8)))\nset_result([v["echoed"] for v in values])',
      tools: makeTools(calls, inFlight),
    });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    assert.deepEqual(out.result, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(out.toolCalls, 8);
    assert.ok(inFlight.max > 1, `the calls overlapped (at most ${inFlight.max} at once)`);
  });

  it('passes budgets: calls past one raise budget_exceeded in the code, never reach the handler, and the result lists each budget', async () => {
    const calls: { name: string; args: unknown }[] = [];
    const python = await client.execute({
      runtime: 'python',
      code: [
        'out = []',
        'for i in range(4):',
        '    try:',
        '        out.append(await add(i, 1))',
        '    except ToolError as e:',
        '        out.append([e.code, str(e)])',
        'set_result(out)',
      ].join('\n'),
      tools: makeTools(calls),
      budgets: { maxCallsPerTool: { add: 2 } },
    });
    assert.equal(python.status, 'ok', JSON.stringify(python.error));
    const spent = ['budget_exceeded', 'budget maxCallsPerTool for add (2 calls) is spent'];
    assert.deepEqual(python.result, [1, 2, spent, spent]);
    assert.deepEqual(calls.map((call) => call.args), [{ a: 0, b: 1 }, { a: 1, b: 1 }], 'the handler saw only the calls within the budget');
    assert.deepEqual(python.budgetsExceeded, [{ budget: 'maxCallsPerTool', tool: 'add', limit: 2 }]);
    assert.deepEqual(python.toolCallLog.map((entry) => entry.outcome), ['ok', 'ok', 'budget_exceeded', 'budget_exceeded']);

    const node = await client.execute({
      runtime: 'node',
      code: 'const first = await slow_echo("x".repeat(30));\ntry { await slow_echo("y".repeat(30)); } catch (e) { return [first.echoed.length, e.code, e.message]; }',
      tools: makeTools([]),
      budgets: { maxToolResultBytes: 60, maxConcurrentToolCalls: 1 },
    });
    assert.equal(node.status, 'ok', JSON.stringify(node.error));
    assert.deepEqual(node.result, [30, 'budget_exceeded', 'budget maxToolResultBytes (60 bytes) would be exceeded by the result of slow_echo (43 bytes, 43 spent before it)']);
    assert.deepEqual(node.budgetsExceeded, [{ budget: 'maxToolResultBytes', limit: 60 }]);
  });

  it('turns a throwing handler into a ToolError in Python code', async () => {
    const caught = await client.execute({
      runtime: 'python',
      code: [
        'caught = []',
        'for call in (lambda: explode("boom"), lambda: too_big_for_json()):',
        '    try:',
        '        await call()',
        '    except ToolError as error:',
        '        caught.append([type(error).__name__, str(error)])',
        'set_result(caught)',
      ].join('\n'),
      tools: makeTools([]),
    });
    assert.equal(caught.status, 'ok', JSON.stringify(caught.error));
    const [explodeError, jsonError] = caught.result as [string, string][];
    assert.equal(explodeError[0], 'ToolError');
    assert.match(explodeError[1], /exploded: boom/);
    assert.equal(jsonError[0], 'ToolError');
    assert.match(jsonError[1], /not JSON/);

    const uncaught = await client.execute({ runtime: 'python', code: 'await explode("uncaught")', tools: makeTools([]) });
    assert.equal(uncaught.status, 'error');
    assert.equal(uncaught.error?.type, 'ToolError');
    assert.match(uncaught.error?.message ?? '', /exploded: uncaught/);
  });

  it('runs Node code with sequential and parallel tool calls and a failing one', async () => {
    const calls: { name: string; args: unknown }[] = [];
    const inFlight = { now: 0, max: 0 };
    const out = await client.execute({
      runtime: 'node',
      code: [
        'const sum = await add(2, 3);',
        'const echoes = await Promise.all([1, 2, 3, 4, 5].map((n) => slow_echo(n)));',
        'let failure = null;',
        'try { await explode({ why: "node" }); } catch (error) { failure = [error.name, error.message]; }',
        'setResult({ sum, echoes: echoes.map((e) => e.echoed), failure });',
      ].join('\n'),
      tools: makeTools(calls, inFlight),
    });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    const result = out.result as { sum: number; echoes: number[]; failure: [string, string] };
    assert.equal(result.sum, 5);
    assert.deepEqual(result.echoes, [1, 2, 3, 4, 5]);
    assert.equal(result.failure[0], 'ToolError');
    assert.match(result.failure[1], /exploded: node/);
    assert.ok(inFlight.max > 1, `the calls overlapped (at most ${inFlight.max} at once)`);
    assert.equal(out.toolCalls, 7);
  });

  it('streams stdout and stderr chunks while the code is still running', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    let seenWhileRunning = '';
    const out = await client.execute({
      runtime: 'python',
      code: 'import sys\nprint("before", flush=True)\nprint("warning", file=sys.stderr, flush=True)\nawait checkpoint()\nprint("after")',
      onStdout: (chunk) => stdout.push(chunk),
      onStderr: (chunk) => stderr.push(chunk),
      tools: {
        checkpoint: {
          description: 'Waits until the output printed so far has streamed to the client',
          handler: async () => {
            // Output and tool calls travel on different channels; give the output a moment to catch up.
            for (let waited = 0; !(stdout.join('').includes('before') && stderr.join('').includes('warning')) && waited < 5000; waited += 20) await sleep(20);
            seenWhileRunning = stdout.join('') + '|' + stderr.join('');
          },
        },
      },
    });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    assert.equal(seenWhileRunning, 'before\n|warning\n');
    assert.equal(stdout.join(''), out.stdout);
    assert.equal(stderr.join(''), out.stderr);
    assert.equal(out.stdout, 'before\nafter\n');
  });

  it('sends string and byte input files and returns output files as bytes', async () => {
    const bytes = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);
    const out = await client.execute({
      runtime: 'python',
      code: [
        'text = open("notes/hello.txt", encoding="utf-8").read()',
        'data = open("blob.bin", "rb").read()',
        'open("reversed.bin", "wb").write(data[::-1])',
        'open("out.txt", "w", encoding="utf-8").write(text.upper())',
        'set_result({"text": text, "size": len(data)}, files=["reversed.bin", "out.txt"])',
      ].join('\n'),
      files: [
        { path: 'notes/hello.txt', content: 'héllo wörld ✓' },
        { path: 'blob.bin', content: bytes },
      ],
    });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    assert.deepEqual(out.result, { text: 'héllo wörld ✓', size: 7 });
    const byPath = new Map(out.files.map((file) => [file.path, file]));
    const reversed = byPath.get('reversed.bin');
    assert.ok(reversed?.content instanceof Uint8Array);
    assert.deepEqual([...reversed.content], [...bytes].reverse());
    assert.equal(reversed.size, 7);
    assert.equal(byPath.get('out.txt')?.content.toString('utf8'), 'HÉLLO WÖRLD ✓');
    assert.deepEqual(out.fileErrors, []);
  });

  it('returns a failing program as a result, not an exception', async () => {
    const out = await client.execute({ runtime: 'python', code: 'print("x")\n1 / 0' });
    assert.equal(out.status, 'error');
    assert.equal(out.error?.type, 'ZeroDivisionError');
    assert.equal(out.exitCode, 1);
    assert.equal(out.stdout, 'x\n');
  });

  it('rejects an execute the daemon refuses with a RunboxAPIError carrying its code', async () => {
    await assert.rejects(
      client.execute({ runtime: 'ruby' as 'python', code: 'puts 1' }),
      (error: unknown) => {
        assert.ok(error instanceof RunboxAPIError, String(error));
        assert.equal(error.code, 'invalid_request');
        assert.equal(error.status, undefined);
        assert.match(error.executionId ?? '', /^e\d+$/);
        assert.match(error.message, /runtime/);
        return true;
      },
    );
    // The connection is still usable afterwards.
    const out = await client.execute({ runtime: 'node', code: 'return 1 + 1' });
    assert.equal(out.result, 2);
  });

  for (const [runtime, code] of [['python', 'print("started", flush=True)\nwhile True:\n    pass'], ['node', 'console.log("started");\nwhile (true) {}']] as const) {
    it(`aborts a ${runtime} busy loop through an AbortSignal and attaches the cancelled result`, async () => {
      const controller = new AbortController();
      let abortedAt = 0;
      let seen = '';
      const started = client.execute({
        runtime,
        code,
        timeoutMs: 60_000,
        signal: controller.signal,
        onStdout: (chunk) => {
          // print() may write the text and its newline separately: wait for the whole line.
          seen += chunk;
          if (seen.includes('started\n') && abortedAt === 0) {
            abortedAt = Date.now();
            controller.abort();
          }
        },
      });
      await assert.rejects(started, (error: unknown) => {
        assert.ok(error instanceof RunboxAbortError, String(error));
        assert.ok(error instanceof RunboxError);
        assert.equal(error.name, 'AbortError');
        assert.equal(error.code, 'aborted');
        assert.equal(error.result?.status, 'cancelled');
        assert.equal(error.result?.error?.type, 'Cancelled');
        assert.equal(error.result?.stdout, 'started\n');
        return true;
      });
      assert.ok(Date.now() - abortedAt < 10_000, `cancelled within 10 s (took ${Date.now() - abortedAt} ms)`);
    });
  }

  it('rejects at once for an already aborted signal, without contacting the daemon', async () => {
    // The URL has nothing listening: had the client tried to connect, the error would be a connection error.
    const offline = new RunboxClient({ url: 'http://127.0.0.1:9' });
    const reason = new Error('stop');
    await assert.rejects(offline.execute({ runtime: 'python', code: 'pass', signal: AbortSignal.abort(reason) }), (error: unknown) => {
      assert.ok(error instanceof RunboxAbortError, String(error));
      assert.equal(error.cause, reason);
      assert.equal(error.result, undefined);
      return true;
    });
    await offline.close();
  });

  it('cancels the code and rejects with the error when an output callback throws', async () => {
    const thrown = new Error('callback failed');
    await assert.rejects(
      client.execute({
        runtime: 'python',
        code: 'print("tick", flush=True)\nwhile True:\n    pass',
        onStdout: () => {
          throw thrown;
        },
      }),
      (error: unknown) => error === thrown,
    );
  });

  it('fails a running execute with a connection error when its own client closes, and works again after', async () => {
    const own = new RunboxClient({ url: daemon.url });
    const running = own.execute({ runtime: 'node', code: 'console.log("up");\nawait new Promise(() => setInterval(() => {}, 1000));', onStdout: () => void own.close() });
    await assert.rejects(running, (error: unknown) => {
      assert.ok(error instanceof RunboxConnectionError, String(error));
      assert.match(error.message, /the client was closed/);
      return true;
    });
    const out = await own.execute({ runtime: 'node', code: 'return "reopened"' });
    assert.equal(out.result, 'reopened');
    await own.close();
  });

  it('multiplexes concurrent executes of both runtimes on one client', async () => {
    const runs = Array.from({ length: 6 }, (_, index) => {
      const runtime = index % 2 === 0 ? 'python' : 'node';
      const code = runtime === 'python' ? 'set_result(await whoami() * 10)' : 'setResult((await whoami()) * 10)';
      // Later runs answer sooner, so the answers cross on the shared connection.
      const whoami = async () => {
        await sleep(50 * (6 - index));
        return index;
      };
      return client.execute({ runtime, code, tools: { whoami: { description: "This run's number", handler: whoami } } });
    });
    const outs: ExecutionResult[] = await Promise.all(runs);
    assert.deepEqual(outs.map((out) => out.status), Array(6).fill('ok'));
    assert.deepEqual(outs.map((out) => out.result), [0, 10, 20, 30, 40, 50]);
    assert.equal(new Set(outs.map((out) => out.id)).size, 6);
  });

  it('rejects an invalid option at the boundary, naming it', async () => {
    await assert.rejects(
      client.execute({ runtime: 'python', code: 'pass', files: [{ path: 'a', content: 42 as unknown as string }] }),
      { name: 'TypeError', message: 'Runbox: options.files[0].content: expected a string or a Uint8Array, received 42' },
    );
    await assert.rejects(
      client.execute({ runtime: 'python', code: 'pass', tools: { 'runbox.install': { description: 'mine', handler: () => 1 } } }),
      { name: 'TypeError', message: `Runbox: options.tools.runbox.install: expected a name that does not start with "runbox." (kept for the daemon's own tools), received "runbox.install"` },
    );
  });
});

describe('RunboxClient connection handling', () => {
  it('a daemon that shuts down cancels running executes with a result saying so; the client reconnects after', async () => {
    const first = await startDaemon();
    const client = new RunboxClient({ url: first.url });
    let firstClosed: Promise<void> | undefined;
    try {
      const warm = await client.execute({ runtime: 'python', code: 'set_result(1)' });
      assert.equal(warm.result, 1);

      let seen = '';
      const running = client.execute({ runtime: 'python', code: 'print("up", flush=True)\nimport time\ntime.sleep(60)', onStdout: (chunk) => { seen += chunk; if (seen.includes('\n')) firstClosed ??= first.close(); } });
      const ended = await running;
      assert.equal(ended.status, 'cancelled');
      assert.match(ended.error?.message ?? '', /daemon shut down/);
      assert.equal(ended.stdout, 'up\n');
      await firstClosed;

      await assert.rejects(client.execute({ runtime: 'python', code: 'pass' }), (error: unknown) => {
        assert.ok(error instanceof RunboxConnectionError, String(error));
        assert.equal(error.code, 'connection_error');
        assert.match(error.message, /ECONNREFUSED|connect/);
        return true;
      });
      await assert.rejects(client.health(), RunboxConnectionError);

      // A daemon back on the same port: the same client reconnects on its next execute.
      const second = await startDaemon({ port: Number(new URL(first.url).port) });
      try {
        const again = await client.execute({ runtime: 'node', code: 'return "back"' });
        assert.equal(again.result, 'back');
      } finally {
        await client.close();
        await second.close();
      }
    } finally {
      await client.close();
      await (firstClosed ?? first.close());
    }
  });

  it('rejects a missing token with a 401 RunboxAPIError on both HTTP and the WebSocket', async () => {
    const daemon = await startDaemon({ token: 'sesame' });
    const anonymous = new RunboxClient({ url: daemon.url, token: '' });
    const authorized = new RunboxClient({ url: daemon.url, token: 'sesame' });
    try {
      for (const attempt of [anonymous.execute({ runtime: 'python', code: 'pass' }), anonymous.runtimes()]) {
        await assert.rejects(attempt, (error: unknown) => {
          assert.ok(error instanceof RunboxAPIError, String(error));
          assert.equal(error.status, 401);
          assert.equal(error.code, 'unauthorized');
          return true;
        });
      }
      const out = await authorized.execute({ runtime: 'python', code: 'set_result("in")' });
      assert.equal(out.result, 'in');
      assert.equal((await authorized.health()).ok, true);
    } finally {
      await anonymous.close();
      await authorized.close();
      await daemon.close();
    }
  });

  it('a full queue rejects with queue_full and says when to retry (retryAfterMs)', async () => {
    const daemon = await startDaemon({ maxConcurrent: 1, maxQueued: 0 });
    const client = new RunboxClient({ url: daemon.url });
    try {
      const busy = client.execute({ runtime: 'python', code: 'import time\ntime.sleep(1.5)\nset_result("done")' });
      await sleep(300);
      await assert.rejects(client.execute({ runtime: 'python', code: 'pass' }), (error: unknown) => {
        assert.ok(error instanceof RunboxAPIError, String(error));
        assert.equal(error.code, 'queue_full');
        assert.ok(typeof error.retryAfterMs === 'number' && error.retryAfterMs > 0, `retryAfterMs: ${error.retryAfterMs}`);
        return true;
      });
      assert.equal((await busy).result, 'done');
    } finally {
      await client.close();
      await daemon.close();
    }
  });
});
