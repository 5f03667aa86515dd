// The mount helper for real: its process (runtimes/host/mounter.py under the runtime environment's Python) mounting
// real workspace tmpfs in a temporary directory, and what it refuses; a helper that is killed or hangs fails what
// it had not answered and is started again; close() and a closed pipe end it; a daemon starts one, mounts through
// it and ends it, also when its start fails. The command line and the tmpfs options are pure and tested first.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino, type Logger } from 'pino';
import { buildMounterSpec, chooseMounterPython, findMounterScript, Mounter, SYSTEM_PYTHON } from '../../daemon/sandbox/mounter.js';
import { buildWorkspaceMountOptions, MountError, UMOUNT_PATH, unmountSelfBinds, unmountWorkspace, tmpfsMountsUnder, WORKSPACE_FS_NAME } from '../../daemon/sandbox/mounts.js';
import { parseMountinfo, readMountinfo, type MountEntry } from '../../daemon/sandbox/mountinfo.js';
import { runCommand, spawnProcess } from '../../daemon/sandbox/spawn.js';
import { detectCgroupLayout } from '../../daemon/sandbox/cgroups.js';
import type { CgroupLayout } from '../../daemon/sandbox/cgroup-layout.js';
import { StartupError } from '../../daemon/startup.js';
import { postExecution, startDaemon, testConfig } from '../helpers/daemon.js';

test('the tmpfs options: size, inodes, private mode, the owner; the flags are not among them', () => {
  assert.equal(buildWorkspaceMountOptions({ bytes: 1048576, files: 100 }, { uid: 65534, gid: 65534 }), 'size=1048576,nr_inodes=100,mode=0700,uid=65534,gid=65534');
  assert.equal(buildWorkspaceMountOptions({ bytes: 4096, files: 2 }), 'size=4096,nr_inodes=2,mode=0700');
});

test('the helper runs isolated (-I -S -B) with an empty environment, the daemon\'s pid its one argument', () => {
  assert.deepEqual(buildMounterSpec('/opt/py/bin/python3', '/pkg/runtimes/host/mounter.py', 1234), {
    file: '/opt/py/bin/python3', args: ['-I', '-S', '-B', '/pkg/runtimes/host/mounter.py', '1234'], env: {}, cwd: '/', processGroup: false, input: true,
  });
});

const isRoot = process.getuid?.() === 0;
const pythonEnv = testConfig({}).pythonEnv;
const python = await chooseMounterPython(pythonEnv);
const script = await findMounterScript();
const cgroupLayout = await detectCgroupLayout();
const freezerSkip = typeof cgroupLayout === 'string' ? `no cgroups here: ${cgroupLayout}` : !cgroupLayout.freezer ? 'this host has no cgroup freezer' : false;
const skip = !isRoot ? 'mounting needs root, and the daemon starts the mount helper only as root' : python === null ? `no root-owned python3 in ${pythonEnv} or ${SYSTEM_PYTHON}` : false;

test('the helper\'s interpreter: a python3 that another user may write is never chosen', { skip: isRoot ? false : 'files made here are not root\'s' }, async () => {
  const env = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-mounter-env-'));
  try {
    await fs.mkdir(path.join(env, 'bin'));
    const planted = path.join(env, 'bin', 'python3');
    await fs.copyFile(SYSTEM_PYTHON, planted);
    await fs.chmod(planted, 0o777);
    assert.notEqual(await chooseMounterPython(env), planted);
    await fs.chmod(planted, 0o755);
    assert.equal(await chooseMounterPython(env), planted);
  } finally {
    await fs.rm(env, { recursive: true, force: true });
  }
});

/** Log lines a test's logger wrote. */
function recordingLogger(): { logger: Logger; lines: Array<{ msg: string }> } {
  const lines: Array<{ msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

function mountAt(entries: readonly MountEntry[], dir: string): MountEntry | undefined {
  return entries.filter((entry) => entry.mountPoint === dir).at(-1);
}

// True while the process runs (a zombie, exited but not yet reaped, counts as gone).
function isAlive(pid: number): boolean {
  const stat = readFileSafe(`/proc/${pid}/stat`);
  return stat !== '' && !/\) Z /.test(stat);
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function waitUntilGone(pid: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} is still alive after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Lazily unmounts everything at or under root, deepest first, with umount(8) (not through the helper under test).
async function unmountAllUnder(root: string): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const points = parseMountinfo(await readMountinfo()).map((entry) => entry.mountPoint).filter((point) => point === root || point.startsWith(`${root}/`));
    if (points.length === 0) return;
    for (const point of points.sort((a, b) => b.length - a.length)) await runCommand(UMOUNT_PATH, ['--lazy', point]);
  }
}

// The helpers of this test process still running (their command line names the script).
function helpersOfThisProcess(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readFileSafe(`/proc/${entry}/stat`);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) !== process.pid || fields[0] === 'Z') continue;
    if (readFileSafe(`/proc/${entry}/cmdline`).includes(script)) pids.push(Number(entry));
  }
  return pids;
}

describe('the mount helper, for real', { skip }, () => {
  let root: string;
  let mounter: Mounter;
  let log: ReturnType<typeof recordingLogger>;
  const small = { bytes: 64 * 1024, files: 16 };

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-mounter-'));
    log = recordingLogger();
    mounter = await Mounter.start({ python: python as string, script, logger: log.logger });
  });
  after(async () => {
    await mounter?.close();
    await unmountAllUnder(root);
    await fs.rm(root, { recursive: true, force: true });
  });

  const freshDir = async (name: string) => {
    const dir = path.join(root, name);
    await fs.mkdir(dir, { recursive: true });
    return dir;
  };

  test('mounts a size-limited tmpfs named runbox-workspace (nosuid, nodev, owned as asked), ENOSPC past its size, and unmounts it', async () => {
    const dir = await freshDir('exec a\tb/workspace');
    await mounter.mountTmpfs(dir, small, { uid: 65534, gid: 65534 });
    const entry = mountAt(parseMountinfo(await readMountinfo()), dir);
    assert.ok(entry, 'the tmpfs is in mountinfo');
    assert.equal(entry.fsType, 'tmpfs');
    assert.equal(entry.source, WORKSPACE_FS_NAME);
    for (const option of ['size=64k', 'nr_inodes=16', 'mode=700', 'uid=65534', 'gid=65534']) assert.ok(entry.superOptions.includes(option), `${option} in ${entry.superOptions.join(',')}`);
    for (const flag of ['nosuid', 'nodev']) assert.ok(entry.mountOptions.includes(flag), `${flag} in ${entry.mountOptions.join(',')}`);
    assert.deepEqual(await tmpfsMountsUnder(root), [dir]);
    await assert.rejects(fs.writeFile(path.join(dir, 'big'), Buffer.alloc(128 * 1024)), { code: 'ENOSPC' });
    await mounter.unmount(dir);
    assert.equal(mountAt(parseMountinfo(await readMountinfo()), dir), undefined);
    await assert.rejects(mounter.unmount(dir), (error: unknown) => error instanceof MountError && error.errno === 'EINVAL' && /unmount .* failed: EINVAL \(Invalid argument\)/.test(error.message));
  });

  test('a workspace still held open: the plain unmount fails with EBUSY, the lazy one detaches it at once', async () => {
    const dir = await freshDir('held/workspace');
    await mounter.mountTmpfs(dir, small);
    const held = await fs.open(path.join(dir, 'file'), 'w');
    try {
      await assert.rejects(mounter.unmount(dir), (error: unknown) => error instanceof MountError && error.errno === 'EBUSY' && /Device or resource busy/.test(error.message));
      await mounter.unmount(dir, { lazy: true });
      assert.equal(mountAt(parseMountinfo(await readMountinfo()), dir), undefined, 'gone from mountinfo while still held');
      await held.write('still writable through the descriptor');
    } finally {
      await held.close();
    }
  });

  test('unmountWorkspace through the helper falls back to a lazy unmount only for a workspace mount', async () => {
    const dir = await freshDir('fallback/workspace');
    await unmountWorkspace(dir, mounter); // nothing mounted: no error, nothing done
    await mounter.mountTmpfs(dir, small);
    const held = await fs.open(path.join(dir, 'file'), 'w');
    try {
      await unmountWorkspace(dir, mounter);
      assert.deepEqual(await tmpfsMountsUnder(root), []);
    } finally {
      await held.close();
    }
  });

  test('paths are refused unless absolute, and never followed through a symbolic link at the mount point', async () => {
    await assert.rejects(mounter.mountTmpfs('relative/workspace', small), (error: unknown) => error instanceof MountError && error.errno === 'EINVAL' && /dir: expected an absolute path, received "relative\/workspace"/.test(error.message));
    await assert.rejects(mounter.unmount(''), /expected an absolute path/);
    await assert.rejects(mounter.bind('/tmp', 'x'), /expected an absolute path/);
    const dir = await freshDir('linked/workspace');
    const link = path.join(root, 'linked', 'link');
    await fs.symlink(dir, link);
    await assert.rejects(mounter.mountTmpfs(link, small), (error: unknown) => error instanceof MountError && error.errno === 'ELOOP');
    assert.equal(mountAt(parseMountinfo(await readMountinfo()), dir), undefined, 'nothing mounted where the link points');
    await mounter.mountTmpfs(dir, small);
    await assert.rejects(mounter.unmount(link), (error: unknown) => error instanceof MountError && error.errno === 'EINVAL');
    await assert.rejects(mounter.unmount(link, { lazy: true }), (error: unknown) => error instanceof MountError && error.errno === 'EINVAL');
    assert.ok(mountAt(parseMountinfo(await readMountinfo()), dir), 'the unmount did not follow the link');
    await mounter.unmount(dir);
  });

  test('binds a directory onto itself and makes it shared; unmountSelfBinds takes it away', async () => {
    const dir = await freshDir('shared');
    await mounter.bind(dir, dir);
    await mounter.makeShared(dir);
    const line = (await readMountinfo()).split('\n').find((text) => text.split(' ')[4] === dir) ?? '';
    assert.match(line, / shared:\d+ /, `a shared mount: ${line}`);
    assert.equal(await unmountSelfBinds(dir, mounter), 1);
    assert.equal(mountAt(parseMountinfo(await readMountinfo()), dir), undefined);
  });

  test('a killed helper fails the request it had not answered with a MountError, and the next request starts a new one', async () => {
    const dir = await freshDir('killed/workspace');
    const first = mounter.pid as number;
    assert.ok(first > 0);
    process.kill(first, 'SIGSTOP'); // the request waits in its pipe, unread
    const pending = mounter.mountTmpfs(dir, small);
    process.kill(first, 'SIGKILL');
    await assert.rejects(pending, (error: unknown) => error instanceof MountError && /mount a tmpfs on .* failed: the mount helper exited \(signal SIGKILL\)/.test(error.message));
    assert.equal(mountAt(parseMountinfo(await readMountinfo()), dir), undefined);
    assert.ok(log.lines.some((line) => line.msg === 'the mount helper exited; the next mount starts it again'));
    await mounter.mountTmpfs(dir, small);
    assert.notEqual(mounter.pid, first);
    assert.ok(log.lines.some((line) => line.msg === 'starting the mount helper again'));
    await mounter.unmount(dir);
  });

  test('a helper that does not answer in time is killed, its request fails, and the next one starts a new helper', async () => {
    const dir = await freshDir('hung/workspace');
    const hurried = await Mounter.start({ python: python as string, script, logger: log.logger, requestTimeoutMs: 300 });
    try {
      const first = hurried.pid as number;
      process.kill(first, 'SIGSTOP');
      await assert.rejects(hurried.mountTmpfs(dir, small), (error: unknown) => error instanceof MountError && /the mount helper did not answer within 300 ms/.test(error.message));
      await waitUntilGone(first);
      await hurried.mountTmpfs(dir, small);
      assert.notEqual(hurried.pid, first);
      await hurried.unmount(dir);
    } finally {
      await hurried.close();
    }
  });

  test('close() ends the helper; later requests are refused', async () => {
    const own = await Mounter.start({ python: python as string, script, logger: log.logger });
    const pid = own.pid as number;
    assert.ok(isAlive(pid));
    await own.close();
    await waitUntilGone(pid);
    await assert.rejects(own.mountTmpfs(path.join(root, 'closed'), small), (error: unknown) => error instanceof MountError && /the mount helper is closed/.test(error.message));
    await own.close(); // twice is fine
  });

  test('the helper exits by itself when its input closes', async () => {
    const child = spawnProcess(buildMounterSpec(python as string, script, process.pid));
    child.stdin?.end();
    assert.deepEqual(await child.exited, { exitCode: 0, signal: null });
  });

  test('release_on_exit: when its pipe closes, the groups of the prefix named are killed where they froze and thawed; others are not touched', { skip: freezerSkip }, async () => {
    const layout = cgroupLayout as CgroupLayout;
    const parent = path.join(layout.freezer as string, 'runbox');
    await fs.mkdir(parent, { recursive: true });
    const tag = `${Math.floor(Math.random() * 1e6)}`;
    const prefix = `${process.pid}-${tag}-abc123-`;
    const [mine, other] = [path.join(parent, `${prefix}1`), path.join(parent, `${process.pid}-${tag}-def456-1`)];
    const freezeFile = layout.version === 'v1' ? 'freezer.state' : 'cgroup.freeze';
    const [frozen, thawed] = layout.version === 'v1' ? ['FROZEN', 'THAWED'] : ['1', '0'];
    const sleepers = [mine, other].map(() => spawnProcess({ file: '/bin/sleep', args: ['300'], env: {}, cwd: '/', processGroup: true }));
    const own = await Mounter.start({ python: python as string, script, logger: log.logger });
    try {
      for (const [index, group] of [mine, other].entries()) {
        await fs.mkdir(group);
        await fs.writeFile(path.join(group, 'cgroup.procs'), String(sleepers[index].pid));
        await fs.writeFile(path.join(group, freezeFile), frozen);
      }
      await assert.rejects(own.releaseOnExit('/tmp', prefix), (error: unknown) => error instanceof MountError && /dir: expected a directory under \/sys\/fs\/cgroup\//.test(error.message));
      await assert.rejects(own.releaseOnExit(parent, '../x-'), (error: unknown) => error instanceof MountError && /prefix: expected/.test(error.message));
      await own.releaseOnExit(parent, prefix);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.ok(isAlive(sleepers[0].pid as number), 'nothing happens while the pipe is open');
      await own.close();
      assert.deepEqual(await sleepers[0].exited, { exitCode: null, signal: 'SIGKILL' });
      assert.ok(isAlive(sleepers[1].pid as number), 'a group of another prefix is left as it is');
    } finally {
      await own.close();
      for (const [index, group] of [mine, other].entries()) {
        sleepers[index].kill();
        await fs.writeFile(path.join(group, freezeFile), thawed).catch(() => undefined);
        await sleepers[index].exited;
        await fs.rmdir(group).catch(() => undefined);
      }
    }
  });

  test('a helper that cannot start is a MountError of start(), with nothing left running', async () => {
    const running = helpersOfThisProcess();
    await assert.rejects(Mounter.start({ python: '/nonexistent/python3', script, logger: log.logger }), (error: unknown) => error instanceof MountError && /start the mount helper failed: the mount helper could not start: .*ENOENT/.test(error.message));
    await assert.rejects(Mounter.start({ python: python as string, script: path.join(root, 'no-such-script.py'), logger: log.logger }), (error: unknown) => error instanceof MountError && /exited \(exit code 2\)/.test(error.message));
    assert.deepEqual(helpersOfThisProcess().filter((pid) => !running.includes(pid)), []);
  });
});

describe('a daemon and its mount helper', { skip }, () => {
  test('the daemon mounts workspaces through its helper and ends it when it closes', async () => {
    const d = await startDaemon({}, { logs: true });
    let helpers: number[] = [];
    try {
      assert.ok(d.logs.some((line) => line.msg === 'mounts go through the mount helper'), 'says which mounts');
      assert.deepEqual(readdirSync(path.join(d.workDir, 'runtimes')).filter((name) => name === 'host'), [], 'the helper is not copied where sandboxes bind from');
      helpers = helpersOfThisProcess();
      assert.equal(helpers.length, 1, `one helper: ${helpers.join(', ')}`);
      const { body } = await postExecution(d.url, { runtime: 'python', code: 'import os\ns = os.statvfs(".")\nset_result(s.f_blocks * s.f_frsize)' });
      assert.equal(body.result, d.config.workspaceBytes, JSON.stringify(body));
    } finally {
      await d.close();
    }
    for (const pid of helpers) await waitUntilGone(pid);
  });

  test('a daemon whose start fails after the host was prepared leaves no helper running', async () => {
    const before = helpersOfThisProcess();
    // The upstream MCP servers are connected after prepareHost, which started the helper.
    const missing = path.join(os.tmpdir(), `runbox-no-such-mcp-config-${process.pid}.json`);
    await assert.rejects(startDaemon({ mcpConfig: missing }), (error: unknown) => error instanceof StartupError && error.message.includes(missing));
    const deadline = Date.now() + 5000;
    while (helpersOfThisProcess().some((pid) => !before.includes(pid)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const left = helpersOfThisProcess().filter((pid) => !before.includes(pid));
    for (const pid of left) process.kill(pid, 'SIGKILL'); // so that this test fails rather than hangs on their pipes
    assert.deepEqual(left, []);
  });
});
