// The warm pool follows demand, with a real daemon, real sandboxes and the machine's real cores: a burst that
// finds the pool empty grows it up to maxWarmSandboxes, quiet takes it back to warmSandboxes; refills wait while
// the running executions keep every core busy; a runtime whose sandboxes stop starting backs off, doubling, and
// the pool recovers once it starts again.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../daemon/config.js';
import { listProcesses, postExecution, startDaemon, type ProcessEntry } from '../helpers/daemon.js';

// The outermost process of each sandbox of this daemon running the runtime's prelude (bubblewrap's outer process
// and the unshare before it carry the work directory and the prelude's path in their arguments; a child of the
// Python fork server names its execution's directory in its own).
async function sandboxesOf(workDir: string, runtime: 'node' | 'python'): Promise<number[]> {
  const table = await listProcesses();
  const mine = table.filter((entry) => entry.cmdline.includes(workDir) && entry.state !== 'Z');
  const pids = new Set(mine.map((entry) => entry.pid));
  const prelude = runtime === 'node' ? '/runbox/node/prelude.cjs' : '/runbox/python/prelude.py';
  const forked = (entry: ProcessEntry) => runtime === 'python' && entry.cmdline.startsWith(`runbox-sandbox ${workDir}/`);
  return mine.filter((entry: ProcessEntry) => !pids.has(entry.ppid) && (entry.cmdline.includes(prelude) || forked(entry))).map((entry) => entry.pid);
}

async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a burst that finds the pool empty grows it up to maxWarmSandboxes; quiet takes it back to warmSandboxes', { timeout: 90_000 }, async () => {
  const shrinkAfterMs = 3000;
  const d = await startDaemon({ warmSandboxes: 1, maxWarmSandboxes: 3, warmShrinkAfterMs: shrinkAfterMs, maxConcurrent: 6 });
  try {
    await waitFor('one warm Node sandbox', () => sandboxesOf(d.workDir, 'node'), (pids) => pids.length === 1);
    // Python's first fill too, which a loaded machine may hold back (refills wait for a free core) past Node's.
    await waitFor('one warm Python sandbox', () => sandboxesOf(d.workDir, 'python'), (pids) => pids.length === 1);
    // Six at once: one takes the warm sandbox, five find none ready (each a miss: the target goes 1 → 3, capped).
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => postExecution(d.url, { runtime: 'node', code: `return ${i}` })));
    assert.deepEqual(burst.map(({ body }) => [body.status, body.result]), Array.from({ length: 6 }, (_, i) => ['ok', i]));
    // The burst's own sandboxes go, the grown pool fills: three idle Node sandboxes, and Python's one untouched.
    await waitFor('three warm Node sandboxes', () => sandboxesOf(d.workDir, 'node'), (pids) => pids.length === 3);
    assert.equal((await sandboxesOf(d.workDir, 'python')).length, 1);
    // Then nothing: a quiet period after the last miss, back to one, and no lower (watched for two more periods).
    const seen: number[] = [];
    const quietStart = Date.now();
    while (Date.now() - quietStart < 3 * shrinkAfterMs + 2000) {
      const count = (await sandboxesOf(d.workDir, 'node')).length;
      if (seen.at(-1) !== count) seen.push(count);
      await sleep(50);
    }
    assert.deepEqual(seen, [3, 1], `the Node pool went ${seen.join(' → ')}`);
    // A shrunk pool serves as before.
    assert.equal((await postExecution(d.url, { runtime: 'node', code: 'return "after"' })).body.result, 'after');
  } finally {
    await d.close();
  }
});

test('refills wait while the running executions keep every core busy, and start once a core is free', { timeout: 90_000 }, async (t) => {
  const cores = os.availableParallelism();
  if (cores > 8) return t.skip(`${cores} cores: busy-looping one execution per core is too heavy for a test here`);
  const d = await startDaemon({ warmSandboxes: 1, maxWarmSandboxes: 1, maxConcurrent: cores + 1 });
  try {
    await waitFor('one warm Node sandbox', () => sandboxesOf(d.workDir, 'node'), (pids) => pids.length === 1);
    const busyMs = 3000;
    // One execution per core, each computing for busyMs: the first takes the warm sandbox, the others start their own.
    const code = `const end = Date.now() + ${busyMs}; let x = 0; while (Date.now() < end) x++; return x > 0;`;
    const running = Promise.all(Array.from({ length: cores }, () => postExecution(d.url, { runtime: 'node', code, timeoutMs: 60_000 })));
    // Once they all run, the taken sandbox's replacement is due (25 ms after the take) but no core is free for it:
    // only the running ones are there, however long they compute.
    await waitFor(`${cores} running Node sandboxes`, () => sandboxesOf(d.workDir, 'node'), (pids) => pids.length >= cores);
    const counts: number[] = [];
    for (const deadline = Date.now() + busyMs - 1000; Date.now() < deadline; await sleep(50)) counts.push((await sandboxesOf(d.workDir, 'node')).length);
    assert.ok(Math.max(...counts) <= cores, `a refill started while ${cores} executions computed on ${cores} cores: ${counts.join(',')}`);
    const results = await running;
    for (const { body } of results) assert.deepEqual([body.status, body.result], ['ok', true], JSON.stringify(body));
    // Their cores free, the pool refills.
    await waitFor('the warm Node sandbox back', () => sandboxesOf(d.workDir, 'node'), (pids) => pids.length === 1);
  } finally {
    await d.close();
  }
});

test('a runtime whose sandboxes stop starting is retried with a doubling back-off, and the pool recovers', { timeout: 120_000 }, async () => {
  // A node binary of the test's own, which the test takes away and puts back: the runtime breaks and heals for real.
  // Beside the Python environment: readable by the sandbox user, and not under /tmp, which a sandbox has of its own.
  const dir = await fs.mkdtemp(path.join(path.dirname(loadConfig({}, []).pythonEnv), 'test-node-'));
  await fs.chmod(dir, 0o755);
  const binDir = path.join(dir, 'bin');
  await fs.mkdir(binDir, { mode: 0o755 });
  const nodePath = path.join(binDir, 'node');
  await fs.link(process.execPath, nodePath).catch(() => fs.copyFile(process.execPath, nodePath));
  const d = await startDaemon({ warmSandboxes: 1, maxWarmSandboxes: 1, nodePath }, { logs: true });
  try {
    // Its node must have been exec'd (bubblewrap's processes come first): from then on it runs whatever the path holds.
    const execd = async () => (await listProcesses()).filter((entry) => entry.cmdline.startsWith(`${nodePath} `)).length;
    await waitFor('the warm sandbox\'s node running', execd, (count) => count === 1);
    await fs.rename(nodePath, `${nodePath}.away`);
    // The warm sandbox was started before: it runs. Its replacement cannot start.
    assert.equal((await postExecution(d.url, { runtime: 'node', code: 'return 1' })).body.result, 1);
    const failures = () => d.logs.filter((line) => line.msg === 'a warm sandbox did not start; trying again after a backoff' && line.runtime === 'node');
    await waitFor('four failed starts', async () => failures().length, (count) => count >= 4, 30_000);
    const seen = failures().slice(0, 4);
    // Failure n waits 100 * 2^n ms before the next start, which fails about as fast as it starts.
    assert.deepEqual(seen.map((line) => line.retryInMs), [200, 400, 800, 1600]);
    const gaps = seen.slice(1).map((line, i) => (line.time as number) - (seen[i].time as number));
    gaps.forEach((gap, i) => assert.ok(gap >= (seen[i].retryInMs as number) - 5, `gap ${i + 1} is ${gap} ms, under its back-off of ${seen[i].retryInMs} ms`));
    // Back in place: the next retry starts a sandbox, and the pool is whole again.
    await fs.rename(`${nodePath}.away`, nodePath);
    await waitFor('the warm Node sandbox back', () => sandboxesOf(d.workDir, 'node'), (pids) => pids.length === 1, 30_000);
    assert.equal((await postExecution(d.url, { runtime: 'node', code: 'return 2' })).body.result, 2);
  } finally {
    await d.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
