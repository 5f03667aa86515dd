// The two cgroup implementations: what each version writes where and reads from where (pure, for v1 and v2),
// and the implementation of the hierarchy this machine has, on real groups with real processes in them.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { listSandboxGroups, MemoryInUseError, openCgroupTree, SandboxCgroups, sweepStaleCgroups, type SandboxCgroup } from '../../daemon/sandbox/cgroups.js';
import type { CgroupLayout } from '../../daemon/sandbox/cgroup-layout.js';
import { parseCounter, readKeyedCounter } from '../../daemon/sandbox/cgroups/tree.js';
import { v1GroupSettings, v1MemoryLimitWrites, V1_COUNTERS } from '../../daemon/sandbox/cgroups/v1.js';
import { controllersToEnable, v2GroupSettings, V2_COUNTERS } from '../../daemon/sandbox/cgroups/v2.js';
import { readProcessState } from '../../daemon/sandbox/process-tree.js';
import { spawnProcess, type SpawnedProcess } from '../../daemon/sandbox/spawn.js';

const MiB = 1024 * 1024;
const V1_LAYOUT: CgroupLayout = { version: 'v1', memory: '/cg/memory', pids: '/cg/pids', cpu: '/cg/cpu,cpuacct', cpuacct: '/cg/cpu,cpuacct' };
const V2_LAYOUT: CgroupLayout = { version: 'v2', memory: '/cg', pids: '/cg', cpu: '/cg', cpuacct: '/cg' };

describe('cgroup v1, pure (all of v1 that is tested on a cgroup v2 host)', () => {
  test('counters: which controller holds each, and their formats', () => {
    assert.deepEqual(
      Object.fromEntries(Object.entries(V1_COUNTERS).map(([name, file]) => [name, `${file.controller}/${file.file}`])),
      { cpuTime: 'cpuacct/cpuacct.usage', oomKills: 'memory/memory.oom_control', forkFailures: 'pids/pids.events', memoryInUse: 'memory/memory.usage_in_bytes' },
    );
    assert.equal(parseCounter('2500000000\n', V1_COUNTERS.cpuTime), 2500, 'cpuacct.usage is in nanoseconds');
    assert.equal(parseCounter('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n', V1_COUNTERS.oomKills), 3);
    assert.equal(parseCounter('max 7\n', V1_COUNTERS.forkFailures), 7);
    assert.equal(parseCounter('1048576\n', V1_COUNTERS.memoryInUse), MiB);
    assert.equal(parseCounter('', V1_COUNTERS.cpuTime), 0, 'an unreadable counter counts as 0');
  });

  test('a new group: the CPU quota in the cpu hierarchy (period first), swappiness 0 only without swap accounting', () => {
    assert.deepEqual(v1GroupSettings(1, { cpuController: true, swapAccounting: true }), [
      { controller: 'cpu', file: 'cpu.cfs_period_us', value: '100000' },
      { controller: 'cpu', file: 'cpu.cfs_quota_us', value: '100000' },
    ]);
    assert.deepEqual(v1GroupSettings(0.25, { cpuController: false, swapAccounting: false }), [{ controller: 'memory', file: 'memory.swappiness', value: '0', optional: true }]);
    assert.deepEqual(v1GroupSettings(2.5, { cpuController: true, swapAccounting: true })[1].value, '250000');
    assert.deepEqual(v1GroupSettings(null, { cpuController: true, swapAccounting: true }), [], 'no quota');
  });

  test('the memory limit: memory then memsw when lowering, memsw then memory when raising, memory alone without memsw', () => {
    const memory = { controller: 'memory', file: 'memory.limit_in_bytes', value: '134217728', mayBlock: true };
    const memsw = { controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: '134217728', mayBlock: true };
    assert.deepEqual(v1MemoryLimitWrites(128 * MiB, true), { lowering: [memory, memsw], raising: [memsw, memory] });
    assert.deepEqual(v1MemoryLimitWrites(128 * MiB, false), { lowering: [memory], raising: null });
  });

  test('the tree: a parent and a group directory in each hierarchy, cpu and cpuacct shared when mounted together', () => {
    assert.deepEqual(openCgroupTree(V1_LAYOUT).parentDirs(), ['/cg/memory/runbox', '/cg/pids/runbox', '/cg/cpu,cpuacct/runbox']);
  });
});

describe('cgroup v2, pure (all of v2 that is tested on a cgroup v1 host, such as this one)', () => {
  test('counters: every file in the one directory, and their formats', () => {
    assert.deepEqual(
      Object.values(V2_COUNTERS).map((file) => file.file),
      ['cpu.stat', 'memory.events', 'pids.events', 'memory.current'],
    );
    assert.equal(parseCounter('usage_usec 1500123\nuser_usec 1000000\nsystem_usec 500123\n', V2_COUNTERS.cpuTime), 1500.123, 'cpu.stat is in microseconds');
    assert.equal(parseCounter('low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n', V2_COUNTERS.oomKills), 1);
    assert.equal(parseCounter('max 0\n', V2_COUNTERS.forkFailures), 0);
    assert.equal(parseCounter('4096\n', V2_COUNTERS.memoryInUse), 4096);
  });

  test('a new group: no swap, OOM kills the whole group, the CPU quota in cpu.max', () => {
    assert.deepEqual(v2GroupSettings(1.5), [
      { controller: 'memory', file: 'memory.swap.max', value: '0', optional: true },
      { controller: 'memory', file: 'memory.oom.group', value: '1', optional: true },
      { controller: 'cpu', file: 'cpu.max', value: '150000 100000' },
    ]);
    assert.equal(v2GroupSettings(null).length, 2, 'no quota');
  });

  test('the controllers to hand down: only those not yet in cgroup.subtree_control', () => {
    assert.deepEqual(controllersToEnable('cpuset cpu io memory hugetlb pids rdma\n'), []);
    assert.deepEqual(controllersToEnable('memory\n'), ['pids', 'cpu']);
    assert.deepEqual(controllersToEnable('\n'), ['memory', 'pids', 'cpu']);
  });

  test('the tree: one parent directory', () => {
    assert.deepEqual(openCgroupTree(V2_LAYOUT).parentDirs(), ['/cg/runbox']);
  });
});

test('keyed counter lines: the value of the key, 0 when it is absent or not a number', () => {
  assert.equal(readKeyedCounter('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n', 'oom_kill'), 3);
  assert.equal(readKeyedCounter('usage_usec 1500123\n', 'usage_usec'), 1500123);
  assert.equal(readKeyedCounter('', 'oom_kill'), 0);
  assert.equal(readKeyedCounter('max x\n', 'max'), 0);
});

const { cgroups, problem } = await SandboxCgroups.setUp();
const layout = cgroups?.layout as CgroupLayout;
const version = layout?.version ?? 'none';

/** A group's control file in a controller's hierarchy. */
const controlFile = (group: SandboxCgroup, controller: 'memory' | 'pids' | 'cpu', file: string) => path.join(layout[controller] as string, 'runbox', group.name, file);
const readControl = async (group: SandboxCgroup, controller: 'memory' | 'pids' | 'cpu', file: string) => (await fs.readFile(controlFile(group, controller, file), 'utf8')).trim();

// Starts a shell command and collects what it prints.
function start(script: string): { child: SpawnedProcess; output: () => string } {
  const child = spawnProcess({ file: '/bin/sh', args: ['-c', script], env: { PATH: '/usr/bin:/bin' }, cwd: '/', processGroup: true });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { child, output: () => text };
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; !(await check()); i++) {
    assert.ok(i < 1000, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe(`cgroup ${version} on this machine, for real`, { skip: problem ? `cgroups are not usable here: ${problem}` : false }, () => {
  test('a group: made with its limits and quota, a process tree moved in, counted, limits changed, then killed and removed', async () => {
    const group = await (cgroups as SandboxCgroups).create({ memoryBytes: 96 * MiB, maxProcesses: 16 });
    const dirs = (await listSandboxGroups(layout)).filter((name) => name === group.name);
    assert.deepEqual(dirs, [group.name]);
    if (version === 'v1') {
      assert.equal(await readControl(group, 'memory', 'memory.limit_in_bytes'), String(96 * MiB));
      const memsw = await readControl(group, 'memory', 'memory.memsw.limit_in_bytes').catch(() => null);
      if (memsw !== null) assert.equal(memsw, String(96 * MiB));
      assert.equal(await readControl(group, 'cpu', 'cpu.cfs_quota_us'), '100000');
      assert.equal(await readControl(group, 'cpu', 'cpu.cfs_period_us'), '100000');
    } else {
      assert.equal(await readControl(group, 'memory', 'memory.max'), String(96 * MiB));
      assert.equal(await readControl(group, 'cpu', 'cpu.max'), '100000 100000');
      assert.equal(await readControl(group, 'memory', 'memory.swap.max').catch(() => '0'), '0');
    }
    assert.equal(await readControl(group, 'pids', 'pids.max'), '16');

    // A shell that waits to be moved in, spins, then forks more sleeps than the lowered limit allows.
    let inside: number[] = [];
    const { child } = start('sleep 0.5; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; wait');
    try {
      await group.adoptTree(child.pid as number);
      const membership = await fs.readFile(`/proc/${child.pid}/cgroup`, 'utf8');
      assert.match(membership, new RegExp(`/runbox/${group.name}$`, 'm'));
      await group.setLimits({ memoryBytes: 256 * MiB, maxProcesses: 6 });
      if (version === 'v1') assert.equal(await readControl(group, 'memory', 'memory.limit_in_bytes'), String(256 * MiB), 'raised (memsw first)');
      else assert.equal(await readControl(group, 'memory', 'memory.max'), String(256 * MiB));
      assert.equal(await readControl(group, 'pids', 'pids.max'), '6');
      await until('a fork to fail', async () => (await group.readCounters()).forkFailures > 0);
      const counters = await group.readCounters();
      assert.ok(counters.cpuTimeMs > 0, JSON.stringify(counters));
      assert.equal(counters.oomKills, 0);
      assert.ok((await group.readCpuTimeMs()) >= counters.cpuTimeMs);
      inside = (await readControl(group, 'pids', 'cgroup.procs')).split('\n').map(Number);
      assert.ok(inside.length >= 2, `in the group: ${inside.join(', ')}`);
    } finally {
      await group.remove();
    }
    // The shell may have given up at its first failed fork; the sleeps it started were in the group, and are
    // dead now (zombies until their new parent reaps them).
    for (const pid of inside) assert.ok(['Z', 'X', undefined].includes(readProcessState(pid)?.state), `pid ${pid} outlived its group`);
    await child.exited;
    assert.deepEqual((await listSandboxGroups(layout)).filter((name) => name === group.name), []);
    await group.remove();
  });

  test('lowering memoryBytes below what the group holds: MemoryInUseError, the old limit kept', async () => {
    const group = await (cgroups as SandboxCgroups).create({ memoryBytes: 128 * MiB, maxProcesses: 16 });
    // Python, once moved in, fills 48 MiB (and its own start-up memory), all charged to the group.
    const { child, output } = start(`sleep 0.3; exec /usr/bin/python3 -c "import time; b = b'x' * (48 << 20); print('held', flush=True); time.sleep(30)"`);
    try {
      await group.adoptTree(child.pid as number);
      await until('the 48 MiB to be held', () => output().includes('held'));
      await assert.rejects(group.setLimits({ memoryBytes: 32 * MiB, maxProcesses: 16 }), (error) => error instanceof MemoryInUseError && error.inUseBytes >= 48 * MiB && error.limitBytes === 32 * MiB);
      const limitFile = version === 'v1' ? 'memory.limit_in_bytes' : 'memory.max';
      assert.equal(await readControl(group, 'memory', limitFile), String(128 * MiB));
      await group.setLimits({ memoryBytes: 100 * MiB, maxProcesses: 16 });
      assert.equal(await readControl(group, 'memory', limitFile), String(100 * MiB), 'lowered, above what it holds');
    } finally {
      await group.remove();
    }
    await child.exited;
  });

  test('a sweep removes a group whose daemon is gone, with the process in it, and leaves the others', async () => {
    const tree = openCgroupTree(layout);
    const stale = `${process.pid}-1-abcdef-1`;
    const live = await (cgroups as SandboxCgroups).create({ memoryBytes: 64 * MiB, maxProcesses: 8 });
    const group = tree.group(stale);
    await group.create(null);
    const child = spawnProcess({ file: '/bin/sleep', args: ['30'], env: {}, cwd: '/', processGroup: false });
    try {
      await group.addProcess(child.pid as number);
      assert.ok((await group.processes()).has(child.pid as number));
      const removed = await sweepStaleCgroups(layout, (pid, startTime) => !(pid === process.pid && startTime === '1'));
      assert.deepEqual(removed, [stale]);
      assert.equal((await child.exited).signal, 'SIGKILL');
      assert.deepEqual(await listSandboxGroups(layout).then((names) => names.filter((name) => name === stale || name === live.name)), [live.name]);
    } finally {
      child.kill();
      await group.remove();
      await live.remove();
    }
  });
});
