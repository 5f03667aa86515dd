// The daemon's file descriptors: it runs with its soft RLIMIT_NOFILE at the hard limit (Node raises it), refuses
// caps that could take it to that limit, and, when it does run out for real (its limit lowered under it while a
// flood holds what is left), a spawn that fails is an error of that one execution: the daemon stays up, leaves
// no mount behind, and answers ok again once descriptors are back.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkDescriptorBudget, descriptorsNeeded, parseDescriptorLimit } from '../daemon/descriptors.js';
import { tmpfsMountsUnder } from '../daemon/sandbox/mounts.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/runbox.js');
const PRLIMIT = '/usr/bin/prlimit';

interface Child {
  child: ChildProcess;
  url: string;
  workDir: string;
  output: () => string;
  exited: Promise<number | null>;
}

// `runbox serve` as a child process, started through `prefix` (e.g. prlimit); resolves once it listens, or with
// its output if it exits first.
async function spawnDaemon(prefix: string[], args: string[] = []): Promise<Child | { exitCode: number | null; output: string }> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-fd-'));
  const [file, ...rest] = [...prefix, process.execPath, BIN, 'serve', '--port', '0', '--work-dir', workDir, '--log-level', 'warn', ...args];
  const child = spawn(file, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string | null>((resolve) => {
    child.stdout?.on('data', () => {
      const match = /Runbox is listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    void exited.then(() => resolve(null));
  });
  if (url === null) {
    await fs.rm(workDir, { recursive: true, force: true });
    return { exitCode: await exited, output };
  }
  return { child, url, workDir, output: () => output, exited };
}

async function stop(daemon: Child): Promise<void> {
  daemon.child.kill('SIGTERM');
  await daemon.exited;
  await fs.rm(daemon.workDir, { recursive: true, force: true });
}

const limitsOf = async (pid: number) => parseDescriptorLimit(await fs.readFile(`/proc/${pid}/limits`, 'utf8'));
const hardLimit = async () => (await limitsOf(process.pid))!.hard;

test('parseDescriptorLimit and the budget: connections + 32 per possible sandbox + 256 must fit', () => {
  assert.deepEqual(parseDescriptorLimit('Max cpu time  unlimited unlimited seconds\nMax open files            1024                 524288               files\n'), { soft: 1024, hard: 524288 });
  assert.equal(parseDescriptorLimit('nothing'), null);
  // 4 running, 1 warm per runtime (2), 4 session sandboxes: 10 sandboxes.
  const needs = { maxConnections: 1024, maxConcurrent: 4, warmSandboxes: 1 };
  assert.equal(descriptorsNeeded(needs), 1024 + 10 * 32 + 256);
  assert.equal(checkDescriptorBudget(needs, 1600), null);
  assert.match(checkDescriptorBudget(needs, 1599) ?? '', /maxConnections \(1024\), maxConcurrent \(4\) and warmSandboxes \(1\) can need 1600 file descriptors.*may open 1599 \(RLIMIT_NOFILE\)/);
});

test('Node raises the daemon\'s soft RLIMIT_NOFILE to the hard limit; caps that do not fit refuse to start', { timeout: 60_000 }, async () => {
  const hard = Math.min(await hardLimit(), 4096);
  const started = await spawnDaemon([PRLIMIT, `--nofile=256:${hard}`]);
  assert.ok('child' in started, `the daemon did not start: ${'output' in started ? started.output : ''}`);
  try {
    assert.deepEqual(await limitsOf(started.child.pid!), { soft: hard, hard });
  } finally {
    await stop(started);
  }
  const refused = await spawnDaemon([PRLIMIT, '--nofile=256:1024'], ['--max-concurrent', '4', '--warm-sandboxes', '1']);
  assert.ok(!('child' in refused));
  assert.equal(refused.exitCode, 2);
  assert.match(refused.output, /maxConnections \(1024\), maxConcurrent \(4\) and warmSandboxes \(1\) up to maxWarmSandboxes \(4\) can need 1792 file descriptors .* may open 1024/);
});

// POSTs an execution over the one keep-alive connection of `agent` (already trusted by the daemon).
function post(agent: http.Agent, url: string, code: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/v1/executions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
    });
    request.on('error', reject);
    request.end(JSON.stringify({ runtime: 'python', code }));
  });
}

test('out of descriptors for real: failed spawns are errors of their executions, the daemon survives and recovers', { timeout: 120_000 }, async (t) => {
  const hard = await hardLimit();
  const started = await spawnDaemon([], ['--warm-sandboxes', '0', '--headers-timeout-ms', '3000']);
  assert.ok('child' in started, `the daemon did not start: ${'output' in started ? started.output : ''}`);
  const daemon = started;
  const pid = daemon.child.pid!;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const flood: net.Socket[] = [];
  try {
    assert.equal((await post(agent, daemon.url, 'set_result(1)')).body.status, 'ok');
    // Its soft limit lowered to a few more than it holds now; a flood of held connections takes the rest.
    const inUse = readdirSync(`/proc/${pid}/fd`).length;
    execFileSync(PRLIMIT, ['--pid', String(pid), `--nofile=${inUse + 16}:${hard}`]);
    const port = Number(new URL(daemon.url).port);
    for (let i = 0; i < 64; i++) {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
      socket.on('error', () => undefined);
      flood.push(socket);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await post(agent, daemon.url, 'set_result(1)'));
    t.diagnostic(`while exhausted: ${answers.map((a) => `${a.status} ${a.body.status} ${a.body.error?.type ?? ''}`).join('; ')}`);
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      if (answer.body.status !== 'ok') {
        assert.equal(answer.body.error.type, 'SandboxError');
        assert.match(answer.body.error.message, /out of file descriptors.*EMFILE/);
      }
    }
    assert.ok(answers.some((a) => a.body.status === 'error'), 'at least one spawn failed for want of descriptors');
    assert.equal(daemon.child.exitCode, null, `the daemon exited: ${daemon.output()}`);
    // Descriptors back: the same daemon answers ok, and no workspace mount was left by the failed starts.
    for (const socket of flood) socket.destroy();
    execFileSync(PRLIMIT, ['--pid', String(pid), `--nofile=${hard}:${hard}`]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await post(agent, daemon.url, 'set_result(2)')).body.result, 2);
    // Each failed start is logged with its cause, wherever it failed: the directory or the spawn ("could not start a
    // sandbox"), or the move into its cgroup.
    assert.match(daemon.output(), /"level":50.*EMFILE.*"msg":"(could not start a sandbox|could not move a sandbox into its cgroup)"/);
  } finally {
    for (const socket of flood) socket.destroy();
    agent.destroy();
    await stop(daemon);
  }
  assert.deepEqual(await tmpfsMountsUnder(daemon.workDir), []);
});
