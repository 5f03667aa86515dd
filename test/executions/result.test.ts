// The result object, built in one place: who cancelled an execution names itself in the message, whether it ran
// or waited for a slot, and the result carries the final durationMs (from acceptance) as given.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildResult, cancelledBeforeStart, decideOutcome, startFailedResult, type Observed } from '../../daemon/executions/result.js';

const killed: Observed = {
  killReason: 'cancelled',
  timeoutMs: 1000,
  exit: { exitCode: null, signal: 'SIGKILL' },
  done: null,
  bridgeProblem: null,
  fileErrors: [],
  sandboxed: true,
};

test('a cancelled execution says who cancelled it: its client, the shutdown, or its session', () => {
  assert.equal(decideOutcome(killed).error?.message, 'the execution was cancelled by the client');
  assert.equal(decideOutcome({ ...killed, cancelReason: 'client' }).error?.message, 'the execution was cancelled by the client');
  assert.match(decideOutcome({ ...killed, cancelReason: 'shutdown' }).error?.message ?? '', /the daemon shut down before the execution finished \(its shutdown grace period, shutdownGraceMs, ran out\)/);
  assert.equal(decideOutcome({ ...killed, cancelReason: 'session' }).error?.message, 'its session was deleted or expired while the execution ran');
  for (const reason of ['client', 'shutdown', 'session'] as const) {
    const outcome = decideOutcome({ ...killed, cancelReason: reason, kernel: { cpuTimeMs: 5, oomKills: 1, forkFailures: 0 } });
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.error?.type, 'Cancelled');
  }
});

test('an execution cancelled while it waited for a slot never ran, and says who cancelled it', () => {
  const messages = {
    client: 'the execution was cancelled by the client while it waited for a slot',
    shutdown: 'the daemon shut down before the execution could start',
    session: 'its session was deleted or expired before the execution could start',
  };
  for (const [reason, message] of Object.entries(messages)) {
    const result = cancelledBeforeStart(reason as keyof typeof messages, 12.3456);
    assert.deepEqual(result, {
      status: 'cancelled',
      result: null,
      stdout: '',
      stderr: '',
      files: [],
      fileErrors: [],
      error: { type: 'Cancelled', message, traceback: '' },
      exitCode: null,
      durationMs: 12.35,
      toolCalls: 0,
      toolCallLog: [],
      budgetsExceeded: [],
    });
  }
});

test('a sandbox that could not start is a SandboxError whose details stay in the log', () => {
  const result = startFailedResult(Object.assign(new Error('EMFILE: /secret/work/exec-1'), { code: 'EMFILE' }), 3);
  assert.equal(result.status, 'error');
  assert.equal(result.error?.type, 'SandboxError');
  assert.match(result.error?.message ?? '', /out of file descriptors/);
  assert.doesNotMatch(result.error?.message ?? '', /secret/);
  assert.match(startFailedResult(new Error('x'), 0).error?.message ?? '', /the daemon's log has the details/);
});

test('a sandbox whose own spawn failed for want of descriptors says so in the same words, without the path', () => {
  const spawnFailed = (spawnError: string) => decideOutcome({ ...killed, killReason: null, exit: { exitCode: null, signal: null, spawnError } });
  assert.equal(spawnFailed('spawn /usr/bin/setpriv EMFILE').error?.message, 'the sandbox could not be started: the daemon is out of file descriptors right now (EMFILE); try again shortly');
  assert.equal(spawnFailed('spawn /usr/bin/setpriv ENOENT').error?.message, 'the sandbox could not be started: spawn /usr/bin/setpriv ENOENT');
});

test('a result carries what the code gathered; the code\'s own result only when Runbox did not kill it', () => {
  const ran: Observed = { ...killed, killReason: null, exit: { exitCode: 0, signal: null }, done: { result: { answer: 42 }, error: null } };
  const gathered = { stdout: 'out', stderr: 'err', files: [{ path: 'a.txt', mimeType: 'text/plain', size: 2, content: Buffer.from('hi') }], durationMs: 101.239, toolCalls: 3 };
  assert.deepEqual(buildResult(ran, gathered), {
    status: 'ok',
    result: { answer: 42 },
    stdout: 'out',
    stderr: 'err',
    files: [{ path: 'a.txt', mimeType: 'text/plain', size: 2, content: 'aGk=' }],
    fileErrors: [],
    error: null,
    exitCode: 0,
    durationMs: 101.24,
    toolCalls: 3,
    toolCallLog: [],
    budgetsExceeded: [],
  });
  const timedOut = buildResult({ ...ran, killReason: 'timeout' }, gathered);
  assert.equal(timedOut.status, 'timeout');
  assert.equal(timedOut.result, null);
});
