// The daemon as a process: SIGTERM drains (running executions finish, new ones are refused, exit 0, nothing
// left); a second signal cancels at once; SIGKILL leaves no sandbox process, at any moment of a sandbox's life,
// and the next daemon on the same work directory sweeps what the killed one left there; as pid 1 it leaves no
// zombie.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../daemon/config.js';
import { resolveExecutable } from '../daemon/sandbox/host.js';
import { unmountSelfBinds, unmountWorkspace, tmpfsMountsUnder } from '../daemon/sandbox/mounts.js';
import { createDaemon } from '../daemon/server.js';
import { EXECUTIONS_DIR } from '../daemon/executions/work-dir.js';
import { descendantsOf, executionDirs, findProcesses, listProcesses, postExecution, startDaemon, waitForNoProcesses, waitForNoProcessGroup } from './helpers/daemon.js';
import { startPackageIndex } from './helpers/package-index.js';
import { RawClient } from './helpers/ws-client.js';
import { sessionDirName } from '../daemon/sessions/ids.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/runbox.js');
const AS_PID_1 = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/as-pid-1.sh');

interface ChildDaemon {
  child: ChildProcess;
  url: string;
  wsUrl: string;
  workDir: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

// Starts `runbox serve --port 0` as a child process with its own work directory; the URL comes from its stdout.
// `wrapper` is a command line the daemon's is appended to (to start it as pid 1 of a pid namespace). The daemon
// leads its own process group, so that what it forked before it was killed is found even before it execs
// (waitForNoProcessGroup): a mount(8) forked then still mounts a workspace, under the next daemon's sweep.
async function spawnDaemon(env: Record<string, string> = {}, workDir?: string, wrapper: string[] = []): Promise<ChildDaemon> {
  const dir = workDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-life-')));
  const command = [...wrapper, process.execPath, BIN, 'serve', '--port', '0', '--log-level', 'warn'];
  const child = spawn(command[0], command.slice(1), {
    detached: true,
    env: { ...process.env, RUNBOX_WORK_DIR: dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the daemon did not start: ${output}`)), 30_000);
    const check = () => {
      const match = /Runbox is listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    void exited.then(() => reject(new Error(`the daemon exited at start: ${output}`)));
  });
  return { child, url, wsUrl: `${url.replace('http:', 'ws:')}/v1/ws`, workDir: dir, exited, output: () => output };
}

// Kills the daemon if it still runs and removes its work directory with whatever it left mounted there, once
// nothing it started is left to mount more: a plain rm of a directory still holding a workspace tmpfs fails with
// EBUSY, which would also hide why the test failed.
async function removeDaemon(d: ChildDaemon): Promise<void> {
  d.child.kill('SIGKILL');
  await d.exited;
  await waitForNoProcessGroup(d.child.pid!);
  await waitForNoProcesses(d.workDir);
  for (const mountPoint of await tmpfsMountsUnder(d.workDir)) await unmountWorkspace(mountPoint);
  await unmountSelfBinds(d.workDir); // the fork server's bind of the work directory, which a SIGKILL leaves
  await fs.rm(d.workDir, { recursive: true, force: true });
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// The mounts of `before` still in `now`. A new daemon mounts its own executions tmpfs where the old one was: that
// path counts only when it is there twice (the old one left under the new one).
function leftoverMounts(now: readonly string[], before: readonly string[], workDir: string): string[] {
  const kept = now.filter((mountPoint) => before.includes(mountPoint));
  const own = kept.indexOf(path.join(workDir, EXECUTIONS_DIR));
  if (own !== -1) kept.splice(own, 1);
  return kept;
}

const entries = async (dir: string, prefix: string) => (await fs.readdir(dir)).filter((name) => name.startsWith(prefix));
const healthStatus = async (url: string) => (await fetch(`${url}/healthz`).catch(() => null))?.status ?? 0;

test('SIGTERM drains: running executions finish, new ones are refused, exit 0, nothing left', { timeout: 60_000 }, async () => {
  const d = await spawnDaemon({ RUNBOX_SHUTDOWN_GRACE_MS: '20000' });
  try {
    const client = await RawClient.connect(d.wsUrl);
    const code = 'import time\nprint("started", flush=True)\ntime.sleep(1.5)\nprint("finished")\nset_result(42)';
    const wsResult = client.execute({ id: 'draining', runtime: 'python', code });
    // The HTTP execution names a marker on a process's command line, so the signal waits until it really runs
    // (a request still on its way when the signal comes is refused, rightly).
    const marker = `http-running-${Math.floor(Math.random() * 1e9)}`;
    const httpCode = `require('node:child_process').execFileSync('/bin/sh', ['-c', 'sleep 1.5', '${marker}']); return "http done"`;
    const httpResult = postExecution(d.url, { runtime: 'node', code: httpCode });
    await waitUntil('the WebSocket execution runs', async () => client.of('draining').stdout.includes('started'));
    await waitUntil('the HTTP execution runs', async () => (await findProcesses(marker)).length > 0);
    d.child.kill('SIGTERM');
    await waitUntil('the daemon reports it is shutting down', async () => (await healthStatus(d.url)) === 503);

    const refused = await postExecution(d.url, { runtime: 'python', code: 'print(1)' });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'shutting_down');
    const wsRefusal = client.nextError();
    client.send({ type: 'execute', id: 'late', runtime: 'python', code: 'print(1)' });
    const error = await wsRefusal;
    assert.deepEqual([error.id, error.code], ['late', 'shutting_down']);

    const result = await wsResult;
    assert.equal(result.status, 'ok', JSON.stringify(result));
    assert.equal(result.stdout, 'started\nfinished\n');
    assert.equal(result.result, 42);
    const http = await httpResult;
    assert.equal(http.status, 200);
    assert.equal(http.body.result, 'http done');

    assert.deepEqual(await d.exited, { code: 0, signal: null }, d.output());
    assert.deepEqual(await executionDirs(d.workDir), []);
    assert.deepEqual(await entries(d.workDir, 'daemon.pid'), [], 'the work directory is released');
    assert.deepEqual(await findProcesses(d.workDir), []);
  } finally {
    await removeDaemon(d);
  }
});

test('past shutdownGraceMs the rest is cancelled; a second signal cancels at once', { timeout: 60_000 }, async () => {
  // The two cases run side by side, each with its own daemon.
  const cases = [['300', 1], ['60000', 2]] as const;
  const outcomes = await Promise.allSettled(cases.map(async ([grace, signals]) => {
    const d = await spawnDaemon({ RUNBOX_SHUTDOWN_GRACE_MS: grace, RUNBOX_MAX_CONCURRENT: '1' });
    try {
      const marker = `sleep ${200000 + Math.floor(Math.random() * 90000)}`;
      const client = await RawClient.connect(d.wsUrl);
      const running = client.execute({ id: 'long', runtime: 'python', code: `import subprocess\nprint("started", flush=True)\nsubprocess.run("${marker}".split())` });
      const queued = client.execute({ id: 'queued', runtime: 'python', code: 'set_result(1)' });
      await waitUntil('the execution runs', async () => client.of('long').stdout.includes('started') && (await findProcesses(marker)).length > 0);
      const signalled = Date.now();
      d.child.kill('SIGTERM');
      if (signals === 2) {
        await waitUntil('draining', async () => (await healthStatus(d.url)) === 503);
        d.child.kill('SIGINT');
      }
      const [long, waiting] = await Promise.all([running, queued]);
      assert.equal(long.status, 'cancelled');
      assert.match(long.error.message, /the daemon shut down before the execution finished/);
      assert.equal(waiting.status, 'cancelled');
      assert.match(waiting.error.message, /the daemon shut down before the execution could start/);
      assert.equal((await d.exited).code, 0, d.output());
      assert.ok(Date.now() - signalled < 10_000, 'it did not wait out a 60 s grace');
      await waitForNoProcesses(marker);
      assert.deepEqual(await executionDirs(d.workDir), []);
    } finally {
      await removeDaemon(d);
    }
  }));
  for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
});

test('SIGKILL leaves no sandbox process; the next daemon on that work directory sweeps the leftovers', { timeout: 60_000 }, async () => {
  const d = await spawnDaemon();
  try {
    const marker = `sleep ${100000 + Math.floor(Math.random() * 90000)}`;
    const session = (await (await fetch(`${d.url}/v1/sessions`, { method: 'POST' })).json()) as { id: string };
    await postExecution(d.url, { runtime: 'python', sessionId: session.id, code: 'open("kept", "w").write("x")' });
    const client = await RawClient.connect(d.wsUrl);
    client.send({ type: 'execute', id: 'doomed', runtime: 'python', code: `import subprocess\nprint("started", flush=True)\nsubprocess.run("${marker}".split())` });
    await waitUntil('the execution runs', async () => client.of('doomed').stdout.includes('started') && (await findProcesses(marker)).length > 0);
    d.child.kill('SIGKILL');
    await d.exited;
    await waitForNoProcesses(marker);
    await waitForNoProcesses(d.workDir);
    await waitForNoProcessGroup(d.child.pid!);
    const left = await executionDirs(d.workDir);
    assert.ok(left.length >= 1, 'the killed daemon left its execution directories (and their sockets) behind');
    assert.deepEqual(await entries(d.workDir, 'daemon.pid'), ['daemon.pid']);
    const mountedBefore = await tmpfsMountsUnder(d.workDir);
    if (process.getuid?.() === 0) assert.ok(mountedBefore.length >= 1, 'the killed daemon left its workspace mounts behind');

    const next = await startDaemon({ workDir: d.workDir });
    try {
      const now = await executionDirs(d.workDir);
      assert.deepEqual(now.filter((name) => left.includes(name)), [], 'every leftover was removed');
      await assert.rejects(fs.access(path.join(d.workDir, 'sessions', sessionDirName(session.id))), 'sessions do not survive a restart: swept');
      const gone = await fetch(`${next.url}/v1/sessions/${session.id}`);
      assert.equal(gone.status, 404);
      const mountedNow = await tmpfsMountsUnder(d.workDir);
      assert.deepEqual(leftoverMounts(mountedNow, mountedBefore, d.workDir), [], 'every leftover workspace was unmounted');
      const { body } = await postExecution(next.url, { runtime: 'python', code: 'set_result("clean start")' });
      assert.equal(body.result, 'clean start');
    } finally {
      await next.close();
    }
  } finally {
    await removeDaemon(d);
  }
});

// Keeps `inFlight` executions running against url (Python and Node, each in a fresh sandbox beyond the warm
// ones) until stopped; requests that fail because the daemon died are expected.
function keepBusy(url: string, inFlight: number): { stop: () => Promise<number> } {
  let stopped = false;
  let answered = 0;
  const worker = async (n: number) => {
    for (let i = 0; !stopped; i++) {
      const runtime = (n + i) % 2 === 0 ? 'python' : 'node';
      const code = runtime === 'python' ? 'print("busy")' : 'console.log("busy")';
      const ok = await postExecution(url, { runtime, code }).then(() => true, () => false);
      if (ok) answered += 1;
      else await sleep(20);
    }
  };
  const workers = Array.from({ length: inFlight }, (_, n) => worker(n));
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
      return answered;
    },
  };
}

test('SIGKILLed while it creates sandboxes, at any moment of their set-up, the daemon leaves no sandbox process', { timeout: 240_000 }, async () => {
  // Its own sandbox uid (when root), so every process of that uid is one of this daemon's sandboxes.
  const root = process.getuid?.() === 0;
  const sandboxUid = root ? 61_000 + Math.floor(Math.random() * 3000) : (process.getuid?.() ?? 0);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-kill-loop-'));
  const env = { RUNBOX_WARM_SANDBOXES: '2', RUNBOX_MAX_CONCURRENT: '6', RUNBOX_SANDBOX_UID: String(sandboxUid), RUNBOX_SANDBOX_GID: String(sandboxUid) };
  const leftOf = async () => (await listProcesses()).filter((p) => p.state !== 'Z' && p.pid !== process.pid && (p.cmdline.includes(dir) || (root && p.uid === sandboxUid)));
  let mountedBefore: string[] = [];
  try {
    // After 0 ms the warm pool is starting; at 30 and 90 ms its sandboxes are being set up as the first requests
    // come; later, cold sandboxes start beside running ones (200 ms), then in the steady churn (400 ms). The
    // jitter moves each kill across the few milliseconds of bubblewrap's set-up.
    for (const baseMs of [0, 30, 90, 200, 400]) {
      const d = await spawnDaemon(env, dir);
      const mountedNow = await tmpfsMountsUnder(dir);
      assert.deepEqual(leftoverMounts(mountedNow, mountedBefore, dir), [], 'the new daemon swept the workspace mounts the killed one left');
      const busy = keepBusy(d.url, 6);
      await sleep(baseMs + Math.floor(Math.random() * 25));
      d.child.kill('SIGKILL');
      await d.exited;
      await busy.stop();
      await waitForNoProcessGroup(d.child.pid!);
      const deadline = Date.now() + 5_000;
      let left = await leftOf();
      while (left.length > 0 && Date.now() < deadline) {
        await sleep(50);
        left = await leftOf();
      }
      assert.deepEqual(left.map((p) => `${p.pid} (uid ${p.uid}, parent ${p.ppid}): ${p.cmdline.slice(0, 120)}`), [], `processes left ${baseMs} ms into the load`);
      mountedBefore = await tmpfsMountsUnder(dir);
    }
    const next = await startDaemon({ workDir: dir });
    try {
      assert.deepEqual(leftoverMounts(await tmpfsMountsUnder(dir), mountedBefore, dir), [], 'the last killed daemon\'s mounts were swept');
      const { body } = await postExecution(next.url, { runtime: 'python', code: 'set_result("still fine")' });
      assert.equal(body.result, 'still fine');
    } finally {
      await next.close();
    }
  } finally {
    for (const p of await leftOf()) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const mountPoint of await tmpfsMountsUnder(dir)) await unmountWorkspace(mountPoint);
    await unmountSelfBinds(dir);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

// Why pid 1 could not run it without an init, if it cannot: not root, or no unshare or tini.
async function cannotRunAsPid1(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root, to make a pid namespace and its mounts';
  for (const tool of ['unshare', 'tini']) if (!(await resolveExecutable(tool, process.env.PATH))) return `${tool} is not installed`;
  return false;
}

test('as pid 1 of a new pid namespace the daemon runs itself under tini, and no zombie accumulates', { timeout: 180_000, skip: await cannotRunAsPid1() }, async () => {
  const d = await spawnDaemon({ RUNBOX_WARM_SANDBOXES: '1' }, undefined, [AS_PID_1]);
  try {
    const table = await listProcesses();
    const pid1 = table.find((p) => p.ppid === d.child.pid);
    assert.ok(pid1, 'the pid namespace has a pid 1');
    assert.match(pid1.cmdline, /runbox\.js serve/);
    const init = table.find((p) => p.ppid === pid1.pid);
    assert.match(init?.cmdline ?? '', /^\S*tini -s -- /, 'the daemon put tini between itself and everything it starts');

    // 12 executions: ordinary ones, and timeouts (two of each runtime), whose kill leaves bubblewrap to the init
    // to reap.
    for (let round = 0; round < 4; round++) {
      const results = await Promise.all([
        postExecution(d.url, { runtime: 'python', code: 'set_result(1)' }),
        postExecution(d.url, { runtime: 'node', code: 'return 2' }),
        postExecution(d.url, { runtime: round % 2 ? 'node' : 'python', timeoutMs: 300, code: round % 2 ? 'while (true) {}' : 'while True: pass' }),
      ]);
      assert.deepEqual(results.map((r) => r.body.status), ['ok', 'ok', 'timeout'], JSON.stringify(results.map((r) => r.body.error)));
    }
    // A zombie is a process that exited and that no one reaped: a moment after it exits, at most.
    const zombies = async () => descendantsOf(pid1.pid, await listProcesses()).filter((p) => p.state === 'Z');
    const deadline = Date.now() + 5_000;
    let found = await zombies();
    while (found.length > 0 && Date.now() < deadline) {
      await sleep(100);
      found = await zombies();
    }
    assert.deepEqual(found.map((p) => `${p.pid} (parent ${p.ppid}): ${p.cmdline || '[exited]'}`), [], 'zombies in the namespace');

    // SIGTERM to pid 1 reaches the daemon: it drains and exits 0, and so does everything in front of it.
    process.kill(pid1.pid, 'SIGTERM');
    assert.deepEqual(await d.exited, { code: 0, signal: null }, d.output());
    assert.deepEqual(await executionDirs(d.workDir), []);
  } finally {
    await removeDaemon(d);
  }
});

test('a second daemon on a work directory in use is refused, naming the one that holds it', { timeout: 60_000 }, async () => {
  const first = await startDaemon();
  try {
    const config = { ...loadConfig({}, []), port: 0, workDir: first.workDir };
    await assert.rejects(createDaemon(config, { logger: pino({ level: 'silent' }) }), (error: Error) => {
      assert.equal(error.name, 'StartupError');
      assert.match(error.message, new RegExp(`in use by another Runbox daemon \\(pid ${process.pid}\\)`));
      return true;
    });
    const { body } = await postExecution(first.url, { runtime: 'node', code: 'return "first still fine"' });
    assert.equal(body.result, 'first still fine');
  } finally {
    await first.close();
  }
});

test('SIGKILLed while an install runs, the daemon leaves no installer process', { timeout: 90_000 }, async () => {
  // A slow index keeps the installer busy; the installer names its cache partition (under the work dir) on its
  // command line, so whatever is left of it is found by the work dir.
  const index = await startPackageIndex({ delayMs: 1500 });
  const d = await spawnDaemon({ RUNBOX_PYTHON_INDEX_URL: index.pypiUrl, RUNBOX_INSTALL_TIMEOUT_MS: '60000' });
  try {
    const client = await RawClient.connect(d.wsUrl);
    client.send({ type: 'execute', id: 'installing', runtime: 'python', code: 'install_package("runbox-demo")' });
    await waitUntil('the installer asks the index', async () => index.requests.length > 0 && (await findProcesses(path.join(d.workDir, 'package-cache'))).length > 0, 30_000);
    d.child.kill('SIGKILL');
    await d.exited;
    await waitForNoProcesses(d.workDir, 5000);
    await waitForNoProcessGroup(d.child.pid!);
    // The installer's private home is in the work directory, so the next daemon sweeps it with the rest.
    assert.equal((await entries(d.workDir, 'install-')).length, 1, 'the killed install left its home in the work directory');
    const next = await startDaemon({ workDir: d.workDir });
    try {
      assert.deepEqual(await entries(d.workDir, 'install-'), [], 'and the next daemon swept it');
    } finally {
      for (const mountPoint of await tmpfsMountsUnder(d.workDir)) await unmountWorkspace(mountPoint);
      await unmountSelfBinds(d.workDir);
      await next.close();
    }
  } finally {
    await removeDaemon(d);
    await index.close();
  }
});
