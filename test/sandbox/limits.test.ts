// Kernel limits for real: memory, processes and CPU time of a whole execution, enforced through cgroups, each
// ending with its own named outcome; the daemon carries on afterwards, and leaves no cgroup behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { Config } from '../../daemon/config.js';
import { listSandboxGroups, SandboxCgroups, sweepStaleCgroups } from '../../daemon/sandbox/cgroups.js';
import type { CgroupLayout } from '../../daemon/sandbox/cgroup-layout.js';
import { unmountSelfBinds } from '../../daemon/sandbox/mounts.js';
import { findProcesses, postExecution, startDaemon, waitForNoProcesses, type TestDaemon } from '../helpers/daemon.js';

const MiB = 1024 * 1024;
/** Small limits, so every bomb hits them fast. */
const SMALL: Partial<Config> = { memoryBytes: 128 * MiB, maxProcesses: 64, cpuTimeMs: 2000 };

const { cgroups, problem } = await SandboxCgroups.setUp();
const layout = cgroups?.layout as CgroupLayout;
const skip = problem ? `cgroups are not usable here, so the daemon runs without kernel limits: ${problem}` : false;

// Groups made by daemons of this test process (names start with the daemon's pid).
async function ourGroups(): Promise<string[]> {
  return (await listSandboxGroups(layout)).filter((name) => name.startsWith(`${process.pid}-`));
}

// Host pids of processes in any group of this test process's daemons. Read synchronously: with fs/promises a
// scan of /proc costs tens of ms of CPU, and the tests poll it.
async function processesInOurGroups(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cgroup = '';
    try {
      cgroup = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
    } catch {
      // gone meanwhile
    }
    if (cgroup.includes(`/runbox/${process.pid}-`)) pids.push(Number(entry));
  }
  return pids;
}

// No cgroup of this test process's daemons, and no process in one, is left: the filesystem is the proof. Waits
// up to timeoutMs for them to go (a daemon removes an execution's group as the execution ends).
async function assertNothingLeft(timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await ourGroups()).length + (await processesInOurGroups()).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.deepEqual(await ourGroups(), [], 'cgroups left behind');
  assert.deepEqual(await processesInOurGroups(), [], 'processes left in cgroups');
}

// Starts a daemon with small limits, runs the test, closes it, and checks that no cgroup of it, and no process
// in one, is left.
async function withDaemon(overrides: Partial<Config>, run: (d: TestDaemon) => Promise<void>): Promise<void> {
  const d = await startDaemon({ ...SMALL, ...overrides });
  try {
    await run(d);
  } finally {
    await d.close();
    await assertNothingLeft(0);
  }
}

// One daemon with small limits and no warm pool, shared by the tests that are not about the warm pool (started by
// the first of them). Idle, it holds no cgroup, so each test still checks that its executions left no cgroup and
// no process in one, while the daemon runs; and once it closes, that it left nothing either.
let cold: Promise<TestDaemon> | undefined;
async function withColdDaemon(run: (d: TestDaemon) => Promise<void>): Promise<void> {
  cold ??= startDaemon({ ...SMALL, warmSandboxes: 0 });
  const d = await cold;
  await assertNothingLeft();
  await run(d);
  await assertNothingLeft();
}
after(async () => {
  if (!cold) return;
  await (await cold).close();
  await assertNothingLeft(0);
});

const run = async (d: TestDaemon, body: Record<string, unknown>) => {
  const { status, body: result } = await postExecution(d.url, body);
  assert.equal(status, 200, JSON.stringify(result));
  return result;
};

const assertServes = async (d: TestDaemon, runtime: 'python' | 'node') => {
  const body = await run(d, { runtime, code: runtime === 'python' ? 'set_result(6 * 7)' : 'return 6 * 7' });
  assert.equal(body.status, 'ok', JSON.stringify(body));
  assert.equal(body.result, 42);
};

describe('memory: memoryBytes for all processes together, swap included', { skip }, () => {
  const bombs: Array<[string, 'python' | 'node', string]> = [
    ['Python bytearray(10**9)', 'python', 'x = bytearray(10 ** 9)'],
    ['Python bytearray growing', 'python', 'x = bytearray(10 ** 7)\nwhile True:\n    x.extend(bytearray(10 ** 7))'],
    ["Python b'x' * n in a loop", 'python', "keep = []\nwhile True:\n    keep.append(b'x' * (1 << 20))"],
    ['Node Buffer.alloc loop', 'node', 'const keep = [];\nfor (;;) keep.push(Buffer.alloc(1 << 20, 1));'],
    ['Node huge array', 'node', 'const a = [];\nfor (let i = 0; ; i++) a.push({ i, s: "x" + i });'],
  ];
  for (const [name, runtime, code] of bombs) {
    test(`${name}: killed with MemoryLimit, and the daemon serves the next execution`, async () => {
      await withColdDaemon(async (d) => {
        const body = await run(d, { runtime, code, timeoutMs: 60_000 });
        assert.equal(body.status, 'killed', JSON.stringify(body));
        assert.equal(body.error.type, 'MemoryLimit');
        assert.match(body.error.message, /more than memoryBytes \(134217728 bytes\)/);
        await assertServes(d, runtime);
      });
    });
  }

  test('a request lowering memoryBytes gets that limit, even when the warm sandbox preloaded more', async () => {
    // A sandbox of its own preloads in its own group; the fork server's children hold no preload (fork-server.test.ts).
    await withDaemon({ pythonPreload: ['numpy', 'pandas'], forkServer: false }, async (d) => {
      const limits = { memoryBytes: 32 * MiB };
      // Let the idle warm sandbox preload (about 45 MB): until its group holds more than the lower limit and has
      // stopped growing (the same for 300 ms), so the lower limit cannot be applied to it.
      const memoryFile = layout.version === 'v1' ? 'memory.usage_in_bytes' : 'memory.current';
      const held = async () => Math.max(0, ...(await Promise.all((await ourGroups()).map(async (name) => Number(await fs.readFile(path.join(layout.memory, 'runbox', name, memoryFile), 'utf8').catch(() => '0'))))));
      let last = -1;
      let settledSince = Date.now();
      for (const deadline = Date.now() + 30_000; ; ) {
        const bytes = await held();
        if (bytes !== last) [last, settledSince] = [bytes, Date.now()];
        else if (bytes > limits.memoryBytes && Date.now() - settledSince >= 300) break;
        assert.ok(Date.now() < deadline, `the warm sandbox never preloaded past ${limits.memoryBytes} bytes and settled (holds ${bytes})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const over = await run(d, { runtime: 'python', code: 'x = bytearray(48 * 2 ** 20)\nset_result(len(x))', limits });
      assert.equal(over.status, 'killed', JSON.stringify(over));
      assert.equal(over.error.type, 'MemoryLimit');
      assert.match(over.error.message, /memoryBytes \(33554432 bytes\)/);
      const under = await run(d, { runtime: 'python', code: 'x = bytearray(16 * 2 ** 20)\nset_result(len(x))', limits });
      assert.equal(under.status, 'ok', JSON.stringify(under));
      const node = await run(d, { runtime: 'node', code: 'const b = Buffer.alloc(64 * 2 ** 20, 1); return b.length', limits: { memoryBytes: 48 * MiB } });
      assert.equal(node.status, 'killed', JSON.stringify(node));
      assert.equal(node.error.type, 'MemoryLimit');
      await assertServes(d, 'python');
    });
  });

  test('a child process over the limit: named MemoryLimit', async () => {
    await withColdDaemon(async (d) => {
      const body = await run(d, { runtime: 'python', code: 'import subprocess, sys\nsubprocess.run([sys.executable, "-c", "x = bytearray(2 ** 30)"], check=True)' });
      assert.equal(body.error?.type, 'MemoryLimit', JSON.stringify(body));
      if (layout.version === 'v1') {
        // v1 kills the largest process, the child: the code carries on and fails with its own error.
        assert.equal(body.status, 'error');
        assert.match(body.error.message, /CalledProcessError/);
      } else {
        // v2 kills the whole group (memory.oom.group).
        assert.equal(body.status, 'killed');
      }
    });
  });
});

describe('processes: maxProcesses for all processes and threads together', { skip }, () => {
  test('Python os.fork() loop: contained, ends, nothing left', async () => {
    await withColdDaemon(async (d) => {
      // A CPU time budget well below the daemon's 2000 ms: the storm of forks is shorter, and still meets its limits.
      const body = await run(d, { runtime: 'python', code: 'import os\nwhile True:\n    os.fork()', timeoutMs: 10_000, limits: { cpuTimeMs: 500 } });
      // Whichever limit the forked interpreters reach first ends it: processes, memory together, CPU time
      // together, or the wall clock.
      assert.ok(['ProcessLimit', 'MemoryLimit', 'CpuTimeLimit', 'Timeout'].includes(body.error?.type), JSON.stringify(body.error));
      await waitForNoProcesses(d.workDir);
      await assertServes(d, 'python');
    });
  });

  test('a shell fork bomb through /bin/sh: never more processes than maxProcesses, all gone afterwards', async () => {
    await withColdDaemon(async (d) => {
      const marker = `bomb-${process.pid}-${Date.now()}`;
      // The code lets the bomb go on until the shell first fails to fork (its first line on stderr, passed on), and a
      // moment more, instead of a fixed 1.5 s; a bomb that never met the limit would block it until timeoutMs.
      const code = [
        'import subprocess, sys, time',
        `bomb = subprocess.Popen(["/bin/sh", "-c", "bomb() { bomb | bomb & }; bomb", ${JSON.stringify(marker)}], stderr=subprocess.PIPE)`,
        'sys.stderr.write(bomb.stderr.readline().decode())',
        'time.sleep(0.3)',
      ].join('\n');
      const running = run(d, { runtime: 'python', code, timeoutMs: 20_000 });
      // The kernel's count for the execution's group, watched from the host while the bomb goes off.
      let peak = 0;
      let finished = false;
      void running.finally(() => (finished = true)).catch(() => undefined);
      while (!finished) {
        for (const name of await ourGroups()) {
          const current = Number(await fs.readFile(path.join(layout.pids, 'runbox', name, 'pids.current'), 'utf8').catch(() => '0'));
          peak = Math.max(peak, current);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const body = await running;
      assert.equal(body.status, 'ok', JSON.stringify(body));
      assert.match(body.stderr, /Cannot fork/, 'the shell met the limit');
      assert.ok(peak > 16 && peak <= 64, `peak ${peak} processes and threads`);
      await waitForNoProcesses(marker);
      await waitForNoProcesses(d.workDir);
    });
  });

  test('Node child_process.spawn loop: ProcessLimit, nothing left', async () => {
    await withColdDaemon(async (d) => {
      const body = await run(d, { runtime: 'node', code: "const { spawn } = require('child_process');\nfor (let i = 0; i < 500; i++) spawn('sleep', ['60']);", timeoutMs: 20_000 });
      assert.equal(body.status, 'error', JSON.stringify(body));
      assert.equal(body.error.type, 'ProcessLimit');
      assert.match(body.error.message, /reached maxProcesses \(64 processes and threads\).*EAGAIN/);
      await waitForNoProcesses(d.workDir);
      await assertServes(d, 'node');
    });
  });

  test('a request lowering maxProcesses gets that limit', async () => {
    await withDaemon({}, async (d) => {
      const code = 'import subprocess\nprocs = [subprocess.Popen(["sleep", "30"]) for _ in range(40)]\nset_result(len(procs))';
      const lowered = await run(d, { runtime: 'python', code, limits: { maxProcesses: 16 } });
      assert.equal(lowered.error?.type, 'ProcessLimit', JSON.stringify(lowered));
      assert.match(lowered.error.message, /maxProcesses \(16 processes/);
      const configured = await run(d, { runtime: 'python', code });
      assert.equal(configured.status, 'ok', JSON.stringify(configured));
    });
  });
});

describe('CPU time: cpuTimeMs for the whole execution', { skip }, () => {
  const spins: Array<[string, 'python' | 'node', string]> = [
    ['Python spin', 'python', 'while True:\n    pass'],
    ['Node spin', 'node', 'for (;;) {}'],
    ['Python spin in four processes', 'python', 'import os\nfor _ in range(2):\n    os.fork()\nwhile True:\n    pass'],
  ];
  for (const [name, runtime, code] of spins) {
    test(`${name}: killed with CpuTimeLimit long before the wall clock`, async () => {
      await withColdDaemon(async (d) => {
        const body = await run(d, { runtime, code, timeoutMs: 60_000, limits: { cpuTimeMs: 500 } });
        assert.equal(body.status, 'killed', JSON.stringify(body));
        assert.equal(body.error.type, 'CpuTimeLimit');
        assert.match(body.error.message, /more than cpuTimeMs \(500 ms of CPU time\)/);
        assert.ok(body.durationMs < 15_000, `took ${body.durationMs} ms`);
        await assertServes(d, runtime);
      });
    });
  }

  test('one core at most: three spinning processes share one core instead of taking every core', { skip: os.availableParallelism() < 2 ? 'one CPU core here: a one-core quota cannot be told from no quota' : false }, async () => {
    await withColdDaemon(async (d) => {
      const code = [
        'import os, time',
        'readers = []',
        'for _ in range(3):',
        '    r, w = os.pipe()',
        '    if os.fork() == 0:',
        '        end = time.monotonic() + 1.5',
        '        while time.monotonic() < end: pass',
        '        os.write(w, str(time.process_time()).encode()); os._exit(0)',
        '    readers.append(r)',
        'set_result(sum(float(os.read(r, 100)) for r in readers))',
      ].join('\n');
      const body = await run(d, { runtime: 'python', code, timeoutMs: 30_000, limits: { cpuTimeMs: 2000 } });
      assert.equal(body.status, 'ok', JSON.stringify(body));
      // 1.5 s of wall time on one core; without the quota three spinners would use up to 4.5 s (one core each).
      assert.ok(body.result < 1.5 * 1.3, `the three processes used ${body.result} s of CPU time in 1.5 s`);
    });
  });

  test('waiting costs no CPU time: a sleep longer than cpuTimeMs ends ok', async () => {
    await withColdDaemon(async (d) => {
      const body = await run(d, { runtime: 'python', code: 'import time\ntime.sleep(1)\nset_result("rested")', limits: { cpuTimeMs: 500 } });
      assert.equal(body.status, 'ok', JSON.stringify(body));
    });
  });
});

describe('ending at `done`: the sandbox frozen, its files collected, then killed', { skip: skip || (layout?.freezer ? false : 'this host has no cgroup freezer: executions end when their processes exit') }, () => {
  test('an execution that reports its end ends there, with the status it exits with; nothing is left frozen or running', async () => {
    const d = await startDaemon({ ...SMALL, warmSandboxes: 0 }, { logs: true });
    try {
      const cases = [
        { runtime: 'python', code: 'open("out.txt", "w").write("kept")\nset_result(1, files=["out.txt"])', exitCode: 0 },
        { runtime: 'python', code: 'import sys\nsys.exit(3)', exitCode: 3 },
        { runtime: 'node', code: 'require("fs").writeFileSync("out.txt", "kept"); setResult(1, ["out.txt"])', exitCode: 0 },
        { runtime: 'node', code: 'process.exit(4)', exitCode: 4 },
      ] as const;
      for (const { runtime, code, exitCode } of cases) {
        const body = await run(d, { runtime, code });
        assert.equal(body.exitCode, exitCode, JSON.stringify(body));
        if (exitCode === 0) assert.equal(Buffer.from(body.files[0].content, 'base64').toString(), 'kept');
      }
      // Code that ends without reporting (os._exit) is waited for, as always.
      const silent = await run(d, { runtime: 'python', code: 'import os\nos._exit(5)' });
      assert.equal(silent.exitCode, 5);
      // Whichever comes first ends it: the freeze after `done`, or the exit (a small process may be gone before the
      // freeze is through). Code holding 64 MiB takes long to tear down: there the freeze wins.
      for (let i = 0; i < 3; i++) await run(d, { runtime: 'python', code: 'data = bytearray(64 * 1024 * 1024)\nfor i in range(0, len(data), 4096): data[i] = 1\nset_result(len(data))' });
      const ended = d.logs.filter((line) => line.msg === 'execution finished').map((line) => line.ended);
      assert.ok(ended.slice(0, 4).every((how) => how === 'done' || how === 'exit'), ended.join(' '));
      assert.equal(ended[4], 'exit', 'code that never reports is waited for');
      assert.ok(ended.slice(5).includes('done'), `an execution with memory to tear down ended at done: ${ended.join(' ')}`);
      await assertNothingLeft();
    } finally {
      await d.close();
    }
  });

  test('a process the code left running stops at `done` and never runs again: killed while frozen', async () => {
    await withColdDaemon(async (d) => {
      const marker = `sleep ${400000 + Math.floor(Math.random() * 90000)}`;
      const body = await run(d, { runtime: 'python', code: `import subprocess\nsubprocess.Popen("${marker}".split(), start_new_session=True)\nset_result("reported")` });
      assert.equal(body.result, 'reported');
      await waitForNoProcesses(marker);
    });
  });
});

describe('cgroup membership and clean-up', { skip }, () => {
  for (const warmSandboxes of [0, 1]) {
    test(`the interpreter and its children are in the execution's group (${warmSandboxes ? 'warm' : 'freshly started'} sandboxes)`, async () => {
      const withSandboxes = warmSandboxes ? (check: (d: TestDaemon) => Promise<void>) => withDaemon({ warmSandboxes }, check) : withColdDaemon;
      await withSandboxes(async (d) => {
        // Seen from the host: inside, the sandbox's cgroup namespace may be rooted at its own group (the move can
        // come before bubblewrap makes the namespace), where /proc/self/cgroup says only "/".
        const group = new RegExp(`(memory|0):/runbox/${process.pid}-`);
        const programs = {
          python: (marker: string) => `import subprocess, time\np = subprocess.Popen("${marker}".split())\ntime.sleep(1.5)`,
          node: (marker: string) => `require("child_process").spawn("sleep", ["${marker.split(' ')[1]}"], { stdio: "ignore" }).unref(); await new Promise((r) => setTimeout(r, 1500))`,
        };
        for (const runtime of ['python', 'node'] as const) {
          const marker = `sleep ${300000 + Math.floor(Math.random() * 90000)}`;
          const running = postExecution(d.url, { runtime, code: programs[runtime](marker), timeoutMs: 20000 });
          let sleeper: number | undefined;
          for (let i = 0; sleeper === undefined; i++) {
            assert.ok(i < 400, `${runtime}: the code's child never started`);
            [sleeper] = await findProcesses(marker);
            if (sleeper === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
          }
          const interpreter = Number(/^\d+ \(.*\) \S+ (\d+)/.exec(readFileSync(`/proc/${sleeper}/stat`, 'utf8'))?.[1]);
          for (const pid of [sleeper, interpreter]) assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), group, `${runtime}: pid ${pid}`);
          const { body } = await running;
          assert.equal(body.status, 'ok', JSON.stringify(body));
          await waitForNoProcesses(marker);
        }
      });
    });
  }

  test('sweepStaleCgroups removes the groups of a daemon killed with SIGKILL, and what ran in them', async () => {
    const helper = new URL('../helpers/daemon.js', import.meta.url).pathname;
    const script = `import { startDaemon } from ${JSON.stringify(helper)};\nconst d = await startDaemon({ warmSandboxes: 1 });\nconsole.log(d.workDir);\nsetInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const workDir = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      child.once('exit', (code) => reject(new Error(`the daemon process exited with ${code}`)));
    });
    try {
      const prefix = `${child.pid}-`;
      const theirs = async () => (await listSandboxGroups(layout)).filter((name) => name.startsWith(prefix));
      for (let i = 0; (await theirs()).length < 2; i++) {
        assert.ok(i < 200, 'the daemon never made its warm sandboxes\' groups');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const removed = await sweepStaleCgroups();
      assert.deepEqual(await theirs(), []);
      assert.ok(removed.some((name) => name.startsWith(prefix)), `removed: ${removed.join(', ')}`);
      await waitForNoProcesses(workDir);
    } finally {
      child.kill('SIGKILL');
      await unmountSelfBinds(workDir); // the fork server's bind of the work directory, which a SIGKILL leaves
      await fs.rm(workDir, { recursive: true, force: true });
    }
  });

  test('a sweep never touches the groups of a live daemon', async () => {
    await withDaemon({ warmSandboxes: 1 }, async (d) => {
      for (let i = 0; (await ourGroups()).length < 2; i++) {
        assert.ok(i < 200, 'no warm sandbox groups appeared');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const before = await ourGroups();
      const removed = await sweepStaleCgroups();
      assert.deepEqual(removed.filter((name) => name.startsWith(`${process.pid}-`)), [], 'the sweep removed none of ours');
      // The pool may meanwhile replace its warm Python sandbox (once the fork server is ready): a group of before
      // that is gone must have been replaced by a new one, not swept.
      const after = await ourGroups();
      assert.ok(after.length >= before.length, `groups before ${before.join(', ')}, after ${after.join(', ')}`);
      await assertServes(d, 'node');
    });
  });
});
