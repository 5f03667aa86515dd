// The Python fork server for real: children of one sandboxed interpreter that each make themselves a sandbox of
// their own before the code runs. What a child is (its namespaces, capabilities, filter, mounts), that two
// children share nothing they could use to reach each other, how a child's end is reported, and that a server
// that dies is replaced while executions start sandboxes of their own. The hostile, escape and limits tests run
// through the fork server too (it is on by default), unchanged.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { findProcesses, listProcesses, postExecution, startDaemon, waitForNoProcesses, type TestDaemon } from '../helpers/daemon.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'the fork server needs a root daemon (it shares the work directory\'s mounts with the server)';
let d: TestDaemon;

before(async () => {
  if (skip) return;
  d = await startDaemon({ pythonPreload: ['json', 'decimal', 'numpy'] }, { logs: true });
  await waitForLog(d, 'Python fork server ready');
  await waitForLog(d, 'plain Python fork server ready');
});
after(() => d?.close());

async function waitForLog(daemon: TestDaemon, message: string, count = 1, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (daemon.logs.filter((line) => line.msg === message).length < count) {
    if (Date.now() > deadline) throw new Error(`no "${message}" in the log after ${timeoutMs} ms: ${JSON.stringify(daemon.logs.slice(-5))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const py = async (code: string, extra: Record<string, unknown> = {}) => {
  const { body } = await postExecution(d.url, { runtime: 'python', code, ...extra });
  assert.notEqual(body.status, undefined, JSON.stringify(body));
  return body;
};

// The host pid of the fork server's interpreter (the one with the preload; the plain server has warm children
// too): the parent of this daemon's forked children (each names its execution's directory in its command line;
// the server's own names no path of the daemon's) that has numpy mapped.
async function serverPid(): Promise<number> {
  const table = await listProcesses();
  const named = (pid: number) => table.find((p) => p.pid === pid)?.cmdline.startsWith(`runbox-sandbox ${d.workDir}/`) ?? false;
  const servers = [...new Set(table.filter((p) => named(p.pid) && !named(p.ppid)).map((p) => p.ppid))];
  const preloaded = servers.filter((pid) => fs.readFileSync(`/proc/${pid}/maps`, 'utf8').includes('/numpy/'));
  assert.equal(preloaded.length, 1, `one fork server with the preload among this daemon's: ${JSON.stringify(servers)}`);
  const [pid] = preloaded;
  assert.match(table.find((p) => p.pid === pid)?.cmdline ?? '', /\/runbox\/python\/zygote\.py/);
  return pid;
}

describe('a forked child', { skip }, () => {
  test('runs the code as a descendant of the fork server, with the server\'s modules already imported', async () => {
    const marker = `sleep ${600000 + Math.floor(Math.random() * 90000)}`;
    const running = py(`import subprocess, sys\np = subprocess.Popen("${marker}".split())\nprint("started", flush=True)\nset_result(sorted(m for m in ("json", "decimal", "numpy") if m in sys.modules))\nimport time\ntime.sleep(1.5)\np.kill()`);
    let pids: number[] = [];
    for (let i = 0; i < 100 && pids.length === 0; i++) {
      pids = await findProcesses(marker);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(pids.length, 1, 'the code\'s child process is running');
    const table = await listProcesses();
    const ancestors: number[] = [];
    for (let pid = pids[0]; pid > 1;) {
      const entry = table.find((p) => p.pid === pid);
      if (!entry) break;
      ancestors.push(entry.ppid);
      pid = entry.ppid;
    }
    assert.ok(ancestors.includes(await serverPid()), 'the fork server is an ancestor of the code');
    const body = await running;
    assert.equal(body.status, 'ok', JSON.stringify(body.error));
    assert.deepEqual(body.result, ['decimal', 'json', 'numpy'], 'the preload modules were imported before the code arrived');
    await waitForNoProcesses(marker);
  });

  test('with no warm sandbox, comes from the plain server (nothing preloaded) when the code names no preload module', async () => {
    // Without a warm pool, each execution forks a child for itself, from the server its code calls for.
    const cold = await startDaemon({ pythonPreload: ['decimal', 'numpy'], warmSandboxes: 0 }, { logs: true });
    try {
      await waitForLog(cold, 'Python fork server ready');
      await waitForLog(cold, 'plain Python fork server ready');
      const run = async (code: string) => (await postExecution(cold.url, { runtime: 'python', code })).body;
      const loaded = 'import sys\nset_result(sorted(m for m in ("deci" + "mal", "nump" + "y") if m in sys.modules))';
      const plain = await run(loaded);
      assert.equal(plain.status, 'ok', JSON.stringify(plain.error));
      assert.deepEqual(plain.result, [], 'a child of the plain server has imported nothing of the preload');
      const named = await run(`${loaded}\n# numpy is named here, so the preload may be used`);
      assert.deepEqual(named.result, ['decimal', 'numpy']);
      const dynamic = await run(`${loaded}\nimportlib = None`);
      assert.deepEqual(dynamic.result, ['decimal', 'numpy'], 'code that may import by a name built at run time gets the preload');
    } finally {
      await cold.close();
    }
  });

  test('is a sandbox of its own: pid 2 under its own init, uid 1000, no capability, no new privileges, two seccomp filters', async () => {
    const body = await py([
      'import os',
      'status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)',
      'pids = sorted(int(e) for e in os.listdir("/proc") if e.isdigit())',
      'set_result({"pid": os.getpid(), "uid": os.getuid(), "pids": pids, "host": os.uname().nodename,',
      '  "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],',
      '  "nnp": status["NoNewPrivs"].strip(), "seccomp": status["Seccomp"].strip(), "filters": status.get("Seccomp_filters", "").strip(),',
      '  "work": os.listdir("/runbox-work"), "cwd": os.getcwd()})',
    ].join('\n'));
    assert.equal(body.status, 'ok', JSON.stringify(body.error));
    const r = body.result;
    assert.equal(r.pid, 2);
    assert.deepEqual(r.pids, [1, 2], 'its /proc shows its own init and itself, nothing of the server or the host');
    assert.equal(r.uid, 1000);
    assert.equal(r.host, 'runbox');
    assert.deepEqual(r.caps, Array(5).fill('0000000000000000'));
    assert.equal(r.nnp, '1');
    assert.equal(r.seccomp, '2');
    assert.equal(r.filters, '2', "the server's filter and the full one on top");
    assert.deepEqual(r.work, [], "the server's view of the work directory is covered: no other execution's directory shows");
    assert.equal(r.cwd, '/workspace');
  });

  test('cannot mount, unshare or reach the work directory; its packages are read-only', async () => {
    const body = await py([
      'import ctypes, os',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'out = {}',
      'out["unshare"] = (libc.unshare(0x00020000), ctypes.get_errno())',
      'out["mount"] = (libc.mount(b"none", b"/tmp", b"tmpfs", 0, None), ctypes.get_errno())',
      'out["umount"] = (libc.umount2(b"/workspace", 2), ctypes.get_errno())',
      'out["work"] = os.listdir("/runbox-work")',
      'try:\n    open("/runbox/packages/x", "w")\n    out["packages"] = "written"\nexcept OSError as e:\n    out["packages"] = e.errno',
      'set_result(out)',
    ].join('\n'));
    assert.equal(body.status, 'ok', JSON.stringify(body.error));
    assert.deepEqual(body.result.unshare, [-1, 1], 'EPERM');
    assert.deepEqual(body.result.mount, [-1, 1], 'EPERM');
    assert.deepEqual(body.result.umount, [-1, 1], 'EPERM');
    assert.deepEqual(body.result.work, []);
    assert.equal(body.result.packages, 30, 'EROFS');
  });

  test('two children at once share no workspace, /tmp, /dev/shm, pty or process', async () => {
    const code = (tag: string) => [
      'import os, time, pty',
      `for d in ("/workspace", "/tmp", "/dev/shm"):\n    open(os.path.join(d, "mark-${tag}"), "w").write("${tag}")`,
      'master, slave = pty.openpty()',
      'time.sleep(0.6)',
      'seen = {d: sorted(n for n in os.listdir(d) if n.startswith("mark-")) for d in ("/workspace", "/tmp", "/dev/shm")}',
      'seen["pts"] = sorted(os.listdir("/dev/pts"))',
      'seen["pids"] = sorted(int(e) for e in os.listdir("/proc") if e.isdigit())',
      'set_result(seen)',
    ].join('\n');
    const [a, b] = await Promise.all([py(code('a')), py(code('b'))]);
    for (const [body, tag] of [[a, 'a'], [b, 'b']] as const) {
      assert.equal(body.status, 'ok', JSON.stringify(body.error));
      for (const dir of ['/workspace', '/tmp', '/dev/shm']) assert.deepEqual(body.result[dir], [`mark-${tag}`], `${tag} ${dir}`);
      assert.deepEqual(body.result.pts, ['0', 'ptmx'], `${tag}: its own pty namespace`);
      assert.deepEqual(body.result.pids, [1, 2]);
    }
  });

  test('code that uses nothing of the preload takes a warm child of the plain server, not the preloaded one', async () => {
    const server = await serverPid();
    const warmOfServer = async () => (await listProcesses()).filter((p) => p.ppid === server && p.cmdline.startsWith(`runbox-sandbox ${d.workDir}/`));
    let waiting = 0;
    for (let i = 0; i < 250 && waiting === 0; i++) {
      waiting = (await warmOfServer()).length;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(waiting >= 1, 'the preloaded server has a warm child waiting');
    // No word of the preload in the code ("nu" + "mpy"), so it is plain code; a child of the preloaded server
    // would have numpy's libraries mapped.
    const body = await py('set_result(open("/proc/self/maps").read().count("/nu" + "mpy/"))');
    assert.equal(body.status, 'ok', JSON.stringify(body.error));
    assert.equal(body.result, 0, 'the code ran in a child of the plain server');
  });

  test('children forked one after another all live to their end: each keeps the server thread that forked it', async () => {
    // The kernel sends a child's parent-death signal when the thread that forked it ends, not the process: were the
    // server's forking thread to end at once, a child could be SIGKILLed while its code still ran (it was, under load).
    const running = Promise.all(Array.from({ length: 4 }, (_, i) => py(`import json, time\nprint("started", flush=True)\ntime.sleep(1.5)\nset_result(${i})`)));
    const server = await serverPid();
    let threads = 0;
    for (let i = 0; i < 100 && threads < 5; i++) {
      threads = fs.readdirSync(`/proc/${server}/task`).length;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(threads >= 5, `the server's main thread and one per running child: ${threads} threads`);
    const bodies = await running;
    assert.deepEqual(bodies.map((body) => [body.status, body.result]), [0, 1, 2, 3].map((i) => ['ok', i]), JSON.stringify(bodies.map((body) => body.error)));
  });

  test('reports how the code ended: an exit code, a crash by signal, a timeout that leaves nothing behind', async () => {
    const exited = await py('import sys\nsys.stdout.write("bye")\nsys.exit(3)');
    assert.equal(exited.exitCode, 3);
    assert.equal(exited.stdout, 'bye');
    const crashed = await py('import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)');
    assert.equal(crashed.status, 'killed', JSON.stringify(crashed));
    assert.match(crashed.error.message, /SIGSEGV/);
    const marker = `sleep ${700000 + Math.floor(Math.random() * 90000)}`;
    const timedOut = await py(`import subprocess, time\nsubprocess.Popen("${marker}".split())\ntime.sleep(30)`, { timeoutMs: 800 });
    assert.equal(timedOut.status, 'timeout');
    await waitForNoProcesses(marker);
  });

  test("holds none of the server's preload in its memory limit: a request's low memoryBytes applies, and is enforced", async () => {
    const limits = { memoryBytes: 32 * 1024 * 1024 };
    const fits = await py('import numpy\nset_result(int(numpy.ones(2_000_000).sum()))', { limits });
    assert.equal(fits.status, 'ok', JSON.stringify(fits.error));
    assert.equal(fits.result, 2_000_000);
    const over = await py('import numpy\nkeep = [numpy.ones(1 << 20) for _ in range(64)]', { limits });
    assert.equal(over.status, 'killed', JSON.stringify(over));
    assert.equal(over.error.type, 'MemoryLimit');
  });

  test("a child's full garbage collection leaves the server's image alone: the preload is in the permanent generation", async (t) => {
    // Without the freeze, gc.collect() here walks every object numpy brought (writing each one's header, so copying
    // the pages the children share): thousands of page faults. With it, the preload is not the collector's to visit.
    const code = [
      'import gc, resource, numpy',
      'faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt',
      'before = faults(); gc.collect(); faults_in_collect = faults() - before',
      'tracked = set(map(id, gc.get_objects()))',
      'set_result([gc.get_freeze_count(), id(numpy.__dict__) in tracked, id(numpy.ndarray.__dict__) in tracked, faults_in_collect])',
    ].join('\n');
    const body = await py(code);
    assert.equal(body.status, 'ok', JSON.stringify(body.error));
    const [frozen, moduleTracked, typeTracked, faultsInCollect] = body.result;
    t.diagnostic(`${frozen} objects frozen in the server; a full collection in the child took ${faultsInCollect} minor page faults`);
    assert.ok(frozen > 10_000, `the preload's objects are frozen (${frozen})`);
    assert.equal(moduleTracked, false, "numpy's module dictionary is not in a generation the child's collector walks");
    assert.equal(typeTracked, false);
    assert.ok(faultsInCollect < 200, `a full collection copied ${faultsInCollect} pages`);
  });

  test('random state that fork copied is reseeded in each child (random, numpy)', async () => {
    const code = 'import random, numpy\nset_result([random.random(), float(numpy.random.random())])';
    const [a, b] = await Promise.all([py(code), py(code)]);
    assert.equal(a.status, 'ok', JSON.stringify(a.error));
    assert.notEqual(a.result[0], b.result[0]);
    assert.notEqual(a.result[1], b.result[1]);
  });
});

describe('a fork server whose preload talks', { skip }, () => {
  test('logs what it said; its children start clean, and executions go on', async () => {
    // `import this` prints the Zen of Python: into the server's log, never into its events or a child's output.
    const talkative = await startDaemon({ maxOutputBytes: 100, pythonPreload: ['this'] }, { logs: true });
    try {
      await waitForLog(talkative, 'Python fork server ready');
      assert.ok(talkative.logs.some((line) => line.msg === 'fork server says' && String(line.forkServer).includes('Beautiful is better than ugly')), 'the preload\'s words are in the log');
      assert.ok(!talkative.logs.some((line) => line.msg === 'the fork server said something unexpected'));
      const { body } = await postExecution(talkative.url, { runtime: 'python', code: 'import sys\nprint("ok")\nset_result("this" in sys.modules)' });
      assert.equal(body.status, 'ok', JSON.stringify(body));
      assert.equal(body.stdout, 'ok\n');
    } finally {
      await talkative.close();
    }
  });
});

describe('a fork server that dies', { skip }, () => {
  test('is replaced; meanwhile executions start sandboxes of their own and still work', async () => {
    const before = d.logs.filter((line) => line.msg === 'Python fork server ready').length;
    process.kill(await serverPid(), 'SIGKILL');
    await waitForLog(d, 'the fork server exited; Python executions start sandboxes of their own until it is back');
    const body = await py('set_result(6 * 7)');
    assert.equal(body.result, 42, JSON.stringify(body));
    await waitForLog(d, 'Python fork server ready', before + 1);
    const after = await py('import os\nset_result(os.getpid())');
    assert.equal(after.result, 2);
    assert.ok(fs.existsSync(d.workDir));
  });
});
