// client.stream() and session.stream() against a real daemon with real sandboxes: events in order (output,
// parallel tool calls and their answers, files, the result last), output that arrives while the code still
// runs, leaving the loop early (the execution is cancelled and its processes are gone), and errors thrown
// from the iterator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RunboxAbortError,
  RunboxAPIError,
  RunboxClient,
  RunboxConnectionError,
  RunboxError,
  type ExecutionEvent,
  type ExecutionResult,
  type Runtime,
} from 'runbox/sdk';
import { findProcesses, startDaemon, waitForNoProcesses, type TestDaemon } from '../helpers/daemon.js';

// Reads a stream to its end, returning every event.
async function collect(stream: AsyncIterable<ExecutionEvent>): Promise<ExecutionEvent[]> {
  const events: ExecutionEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

function resultOf(events: ExecutionEvent[]): ExecutionResult {
  const last = events.at(-1);
  assert.equal(last?.type, 'result', `the last event is the result (got ${JSON.stringify(last)})`);
  return (last as Extract<ExecutionEvent, { type: 'result' }>).result;
}

function textOf(events: ExecutionEvent[], type: 'stdout' | 'stderr'): string {
  return events.map((event) => (event.type === type ? event.data : '')).join('');
}

describe('client.stream()', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;
  const strayErrors: RunboxError[] = [];

  before(async () => {
    daemon = await startDaemon({}, { logs: true });
    client = new RunboxClient({ url: daemon.url, onError: (error) => strayErrors.push(error) });
  });

  after(async () => {
    await client?.close();
    await daemon?.close();
    assert.deepEqual(strayErrors, [], 'no error went to onError');
  });

  it('yields output, parallel tool calls and their answers, files, then the result, and ends', async () => {
    const onStdout: string[] = [];
    const stream = client.stream({
      runtime: 'python',
      code: [
        'import sys',
        'print("start", flush=True)',
        'print("careful", file=sys.stderr, flush=True)',
        'a, b, c = await asyncio.gather(slow(n=1), slow(n=2), guarded(n=3))',
        'open("report.txt", "w").write(f"{a}+{b}+{c}")',
        'print("end", flush=True)',
        'set_result({"sum": a + b + c}, files=["report.txt"])',
      ].join('\n'),
      onStdout: (chunk) => onStdout.push(chunk),
      tools: {
        slow: {
          parameters: { type: 'object', properties: { n: { type: 'number' } } },
          handler: async ({ n }: { n: number }) => {
            await sleep(200);
            return n * 10;
          },
        },
        guarded: {
          parameters: { type: 'object', properties: { n: { type: 'number' } } },
          needsApproval: true,
          handler: ({ n }: { n: number }) => n * 10,
        },
      },
      onToolCall: () => ({ decision: 'approve' }),
    });
    const events = await collect(stream);
    const result = resultOf(events);
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    assert.deepEqual(result.result, { sum: 60 });
    assert.equal(textOf(events, 'stdout'), 'start\nend\n');
    assert.equal(textOf(events, 'stdout'), result.stdout, 'the result holds the full output too');
    assert.equal(textOf(events, 'stderr'), 'careful\n');
    assert.equal(onStdout.join(''), result.stdout, 'onStdout still gets the output');

    const calls = events.filter((event) => event.type === 'tool_call');
    const answers = events.filter((event) => event.type === 'tool_result');
    assert.deepEqual(calls.map((call) => [call.tool, call.args]).sort(), [['guarded', { n: 3 }], ['slow', { n: 1 }], ['slow', { n: 2 }]]);
    assert.equal(new Set(calls.map((call) => call.callId)).size, 3);
    for (const call of calls) {
      const answer = answers.find((candidate) => candidate.callId === call.callId);
      assert.ok(answer, `call ${call.callId} was answered`);
      assert.ok(events.indexOf(call) < events.indexOf(answer), 'a call comes before its answer');
      assert.equal(answer.tool, call.tool);
      assert.equal(answer.outcome, 'ok');
      assert.equal(answer.result, (call.args as { n: number }).n * 10);
      assert.deepEqual(answer.approval, call.tool === 'guarded' ? { decision: 'approved' } : undefined);
    }
    const slowCalls = calls.filter((call) => call.tool === 'slow').map((call) => events.indexOf(call));
    const slowAnswers = answers.filter((answer) => answer.tool === 'slow').map((answer) => events.indexOf(answer));
    assert.ok(Math.max(...slowCalls) < Math.min(...slowAnswers), 'the parallel calls were both out before either was answered');
    assert.ok(slowAnswers.every((index) => (events[index] as { durationMs: number }).durationMs >= 190));
    const end = events.findIndex((event) => event.type === 'stdout' && event.data.includes('end'));
    assert.ok(end > Math.max(...answers.map((answer) => events.indexOf(answer))), '"end" is printed after the answers');

    const files = events.filter((event) => event.type === 'file');
    assert.deepEqual(events.slice(-1 - files.length, -1), files, 'the files come just before the result');
    assert.deepEqual(files.map((event) => [event.file.path, event.file.content.toString('utf8')]), [['report.txt', '10+20+30']]);
    assert.deepEqual(files.map((event) => event.file), result.files);

    // Read to its end: the iterator stays ended.
    assert.deepEqual(await stream.next(), { done: true, value: undefined });
  });

  for (const [runtime, code] of [
    ['python', 'print("ready", flush=True)\nawait wait_for_go()\nprint("done")'],
    ['node', 'console.log("ready");\nawait wait_for_go();\nconsole.log("done");'],
  ] as [Runtime, string][]) {
    it(`${runtime}: output arrives while the code still runs (the code waits until the reader has seen it)`, async () => {
      let go = () => {};
      const released = new Promise<void>((resolve) => (go = resolve));
      let seen = '';
      const order: string[] = [];
      // Were events held back until the code ends, this would wait for the timeout and end `timeout`.
      for await (const event of client.stream({
        runtime,
        code,
        timeoutMs: 20_000,
        tools: { wait_for_go: { handler: () => released } },
      })) {
        order.push(event.type);
        if (event.type === 'stdout') {
          seen += event.data;
          if (seen.includes('ready\n')) go();
        }
        if (event.type === 'result') {
          assert.equal(event.result.status, 'ok', JSON.stringify(event.result.error));
          assert.equal(event.result.stdout, 'ready\ndone\n');
        }
      }
      assert.equal(seen, 'ready\ndone\n');
      assert.equal(order.at(-1), 'result');
      assert.ok(order.indexOf('tool_result') < order.lastIndexOf('stdout'), 'the answer came before "done" was printed');
    });
  }

  it('leaving the loop early cancels the execution: return() waits for its end, its processes are gone', async () => {
    const needle = `${Math.floor(Math.random() * 1e6)}.25`;
    let seen = '';
    const stream = client.stream({
      runtime: 'python',
      code: `import subprocess\nchild = subprocess.Popen(["sleep", "${needle}"])\nprint("tick", flush=True)\nchild.wait()`,
      timeoutMs: 60_000,
    });
    for await (const event of stream) {
      if (event.type === 'stdout') seen += event.data;
      if (seen.includes('tick\n')) {
        // The code prints once Popen returned; the child is polled for a moment rather than read once from /proc.
        let found = 0;
        for (let i = 0; i < 100 && found === 0; i++) found = (await findProcesses(needle)).length || (await sleep(20), 0);
        assert.ok(found > 0, 'the child runs while the code does');
        break;
      }
    }
    const finished = daemon.logs.filter((line) => line.msg === 'execution finished');
    assert.equal(finished.at(-1)?.status, 'cancelled', 'the daemon had ended the execution when the loop was left');
    await waitForNoProcesses(needle);
    assert.deepEqual(await stream.next(), { done: true, value: undefined }, 'a left stream stays ended');
    const out = await client.execute({ runtime: 'python', code: 'set_result("still working")' });
    assert.equal(out.result, 'still working');
  });

  it('leaving the loop while an approval is pending cancels the call: its handler never runs', async () => {
    let ran = false;
    let hookSignal: AbortSignal | undefined;
    for await (const event of client.stream({
      runtime: 'node',
      code: 'await charge({ amount: 5 });',
      tools: { charge: { parameters: { type: 'object', properties: { amount: { type: 'number' } } }, needsApproval: true, handler: () => (ran = true) } },
      onToolCall: ({ signal }) => {
        hookSignal = signal;
        return new Promise(() => {}); // Never decides.
      },
    })) {
      if (event.type === 'tool_call') break;
    }
    assert.equal(hookSignal?.aborted, true, "the hook's signal says the decision is no longer wanted");
    await sleep(100);
    assert.equal(ran, false);
    assert.equal(daemon.logs.filter((line) => line.msg === 'execution finished').at(-1)?.status, 'cancelled');
  });

  it('throws from the iterator: a request the daemon refuses, the caller aborting, the connection closing', async () => {
    await assert.rejects(collect(client.stream({ runtime: 'ruby' as Runtime, code: 'puts 1' })), (error: unknown) => {
      assert.ok(error instanceof RunboxAPIError, String(error));
      assert.equal(error.code, 'invalid_request');
      assert.match(error.message, /runtime/);
      return true;
    });

    const controller = new AbortController();
    const aborted: ExecutionEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const event of client.stream({ runtime: 'node', code: 'console.log("up");\nwhile (true) {}', signal: controller.signal })) {
          aborted.push(event);
          if (event.type === 'stdout') controller.abort();
        }
      })(),
      (error: unknown) => {
        assert.ok(error instanceof RunboxAbortError, String(error));
        assert.equal(error.result?.status, 'cancelled');
        return true;
      },
    );
    assert.equal(aborted[0]?.type, 'stdout');

    const own = new RunboxClient({ url: daemon.url });
    const closing = own.stream({ runtime: 'python', code: 'print("up", flush=True)\nimport time\ntime.sleep(60)' });
    await assert.rejects(
      (async () => {
        for await (const event of closing) if (event.type === 'stdout') void own.close();
      })(),
      (error: unknown) => error instanceof RunboxConnectionError && /the client was closed/.test(error.message),
    );
    await own.close();
  });

  it('session.stream() runs in the session workspace, after which session.execute() sees its files', async () => {
    const session = await client.createSession();
    try {
      const events = await collect(session.stream({ runtime: 'python', code: 'open("kept.txt", "w").write("from the stream")\nprint("wrote")' }));
      assert.equal(resultOf(events).status, 'ok');
      assert.equal(textOf(events, 'stdout'), 'wrote\n');
      const out = await session.execute({ runtime: 'node', code: 'return require("fs").readFileSync("kept.txt", "utf8");' });
      assert.equal(out.result, 'from the stream');
      assert.throws(() => session.stream({ runtime: 'python', code: 'pass', sessionId: 'ses_x' } as never), {
        name: 'TypeError',
        message: 'Runbox: options.sessionId: expected nothing (session.execute() fills in its own session id), received "ses_x"',
      });
    } finally {
      await session.close();
    }
  });
});
