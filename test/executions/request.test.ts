import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExecutionRequest } from '../../daemon/executions/request.js';
import { decideOutcome } from '../../daemon/executions/result.js';
import { OutputCapture } from '../../daemon/executions/output.js';

const limits = {
  defaultTimeoutMs: 30000, maxTimeoutMs: 60000, maxCodeBytes: 100, maxFileBytes: 10, maxTotalFileBytes: 15,
  memoryBytes: 64 * 1024 * 1024, maxProcesses: 64, cpuTimeMs: 10000, maxOutputBytes: 1000, maxToolCalls: 5,
};
const parse = (body: unknown, toolsAllowed = true) => parseExecutionRequest(body, limits, { toolsAllowed, envelope: ['type', 'id'] });

test('request: a minimal request gets the default timeout', () => {
  const request = parse({ runtime: 'python', code: 'print(1)' });
  assert.equal(request.timeoutMs, 30000);
  assert.deepEqual(request.files, []);
  assert.equal(request.limits.memoryBytes, 64 * 1024 * 1024);
  assert.equal(parse({ runtime: 'python', code: '', limits: { maxToolCalls: 0, memoryBytes: 32 * 1024 * 1024 } }).limits.memoryBytes, 32 * 1024 * 1024);
});

test('request: each bad field is named with what was expected and received', () => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /expected a JSON object, received an array/],
    [{ runtime: 'ruby', code: '' }, /runtime: expected "python" or "node", received "ruby"/],
    [{ runtime: 'python' }, /code: expected a string, received nothing/],
    [{ runtime: 'python', code: 'x'.repeat(101) }, /code: 101 bytes exceeds maxCodeBytes 100/],
    [{ runtime: 'python', code: '', timeoutMs: 'soon' }, /timeoutMs: expected an integer ≥ 1, received "soon"/],
    [{ runtime: 'python', code: '', timeoutMs: 60001 }, /exceeds the configured maximum 60000/],
    [{ runtime: 'python', code: '', timeout: 5 }, /unknown field "timeout"/],
    [{ runtime: 'python', code: '', files: [{ path: '../x', content: '' }] }, /files\[0\]\.path "\.\.\/x" contains "\.\."/],
    [{ runtime: 'python', code: '', files: [{ path: 'a', content: '!!' }] }, /not valid base64/],
    [{ runtime: 'python', code: '', files: [{ path: 'a', content: Buffer.alloc(11).toString('base64') }] }, /exceeds maxFileBytes 10/],
    [{ runtime: 'python', code: '', files: [{ path: 'a', content: 'YQ==' }, { path: 'a/b', content: 'YQ==' }] }, /a is both a file and the directory of a\/b/],
    [{ runtime: 'python', code: '', files: [{ path: 'a', content: 'YQ==' }, { path: './a', content: 'YQ==' }] }, /given twice/],
    [{ runtime: 'python', code: '', tools: [{ name: 'bad name' }] }, /tools\[0\]\.name/],
    [{ runtime: 'python', code: '', tools: [{ name: 't' }, { name: 't' }] }, /declared twice/],
    [{ runtime: 'python', code: '', tools: [{ name: 't', outputSchema: [] }] }, /tools\[0\]\.outputSchema: expected a JSON Schema object, received an array/],
    [{ runtime: 'python', code: '', tools: Array.from({ length: 257 }, (_, i) => ({ name: `t${i}` })) }, /: tools: 257 tools; at most 256 \(maxTools\)$/],
    [{ runtime: 'python', code: '', limits: { memoryBytes: 128 * 1024 * 1024 } }, /limits\.memoryBytes: 134217728 exceeds the configured 67108864/],
    [{ runtime: 'python', code: '', limits: { maxProcesses: 2 } }, /limits\.maxProcesses: expected an integer ≥ 8, received number 2/],
    [{ runtime: 'python', code: '', limits: { sandbox: 'off' } }, /limits\.sandbox: unknown limit/],
  ];
  for (const [body, message] of cases) assert.throws(() => parse(body), message, JSON.stringify(body).slice(0, 80));
});

test('request: a tool keeps its outputSchema, and one without gets none', () => {
  const outputSchema = { type: 'object', properties: { email: { type: 'string' } } };
  const { tools } = parse({ runtime: 'python', code: '', tools: [{ name: 'a', outputSchema }, { name: 'b' }] });
  assert.deepEqual(tools[0], { name: 'a', description: '', parameters: { type: 'object', properties: {} }, outputSchema });
  assert.equal('outputSchema' in tools[1]!, false);
});

test('request: tools over plain HTTP are refused with the way to get them', () => {
  assert.throws(() => parse({ runtime: 'node', code: '', tools: [{ name: 't' }] }, false), /use the WebSocket API/);
});

test('outcome: statuses from what was observed', () => {
  const base = { killReason: null, timeoutMs: 5, exit: { exitCode: 0, signal: null }, done: { result: 1, error: null }, bridgeProblem: null, fileErrors: [], sandboxed: true } as const;
  assert.equal(decideOutcome(base).status, 'ok');
  assert.equal(decideOutcome({ ...base, killReason: 'timeout' }).status, 'timeout');
  assert.equal(decideOutcome({ ...base, killReason: 'cancelled' }).status, 'cancelled');
  assert.equal(decideOutcome({ ...base, done: null, exit: { exitCode: 137, signal: null } }).error?.message.includes('SIGKILL'), true);
  assert.equal(decideOutcome({ ...base, done: null, exit: { exitCode: 3, signal: null } }).error?.type, 'ExitCode');
  assert.equal(decideOutcome({ ...base, fileErrors: [{ path: 'x', message: 'refused' }] }).error?.type, 'OutputFileError');
  assert.equal(decideOutcome({ ...base, done: { result: null, error: { type: 'ValueError', message: 'm', traceback: '' } }, exit: { exitCode: 1, signal: null } }).error?.type, 'ValueError');
});

test('outcome: each exceeded kernel limit gets its own named outcome', () => {
  const limits = { memoryBytes: 268435456, maxProcesses: 64, cpuTimeMs: 2000 };
  const quiet = { cpuTimeMs: 10, oomKills: 0, forkFailures: 0 };
  const base = { killReason: null, timeoutMs: 5000, exit: { exitCode: 0, signal: null }, done: { result: 1, error: null }, bridgeProblem: null, fileErrors: [], sandboxed: true, limits, kernel: quiet } as const;
  const killed = { ...base, done: null, exit: { exitCode: 137, signal: null } } as const;
  const codeError = { type: 'BlockingIOError', message: '[Errno 11] Resource temporarily unavailable', traceback: 'File "main.py", line 3' };

  // Memory: the OOM killer took the interpreter.
  const memory = decideOutcome({ ...killed, kernel: { ...quiet, oomKills: 1 } });
  assert.deepEqual(memory, { status: 'killed', error: { type: 'MemoryLimit', message: 'the execution used more than memoryBytes (268435456 bytes) and was killed', traceback: '' } });
  // ...or only a child: the code's failure keeps its status and traceback, named for the cause.
  const child = decideOutcome({ ...base, done: { result: null, error: { ...codeError, type: 'CalledProcessError', message: 'died' } }, exit: { exitCode: 1, signal: null }, kernel: { ...quiet, oomKills: 1 } });
  assert.equal(child.status, 'error');
  assert.equal(child.error?.type, 'MemoryLimit');
  assert.match(child.error?.message ?? '', /memoryBytes \(268435456 bytes\).*CalledProcessError: died/);
  assert.equal(child.error?.traceback, 'File "main.py", line 3');
  // An OOM kill the code survived and recovered from is not a failure.
  assert.equal(decideOutcome({ ...base, kernel: { ...quiet, oomKills: 1 } }).status, 'ok');

  // CPU time: Runbox's own check killed it; or RLIMIT_CPU's SIGXCPU did (bubblewrap reports 128 + 24).
  assert.deepEqual(decideOutcome({ ...killed, killReason: 'cpu_time', exit: { exitCode: null, signal: 'SIGKILL' } }), {
    status: 'killed', error: { type: 'CpuTimeLimit', message: 'the execution used more than cpuTimeMs (2000 ms of CPU time) and was killed', traceback: '' },
  });
  assert.equal(decideOutcome({ ...killed, exit: { exitCode: 128 + 24, signal: null } }).error?.type, 'CpuTimeLimit');
  // A CPU-time kill stays one even if memory ran out too.
  assert.equal(decideOutcome({ ...killed, killReason: 'cpu_time', kernel: { ...quiet, oomKills: 2 } }).error?.type, 'CpuTimeLimit');

  // Processes: a failed fork that the code did not survive is named ProcessLimit, with the code's own error kept.
  const forks = decideOutcome({ ...base, done: { result: null, error: codeError }, exit: { exitCode: 1, signal: null }, kernel: { ...quiet, forkFailures: 3 } });
  assert.equal(forks.status, 'error');
  assert.equal(forks.error?.type, 'ProcessLimit');
  assert.equal(forks.error?.message, 'the execution reached maxProcesses (64 processes and threads): 3 attempts were refused to start a process or thread; then: BlockingIOError: [Errno 11] Resource temporarily unavailable');
  // ...a timeout stays a timeout, with the hint; a run that ended well stays ok.
  const slow = decideOutcome({ ...killed, killReason: 'timeout', kernel: { ...quiet, forkFailures: 1 } });
  assert.equal(slow.error?.type, 'Timeout');
  assert.match(slow.error?.message ?? '', /reached maxProcesses \(64 processes and threads\): 1 attempt was refused/);
  assert.equal(decideOutcome({ ...base, kernel: { ...quiet, forkFailures: 5 } }).status, 'ok');
  // Memory is named before processes when both were hit; a cancel is only a cancel.
  assert.equal(decideOutcome({ ...killed, kernel: { ...quiet, oomKills: 1, forkFailures: 4 } }).error?.type, 'MemoryLimit');
  assert.equal(decideOutcome({ ...killed, killReason: 'cancelled', kernel: { ...quiet, oomKills: 1 } }).error?.type, 'Cancelled');

  // Without cgroups (kernel null) a SIGKILL is a plain Killed, as before.
  assert.equal(decideOutcome({ ...killed, kernel: null }).error?.type, 'Killed');
  // A sandbox that could not be put in its cgroup never runs code.
  assert.equal(decideOutcome({ ...killed, sandboxProblem: 'its processes could not be moved into their cgroup' }).error?.type, 'SandboxError');
});

test('output capture: cut at the cap with a marker, multi-byte characters kept whole', () => {
  const capture = new OutputCapture('stdout', 5);
  assert.equal(capture.push(Buffer.from('héll')), 'héll');
  assert.equal(capture.push(Buffer.from('o world')), '');
  assert.match(capture.text(), /^héll\n\[runbox: stdout truncated after 5 bytes; 7 more bytes dropped\]\n$/);
});
