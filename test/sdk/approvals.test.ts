// Tool-call approvals against a real daemon with real sandboxes: needsApproval (always, per call), the
// onToolCall hook's answers (approve, modify, deny, invalid, throwing, too late), no hook, an execution that
// ends while a decision is pending, and the per-call records of onToolCallFinish.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RunboxAbortError,
  RunboxClient,
  RunboxError,
  RunboxHookError,
  type ExecuteOptions,
  type Runtime,
  type ToolCallDecision,
  type ToolCallRecord,
  type ToolCallLogEntry,
  type ToolCallRequest,
  type ToolDefinition,
} from 'runbox/sdk';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

/** The code's view of one call: `['ok', result]` or `[error class, message, error code]`. */
type Outcome = ['ok', unknown] | [string, string, unknown];

/** Code that calls `echo(value=v)` for each of the input `values` in turn, catching ToolErrors, and returns what it saw. */
const ECHO_EACH: Record<Runtime, string> = {
  python: [
    'out = []',
    'for value in values:',
    '    try:',
    '        out.append(["ok", await echo(value=value)])',
    '    except ToolError as error:',
    '        out.append([type(error).__name__, str(error), error.code])',
    'set_result(out)',
  ].join('\n'),
  node: [
    'const out = [];',
    'for (const value of values) {',
    '  try { out.push(["ok", await echo({ value })]); }',
    '  catch (error) { out.push([error.name, error.message, error.code]); }',
    '}',
    'setResult(out);',
  ].join('\n'),
};

// An echo tool that logs each run of its handler (the value it got) into `ran`.
function echoTool(ran: unknown[], needsApproval: ToolDefinition['needsApproval'] = true): ToolDefinition {
  return {
    description: 'Echoes its value',
    parameters: { type: 'object', properties: { value: {} } },
    needsApproval,
    handler: ({ value }: { value: unknown }) => {
      ran.push(value);
      return { echoed: value };
    },
  };
}

describe('tool-call approvals', () => {
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
    assert.deepEqual(strayErrors, [], 'no error went to onError');
  });

  // Runs ECHO_EACH over values with these options; returns what the code saw.
  async function echoEach(runtime: Runtime, values: unknown[], options: Partial<ExecuteOptions>, log: ToolCallLogEntry[] = []): Promise<Outcome[]> {
    const out = await client.execute({ runtime, code: ECHO_EACH[runtime], inputs: { values }, timeoutMs: 30_000, ...options });
    assert.equal(out.status, 'ok', JSON.stringify(out.error));
    log.push(...out.toolCallLog);
    return out.result as Outcome[];
  }

  for (const runtime of ['python', 'node'] as const) {
    it(`${runtime}: approves, approves with other arguments, and denies; the handler runs only after an approval`, async () => {
      const events: string[] = [];
      const ran: unknown[] = [];
      const requests: ToolCallRequest[] = [];
      const records: ToolCallRecord[] = [];
      const decisions: Record<number, ToolCallDecision> = {
        1: { decision: 'approve' },
        2: { decision: 'approve', args: { value: 20 } },
        3: { decision: 'deny', reason: 'value 3 is not allowed' },
        4: true,
        5: false,
      };
      const daemonLog: ToolCallLogEntry[] = [];
      const tool = echoTool(ran);
      const handler = tool.handler;
      tool.handler = (args, context) => {
        events.push(`handler ${args.value}`);
        return handler(args, context);
      };
      const seen = await echoEach(runtime, [1, 2, 3, 4, 5], {
        tools: { echo: tool },
        onToolCall: async (request) => {
          requests.push(request);
          const value = (request.args as { value: number }).value;
          events.push(`hook ${value}`);
          await sleep(20); // The code waits meanwhile: nothing runs before the decision.
          return decisions[value];
        },
        onToolCallFinish: (record) => records.push(record),
      }, daemonLog);
      assert.deepEqual(seen.map((entry) => entry.slice(0, 2)), [
        ['ok', { echoed: 1 }],
        ['ok', { echoed: 20 }],
        ['ToolError', 'value 3 is not allowed'],
        ['ok', { echoed: 4 }],
        ['ToolError', 'onToolCall denied echo'],
      ]);
      assert.deepEqual([seen[2][2], seen[4][2]], ['approval_denied', 'approval_denied'], "the code's ToolError .code");
      assert.deepEqual(ran, [1, 20, 4]);
      assert.deepEqual(events, ['hook 1', 'handler 1', 'hook 2', 'handler 20', 'hook 3', 'hook 4', 'handler 4', 'hook 5']);

      assert.deepEqual(requests.map((request) => [request.tool, request.args]), [1, 2, 3, 4, 5].map((value) => ['echo', { value }]));
      for (const request of requests) {
        assert.match(request.executionId, /^e\d+$/);
        assert.equal(typeof request.callId, 'string');
        assert.ok(request.signal instanceof AbortSignal);
        assert.equal(request.signal.aborted, true, 'the signal is aborted once the decision is made');
      }
      assert.equal(new Set(requests.map((request) => request.callId)).size, 5);

      assert.deepEqual(records.map((record) => [record.callId, record.outcome, record.approval]), [
        [requests[0].callId, 'ok', { decision: 'approved' }],
        [requests[1].callId, 'ok', { decision: 'modified' }],
        [requests[2].callId, 'denied', { decision: 'denied', reason: 'value 3 is not allowed' }],
        [requests[3].callId, 'ok', { decision: 'approved' }],
        [requests[4].callId, 'denied', { decision: 'denied', reason: 'onToolCall denied echo' }],
      ]);
      // The daemon's log of the execution holds the decisions the SDK sent with its answers.
      assert.deepEqual(daemonLog.map((entry) => [entry.callId, entry.outcome, entry.approval]), records.map((record) => [record.callId, record.outcome, record.approval]));
      assert.deepEqual(records[1].args, { value: 2 }, 'the record keeps what the code asked for');
      assert.deepEqual(records[1].modifiedArgs, { value: 20 });
      assert.equal(records[0].resultBytes, Buffer.byteLength(JSON.stringify({ echoed: 1 })));
      assert.equal(records[2].error, 'value 3 is not allowed');
      assert.equal(records[2].resultBytes, undefined);
      for (const record of records) {
        assert.equal(record.tool, 'echo');
        assert.ok(record.startedAt instanceof Date);
        assert.ok(record.approvalMs !== undefined && record.approvalMs >= 15, `approvalMs ${record.approvalMs} covers the hook's wait`);
        assert.ok(record.durationMs >= record.approvalMs, `durationMs ${record.durationMs} ≥ approvalMs ${record.approvalMs}`);
      }
    });

    it(`${runtime}: a decision still pending past approvalTimeoutMs denies the call, and the code goes on`, async () => {
      const ran: unknown[] = [];
      const signals: AbortSignal[] = [];
      let lateDecision: ((decision: ToolCallDecision) => void) | undefined;
      const records: ToolCallRecord[] = [];
      const seen = await echoEach(runtime, [1, 2], {
        tools: { echo: echoTool(ran) },
        approvalTimeoutMs: 300,
        onToolCall: ({ args, signal }) => {
          signals.push(signal);
          if ((args as { value: number }).value === 2) return { decision: 'approve' };
          return new Promise<ToolCallDecision>((resolve) => (lateDecision = resolve)); // Never decided in time.
        },
        onToolCallFinish: (record) => records.push(record),
      });
      assert.equal(seen[0][0], 'ToolError');
      assert.equal(seen[0][1], 'no approval decision within 300 ms');
      assert.equal(seen[0][2], 'approval_denied');
      assert.deepEqual(seen[1], ['ok', { echoed: 2 }]);
      assert.equal(signals[0].aborted, true, "the hook's signal told it the decision is no longer wanted");
      lateDecision?.({ decision: 'approve' }); // Too late: ignored.
      await sleep(50);
      assert.deepEqual(ran, [2]);
      assert.deepEqual(records.map((record) => record.outcome), ['denied', 'ok']);
      assert.ok(records[0].durationMs >= 290 && records[0].durationMs < 20_000, `waited about 300 ms (${records[0].durationMs})`);
    });
    it(`${runtime}: arguments an approval changed are checked against the tool's parameters; a refused change denies the call with the field and the rule`, async () => {
      const ran: unknown[] = [];
      const records: ToolCallRecord[] = [];
      const tool = echoTool(ran);
      tool.parameters = { type: 'object', properties: { value: { type: 'integer', minimum: 0 } }, required: ['value'], additionalProperties: false };
      const changes: Record<number, Record<string, unknown>> = { 1: { value: 'one' }, 2: {}, 3: { value: 3, extra: true }, 4: { value: -4 }, 5: { value: 50 } };
      const seen = await echoEach(runtime, [1, 2, 3, 4, 5], {
        tools: { echo: tool },
        onToolCall: ({ args }) => ({ decision: 'approve', args: changes[(args as { value: number }).value] }),
        onToolCallFinish: (record) => records.push(record),
      });
      const refused = 'onToolCall approved echo with changed arguments its schema refuses: ';
      // After the prefix, each reason reads as the daemon's own check of the code's arguments (docs/errors.md, invalid_arguments).
      assert.deepEqual(seen, [
        ['ToolError', `${refused}echo: arguments.value must be integer (type)`, 'approval_denied'],
        ['ToolError', `${refused}echo: arguments must have required property 'value' (required)`, 'approval_denied'],
        ['ToolError', `${refused}echo: arguments must NOT have additional properties (additionalProperties: "extra")`, 'approval_denied'],
        ['ToolError', `${refused}echo: arguments.value must be >= 0 (minimum)`, 'approval_denied'],
        ['ok', { echoed: 50 }],
      ]);
      assert.deepEqual(ran, [50], 'the handler never ran with refused arguments');
      assert.deepEqual(records.map((record) => [record.outcome, record.approval?.decision, record.modifiedArgs]), [
        ['denied', 'denied', undefined], ['denied', 'denied', undefined], ['denied', 'denied', undefined], ['denied', 'denied', undefined],
        ['ok', 'modified', { value: 50 }],
      ]);
      assert.equal(records[0].approval?.reason, seen[0][1]);
      // The same wrong value from the code itself is refused by the daemon with the same field and rule.
      const direct = await client.execute({ runtime, code: runtime === 'python' ? 'await echo(value="one")' : 'await echo({ value: "one" })', tools: { echo: tool }, timeoutMs: 30_000 });
      assert.equal(direct.status, 'error');
      assert.ok(direct.error?.message.includes('echo: arguments.value must be integer (type)'), direct.error?.message);
    });
  }

  it('needsApproval as a function decides per call; when it throws, the call is denied', async () => {
    const ran: unknown[] = [];
    const asked: unknown[] = [];
    const records: ToolCallRecord[] = [];
    const seen = await echoEach('python', [50, 500, -1], {
      tools: {
        echo: echoTool(ran, async (args: { value: number }, context) => {
          assert.match(context.executionId, /^e\d+$/);
          if (args.value < 0) throw new Error('negative amount');
          return args.value > 100;
        }),
      },
      onToolCall: ({ args }) => {
        asked.push(args);
        return { decision: 'approve' };
      },
      onToolCallFinish: (record) => records.push(record),
    });
    assert.deepEqual(seen.slice(0, 2), [['ok', { echoed: 50 }], ['ok', { echoed: 500 }]]);
    assert.equal(seen[2][0], 'ToolError');
    assert.equal(seen[2][1], 'needsApproval of echo failed: negative amount');
    assert.deepEqual(asked, [{ value: 500 }], 'only the call that needed approval reached the hook');
    assert.deepEqual(ran, [50, 500]);
    assert.deepEqual(records.map((record) => record.approval), [undefined, { decision: 'approved' }, { decision: 'denied', reason: 'needsApproval of echo failed: negative amount' }]);
    assert.equal(records[0].approvalMs, undefined);
    assert.equal('approval' in records[0], false, 'a call that needed no approval has no approval in its record');
  });

  it('a hook that throws, or answers anything but a decision, denies the call naming what it received', async () => {
    const ran: unknown[] = [];
    const answers: Record<number, () => unknown> = {
      1: () => {
        throw new Error('policy service down');
      },
      2: () => ({ decision: 'maybe' }),
      3: () => ({ decision: 'approve', args: [1] }),
      4: () => ({ decision: 'approve', args: { when: new Date(0) } }),
      5: () => ({ decision: 'deny' }),
      6: () => undefined,
      7: () => ({ decision: 'deny', reason: 'no. '.repeat(750) }),
    };
    const records: ToolCallRecord[] = [];
    const seen = await echoEach('node', [1, 2, 3, 4, 5, 6, 7], {
      onToolCallFinish: (record) => records.push(record),
      tools: { echo: echoTool(ran) },
      onToolCall: ({ args }) => answers[(args as { value: number }).value]() as ToolCallDecision,
    });
    const invalid = 'onToolCall answered echo with an invalid decision: expected {decision: "approve"}, {decision: "approve", args}, {decision: "deny", reason} or a boolean, received';
    assert.deepEqual(seen.map((entry) => [entry[0], entry[1]]), [
      ['ToolError', 'policy service down'],
      ['ToolError', `${invalid} {"decision":"maybe"}`],
      ['ToolError', 'onToolCall approved echo with args that are not a plain JSON object: received [1]'],
      ['ToolError', 'onToolCall approved echo with args that are not a plain JSON object: received {"when":"1970-01-01T00:00:00.000Z"}'],
      ['ToolError', `${invalid} {"decision":"deny"}`],
      ['ToolError', `${invalid} undefined`],
      // A reason longer than the daemon takes (1000 characters) is cut, marked with `…`.
      ['ToolError', `${'no. '.repeat(750).slice(0, 999)}…`],
    ]);
    assert.deepEqual(records.map((record) => record.outcome), Array(7).fill('denied'));
    assert.equal(records[6].approval?.reason, seen[6][1], 'the record holds the reason as the code got it');
    assert.deepEqual(ran, [], 'no handler ran');
    assert.deepEqual(seen.map((entry) => entry[2]), Array(7).fill('approval_denied'));
  });

  it('a call that needs approval is denied when the client has no onToolCall hook', async () => {
    const ran: unknown[] = [];
    const seen = await echoEach('python', [1], { tools: { echo: echoTool(ran) } });
    assert.equal(seen[0][0], 'ToolError');
    assert.equal(seen[0][1], 'echo needs approval and this client has no onToolCall hook');
    assert.equal(seen[0][2], 'approval_denied');
    assert.deepEqual(ran, []);
  });

  it('an execution that ends while a decision is pending ignores the decision and sends nothing', async () => {
    const ran: unknown[] = [];
    const records: ToolCallRecord[] = [];
    const controller = new AbortController();
    let hookSignal: AbortSignal | undefined;
    let decide: ((decision: ToolCallDecision) => void) | undefined;
    const running = client.execute({
      runtime: 'python',
      code: ECHO_EACH.python,
      inputs: { values: [1] },
      tools: { echo: echoTool(ran) },
      signal: controller.signal,
      onToolCall: ({ signal }) => {
        hookSignal = signal;
        setImmediate(() => controller.abort());
        return new Promise<ToolCallDecision>((resolve) => (decide = resolve));
      },
      onToolCallFinish: (record) => records.push(record),
    });
    await assert.rejects(running, (error: unknown) => {
      assert.ok(error instanceof RunboxAbortError, String(error));
      assert.equal(error.result?.status, 'cancelled');
      return true;
    });
    assert.equal(hookSignal?.aborted, true, "the hook's signal says the execution ended");
    decide?.({ decision: 'approve' });
    await sleep(200);
    assert.deepEqual(ran, [], 'the late approval ran nothing');
    assert.deepEqual(records, [], 'no answer was sent, so none is recorded');
    // The connection is still fine, and no late answer came back as an error (strayErrors is checked in after()).
    const out = await client.execute({ runtime: 'python', code: 'set_result(1)' });
    assert.equal(out.result, 1);
  });

  it('onToolCallFinish records every answered call; one that throws goes to onError and the execution goes on', async () => {
    const reported: RunboxError[] = [];
    const own = new RunboxClient({ url: daemon.url, onError: (error) => reported.push(error) });
    const records: ToolCallRecord[] = [];
    try {
      const out = await own.execute({
        runtime: 'node',
        code: [
          'const a = await slow({ ms: 120 });',
          'let failure = null;',
          'try { await fail(); } catch (error) { failure = error.message; }',
          'setResult({ a, failure });',
        ].join('\n'),
        tools: {
          slow: {
            parameters: { type: 'object', properties: { ms: { type: 'number' } } },
            handler: async ({ ms }: { ms: number }) => {
              await sleep(ms);
              return 'slept';
            },
          },
          fail: {
            handler: () => {
              throw new Error('no such order');
            },
          },
        },
        onToolCallFinish: (record) => {
          records.push(record);
          throw new Error(`finish hook broke on ${record.tool}`);
        },
      });
      assert.equal(out.status, 'ok', JSON.stringify(out.error));
      assert.deepEqual(out.result, { a: 'slept', failure: 'no such order' });
      assert.deepEqual(records.map((record) => [record.tool, record.outcome, record.error, record.resultBytes]), [
        ['slow', 'ok', undefined, Buffer.byteLength('"slept"')],
        ['fail', 'error', 'no such order', undefined],
      ]);
      assert.deepEqual(records[0].args, { ms: 120 });
      assert.ok(records[0].durationMs >= 110 && records[0].durationMs < 20_000, `durationMs ${records[0].durationMs} covers the handler`);
      assert.ok(records[0].startedAt.getTime() <= records[1].startedAt.getTime());
      assert.equal(reported.length, 2);
      for (const [index, error] of reported.entries()) {
        assert.ok(error instanceof RunboxHookError, String(error));
        assert.equal(error.code, 'hook_error');
        assert.equal(error.hook, 'onToolCallFinish');
        assert.equal((error.cause as Error).message, `finish hook broke on ${records[index].tool}`);
        assert.match(error.message, /^Runbox: onToolCallFinish threw \(execution e\d+\): finish hook broke on/);
      }
    } finally {
      await own.close();
    }
  });

  it('rejects bad approval options at the boundary, naming them', async () => {
    const base = { runtime: 'python' as const, code: 'pass' };
    const cases: [Partial<ExecuteOptions>, string][] = [
      [{ approvalTimeoutMs: 0 }, 'options.approvalTimeoutMs: expected an integer number of milliseconds from 1 to 2147483647, received 0'],
      [{ approvalTimeoutMs: 'soon' as unknown as number }, 'options.approvalTimeoutMs: expected an integer number of milliseconds from 1 to 2147483647, received "soon"'],
      [{ approvalTimeoutMs: 2 ** 31 }, 'options.approvalTimeoutMs: expected an integer number of milliseconds from 1 to 2147483647, received 2147483648'],
      [{ onToolCall: 'approve' as unknown as ExecuteOptions['onToolCall'] }, 'options.onToolCall: expected a function (call) => decision, received "approve"'],
      [{ onToolCallFinish: 1 as unknown as ExecuteOptions['onToolCallFinish'] }, 'options.onToolCallFinish: expected a function (record) => void, received 1'],
      [
        { tools: { pay: { handler: () => 1, needsApproval: 'always' as unknown as boolean } } },
        'options.tools.pay.needsApproval: expected a boolean or a function (args, context) => boolean, received "always"',
      ],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(client.execute({ ...base, ...options }), { name: 'TypeError', message: `Runbox: ${message}` });
      assert.throws(() => client.stream({ ...base, ...options }), { name: 'TypeError', message: `Runbox: ${message}` });
    }
  });
});
