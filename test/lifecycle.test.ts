// The daemon as a process: SIGTERM drains (running executions finish, new ones are refused, exit 0, nothing
// left); a second signal cancels at once; SIGKILL leaves no sandbox process, and the next daemon on the same
// work directory sweeps what the killed one left there.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../daemon/config.js';
import { workspaceMountsUnder } from '../daemon/sandbox/mounts.js';
import { createDaemon } from '../daemon/server.js';
import { findProcesses, postExecution, startDaemon, waitForNoProcesses } from './helpers/daemon.js';
import { RawClient } from './helpers/ws-client.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/runbox.js');

interface ChildDaemon {
  child: ChildProcess;
  url: string;
  wsUrl: string;
  workDir: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

// Starts `runbox serve --port 0` as a child process with its own work directory; the URL comes from its stdout.
async function spawnDaemon(env: Record<string, string> = {}, workDir?: string): Promise<ChildDaemon> {
  const dir = workDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-life-')));
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--log-level', 'warn'], {
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

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const entries = async (dir: string, prefix: string) => (await fs.readdir(dir)).filter((name) => name.startsWith(prefix));
const healthStatus = async (url: string) => (await fetch(`${url}/healthz`).catch(() => null))?.status ?? 0;

test('SIGTERM drains: running executions finish, new ones are refused, exit 0, nothing left', { timeout: 60_000 }, async () => {
  const d = await spawnDaemon({ RUNBOX_SHUTDOWN_GRACE_MS: '20000' });
  try {
    const client = await RawClient.connect(d.wsUrl);
    const code = 'import time\nprint("started", flush=True)\ntime.sleep(1.5)\nprint("finished")\nset_result(42)';
    const wsResult = client.execute({ id: 'draining', runtime: 'python', code });
    const httpResult = postExecution(d.url, { runtime: 'node', code: 'await new Promise((r) => setTimeout(r, 1500)); return "http done"' });
    await waitUntil('the WebSocket execution runs', async () => client.of('draining').stdout.includes('started'));
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
    assert.deepEqual(await entries(d.workDir, 'exec-'), []);
    assert.deepEqual(await entries(d.workDir, 'daemon.pid'), [], 'the work directory is released');
    assert.deepEqual(await findProcesses(d.workDir), []);
  } finally {
    d.child.kill('SIGKILL');
    await fs.rm(d.workDir, { recursive: true, force: true });
  }
});

test('past shutdownGraceMs the rest is cancelled; a second signal cancels at once', { timeout: 60_000 }, async () => {
  for (const [grace, signals] of [['300', 1], ['60000', 2]] as const) {
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
      assert.deepEqual(await entries(d.workDir, 'exec-'), []);
    } finally {
      d.child.kill('SIGKILL');
      await fs.rm(d.workDir, { recursive: true, force: true });
    }
  }
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
    const left = await entries(d.workDir, 'exec-');
    assert.ok(left.length >= 1, 'the killed daemon left its execution directories (and their sockets) behind');
    assert.deepEqual(await entries(d.workDir, 'daemon.pid'), ['daemon.pid']);
    const mountedBefore = await workspaceMountsUnder(d.workDir);
    if (process.getuid?.() === 0) assert.ok(mountedBefore.length >= 1, 'the killed daemon left its workspace mounts behind');

    const next = await startDaemon({ workDir: d.workDir });
    try {
      const now = await entries(d.workDir, 'exec-');
      assert.deepEqual(now.filter((name) => left.includes(name)), [], 'every leftover was removed');
      await assert.rejects(fs.access(path.join(d.workDir, 'sessions', session.id)), 'sessions do not survive a restart: swept');
      const gone = await fetch(`${next.url}/v1/sessions/${session.id}`);
      assert.equal(gone.status, 404);
      const mountedNow = await workspaceMountsUnder(d.workDir);
      assert.deepEqual(mountedNow.filter((dir) => mountedBefore.includes(dir)), [], 'every leftover workspace was unmounted');
      const { body } = await postExecution(next.url, { runtime: 'python', code: 'set_result("clean start")' });
      assert.equal(body.result, 'clean start');
    } finally {
      await next.close();
    }
  } finally {
    d.child.kill('SIGKILL');
    await fs.rm(d.workDir, { recursive: true, force: true });
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
