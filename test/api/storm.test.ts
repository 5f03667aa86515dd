// Many executions at once (eight times maxConcurrent), half of them fork or memory bombs, in both runtimes: every
// benign one must come back correct, every bomb must be stopped by its limit (and say which), and nothing may be
// left behind (the test daemon checks processes, workspaces, mounts and cgroups when it closes). Each kind runs
// in each runtime several times over; the number is kept to what that needs, since bombs run until they are stopped.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon({ maxConcurrent: 4, maxQueued: 200 });
});
after(() => d.close());

const MiB = 1024 * 1024;
/** Executions sent at once: a multiple of 8, so that each kind of bomb runs in each runtime JOBS / 8 times. */
const JOBS = 32;
/** Bombs run with lowered limits (a request may lower them), so the test spends its time on many, not on each.
 * 16 processes stay well under 96 MiB, so a fork bomb meets its pids limit before the memory one, even when a
 * loaded machine gives it little CPU within its timeout. */
const BOMB_LIMITS = { memoryBytes: 96 * MiB, maxProcesses: 16 };
/** Fork bombs run until their timeout (the pids limit only makes fork fail), with time to reach that limit even on
 * a loaded machine; memory bombs end when the kernel kills them, so they get time enough for that too. */
const FORK_BOMB_TIMEOUT_MS = 2_000;
const MEMORY_BOMB_TIMEOUT_MS = 15_000;

type Kind = 'benign' | 'fork bomb' | 'memory bomb';
interface Job {
  kind: Kind;
  runtime: 'python' | 'node';
  code: string;
  expected?: unknown;
}

const BOMBS: Record<Exclude<Kind, 'benign'>, Record<'python' | 'node', string>> = {
  'fork bomb': {
    python: ['import os', 'while True:', '    try:', '        os.fork()', '    except OSError:', '        pass'].join('\n'),
    // One spawn per turn of the event loop: a loop that never yields keeps every failed spawn's objects (about
    // 100 MB/s), so it met memoryBytes before maxProcesses.
    node: [
      "const { spawn } = require('node:child_process');",
      "const bomb = () => { try { spawn('/bin/sh', ['-c', 'sleep 100']).on('error', () => {}); } catch {} setImmediate(bomb); };",
      'bomb();',
    ].join('\n'),
  },
  'memory bomb': {
    python: ['hoard = []', 'while True:', '    hoard.append(bytearray(8 * 1024 * 1024))'].join('\n'),
    node: ['const hoard = [];', 'for (;;) hoard.push(Buffer.alloc(8 * 1024 * 1024, 1));'].join('\n'),
  },
};

function jobs(): Job[] {
  const list: Job[] = [];
  for (let i = 0; i < JOBS; i++) {
    if (i % 2 === 0) {
      const runtime = i % 4 === 0 ? 'python' : 'node';
      const code = runtime === 'python' ? `set_result({"n": ${i}, "sum": sum(range(${i * 100}))})` : `setResult({ n: ${i}, sum: Array.from({ length: ${i * 100} }, (_, k) => k).reduce((a, b) => a + b, 0) })`;
      const n = i * 100;
      list.push({ kind: 'benign', runtime, code, expected: { n: i, sum: (n * (n - 1)) / 2 } });
    } else {
      const runtime = i % 8 < 4 ? 'python' : 'node';
      const kind = i % 4 === 1 ? 'fork bomb' : 'memory bomb';
      list.push({ kind, runtime, code: BOMBS[kind][runtime] });
    }
  }
  return list;
}

test(`${JOBS} executions at once, half fork or memory bombs: benign ones all correct, bombs stopped by their limits`, { timeout: 300_000 }, async () => {
  const all = jobs();
  const answers = await Promise.all(all.map(async (job) => {
    const request = job.kind === 'benign'
      ? { runtime: job.runtime, code: job.code }
      : { runtime: job.runtime, code: job.code, timeoutMs: job.kind === 'fork bomb' ? FORK_BOMB_TIMEOUT_MS : MEMORY_BOMB_TIMEOUT_MS, limits: BOMB_LIMITS };
    return { job, ...(await postExecution(d.url, request)) };
  }));
  const problems: string[] = [];
  const stoppedBy: Record<string, number> = {};
  for (const { job, status, body } of answers) {
    const label = `${job.kind} (${job.runtime})`;
    if (status !== 200) {
      problems.push(`${label}: HTTP ${status} ${JSON.stringify(body)}`);
      continue;
    }
    if (job.kind === 'benign') {
      if (body.status !== 'ok' || JSON.stringify(body.result) !== JSON.stringify(job.expected)) {
        problems.push(`${label}: ${body.status} ${JSON.stringify(body.result)} ${JSON.stringify(body.error)}`);
      }
      continue;
    }
    const how = `${body.status}/${body.error?.type}`;
    stoppedBy[`${label}: ${how}`] = (stoppedBy[`${label}: ${how}`] ?? 0) + 1;
    const allowed = job.kind === 'memory bomb' ? /^(killed|error)\/MemoryLimit$/ : /^(timeout\/Timeout|killed\/ProcessLimit|error\/ProcessLimit)$/;
    if (!allowed.test(how)) problems.push(`${label}: stopped as ${how}: ${body.error?.message}`);
    if (job.kind === 'fork bomb' && body.status === 'timeout') assert.match(body.error.message, /maxProcesses/, `a timed-out fork bomb also says it hit maxProcesses (${label})`);
  }
  console.log('bombs stopped by:', stoppedBy);
  assert.deepEqual(problems, []);
  const health = await fetch(`${d.url}/healthz`);
  assert.equal(health.status, 200);
  const after = await postExecution(d.url, { runtime: 'python', code: 'set_result(6 * 7)' });
  assert.equal(after.body.result, 42);
});
