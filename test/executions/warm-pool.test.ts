// The warm pool with a real daemon: sandboxes wait for code, each serves one execution, dead ones are replaced;
// and on its own, with a runtime that cannot start: it backs off, doubling, and stops when closed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { WarmPool } from '../../daemon/executions/warm-pool.js';
import type { SandboxInstance } from '../../daemon/executions/sandbox-instance.js';
import { findProcesses, postExecution, startDaemon } from '../helpers/daemon.js';

// The pids of this daemon's sandboxes (bubblewrap's outer process carries the workspace path in its arguments).
async function sandboxes(workDir: string): Promise<number[]> {
  const pids = await findProcesses(workDir);
  const outer: number[] = [];
  for (const pid of pids) {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!pids.includes(parent)) outer.push(pid);
  }
  return outer;
}

// The process and every process under it, among pids.
async function descendants(root: number, pids: readonly number[]): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const pid of pids) {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    parents.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
  }
  const tree = [root];
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, parent] of parents) if (tree.includes(parent) && !tree.includes(pid)) (tree.push(pid), (grew = true));
  }
  return tree;
}

async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000, pollMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

test('each runtime keeps its warm sandboxes; every execution still gets a fresh workspace and /tmp', async () => {
  const d = await startDaemon({ warmSandboxes: 2, maxWarmSandboxes: 2, pythonPreload: [] });
  try {
    await waitFor('4 warm sandboxes', () => sandboxes(d.workDir), (pids) => pids.length === 4);
    const first = await postExecution(d.url, { runtime: 'python', code: 'import os\nopen("left.txt", "w").write("x")\nopen("/tmp/left", "w").write("x")\nset_result(os.listdir("."))' });
    assert.deepEqual(first.body.result, ['left.txt']);
    for (let i = 0; i < 3; i++) {
      const next = await postExecution(d.url, { runtime: 'python', code: 'import os\nset_result([os.listdir("."), os.path.exists("/tmp/left")])' });
      assert.deepEqual(next.body.result, [[], false]);
    }
    await waitFor('the pool refilled to 4', () => sandboxes(d.workDir), (pids) => pids.length === 4);
  } finally {
    await d.close();
  }
});

test('an idle warm sandbox that dies is replaced and executions carry on', async () => {
  const d = await startDaemon({ warmSandboxes: 1, pythonPreload: [] });
  try {
    // One of the two may be on its way out as it is found (a start that is replacing itself): then another is picked.
    let victim = 0;
    let victimTree: number[] = [];
    for (let attempt = 0; victim === 0; attempt++) {
      const [pid] = await waitFor('2 warm sandboxes', () => sandboxes(d.workDir), (pids) => pids.length === 2);
      victimTree = await descendants(pid, await findProcesses(d.workDir));
      try {
        process.kill(pid, 'SIGKILL');
        victim = pid;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH' || attempt === 5) throw error;
      }
    }
    // Its processes die one after the other (the pid namespace's init last): until they all have, one of them is
    // the outermost of its tree and would pass for a replacement.
    await waitFor('the killed sandbox gone', () => findProcesses(d.workDir), (pids) => victimTree.every((pid) => !pids.includes(pid)));
    await waitFor('a replacement', () => sandboxes(d.workDir), (pids) => pids.length === 2 && !pids.includes(victim));
    for (const runtime of ['python', 'node']) {
      const { body } = await postExecution(d.url, { runtime, code: runtime === 'python' ? 'set_result(1)' : 'return 1' });
      assert.equal(body.status, 'ok', JSON.stringify(body));
      assert.equal(body.result, 1);
    }
  } finally {
    await d.close();
  }
});

test('without a warm pool every execution starts its own sandbox', async () => {
  const d = await startDaemon({ warmSandboxes: 0 });
  try {
    assert.deepEqual(await sandboxes(d.workDir), []);
    const results = await Promise.all(['python', 'node', 'python'].map((runtime) => postExecution(d.url, { runtime, code: runtime === 'python' ? 'print("cold")' : 'console.log("cold")' })));
    for (const { body } of results) assert.equal(body.stdout, 'cold\n');
  } finally {
    await d.close();
  }
});

// (The fork server's children all have the preload imported: test/sandbox/fork-server.test.ts.)
test('without the fork server, an idle warm Python sandbox preloads the configured modules; a cold one does not', async () => {
  const warm = await startDaemon({ warmSandboxes: 1, pythonPreload: ['json', 'fractions'], forkServer: false });
  const cold = await startDaemon({ warmSandboxes: 0, pythonPreload: ['json', 'fractions'], forkServer: false });
  try {
    const code = 'import sys\nset_result("fractions" in sys.modules)';
    // Each probe uses up the warm sandbox, and its replacement preloads only after being idle a while: poll slowly.
    const loaded = await waitFor('the preload', async () => (await postExecution(warm.url, { runtime: 'python', code })).body.result, (value) => value === true, 15_000, 1000);
    assert.equal(loaded, true);
    assert.equal((await postExecution(cold.url, { runtime: 'python', code })).body.result, false);
  } finally {
    await Promise.all([warm.close(), cold.close()]);
  }
});

test('a runtime whose sandboxes cannot start is retried with a doubling back-off, never in a loop, until closed', async () => {
  // The host failing to start the runtime: its binary is not there.
  const starts: number[] = [];
  const startSandbox = async (): Promise<SandboxInstance> => {
    starts.push(performance.now());
    await promisify(execFile)('/nonexistent/runbox-runtime', []);
    throw new Error('unreachable: the runtime started');
  };
  const logged: Array<{ msg: string; runtime?: string; err?: { message: string } }> = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, callback) => (logged.push(JSON.parse(chunk.toString())), callback()) });
  const pool = new WarmPool({ sizePerRuntime: 1, runtimes: ['python'], startSandbox, log: pino({ level: 'info' }, sink) });
  pool.fill();
  // Four starts take about 1.4 s of back-off (0, 200, 600, 1400 ms); a loaded machine only makes them later.
  for (const deadline = performance.now() + 30_000; starts.length < 4; ) {
    assert.ok(performance.now() < deadline, `only ${starts.length} starts in 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(await pool.take('python'), null, 'nothing ready: the caller starts its own sandbox, and gets the error');
  await pool.close();
  const closedAt = performance.now();
  const count = starts.length;
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(starts.length, count, 'no start after close');

  // Failure n waits 100 * 2^n ms: starts at about 0, 200, 600, 1400 and 3000 ms (later on a loaded machine).
  const gaps = starts.slice(1).map((at, i) => at - starts[i]);
  assert.ok(starts.length >= 4 && starts.length <= 5, `${starts.length} starts in ${Math.round(closedAt - starts[0])} ms (gaps ${gaps.map(Math.round).join(', ')})`);
  gaps.forEach((gap, i) => assert.ok(gap >= 100 * 2 ** (i + 1) - 5, `gap ${i + 1} is ${Math.round(gap)} ms, under its back-off of ${100 * 2 ** (i + 1)} ms`));
  const failures = logged.filter((line) => line.msg === 'could not start a warm sandbox');
  assert.equal(failures.length, starts.length, 'each failure is logged');
  assert.equal(failures[0].runtime, 'python');
  assert.match(failures[0].err?.message ?? '', /ENOENT/);
});
