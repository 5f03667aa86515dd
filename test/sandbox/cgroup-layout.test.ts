// The pure parts of the cgroup support: which hierarchy to use from /proc/self/mountinfo, counters from
// control files, and parent pids from /proc/<pid>/stat.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseCgroupLayout, hierarchyDirs, parseCgroupMounts, readKeyedCounter } from '../../daemon/sandbox/cgroup-layout.js';
import { parseParentPid } from '../../daemon/sandbox/process-tree.js';

// A v1/v2 hybrid as on Debian with systemd's legacy layout, with cpu and cpuacct mounted apart.
const HYBRID = [
  '25 30 0:22 / /sys ro,nosuid - sysfs sysfs rw',
  '26 25 0:23 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755',
  '27 26 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
  '28 26 0:25 / /sys/fs/cgroup/cpu rw shared:9 - cgroup cgroup rw,cpu',
  '29 26 0:26 / /sys/fs/cgroup/cpuacct rw shared:10 - cgroup cgroup rw,cpuacct',
  '30 26 0:27 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory',
  '31 26 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
  '32 26 0:29 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer',
].join('\n');

// The usual co-mounted cpu,cpuacct of older distributions, with an escaped space in a path.
const COMOUNTED = [
  '28 26 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
  '30 26 0:27 / /sys/fs/cgroup/mem\\040ory rw - cgroup cgroup rw,memory',
  '31 26 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
].join('\n');

const PURE_V2 = '26 25 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';

test('cgroup mounts: v2 and each v1 controller found in mountinfo', () => {
  assert.deepEqual(parseCgroupMounts(HYBRID), {
    v2: '/sys/fs/cgroup/unified',
    v1: { cpu: '/sys/fs/cgroup/cpu', cpuacct: '/sys/fs/cgroup/cpuacct', memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids' },
  });
  assert.deepEqual(parseCgroupMounts(COMOUNTED).v1, { cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct', memory: '/sys/fs/cgroup/mem ory', pids: '/sys/fs/cgroup/pids' });
  assert.deepEqual(parseCgroupMounts(PURE_V2), { v2: '/sys/fs/cgroup', v1: {} });
  assert.deepEqual(parseCgroupMounts(''), { v2: null, v1: {} });
});

test('cgroup layout: v2 when it offers memory, pids and cpu; else v1; else why neither works', () => {
  const v2 = chooseCgroupLayout(parseCgroupMounts(PURE_V2), ['cpuset', 'cpu', 'io', 'memory', 'pids']);
  assert.deepEqual(v2, { version: 'v2', memory: '/sys/fs/cgroup', pids: '/sys/fs/cgroup', cpu: '/sys/fs/cgroup', cpuacct: '/sys/fs/cgroup' });
  assert.deepEqual(hierarchyDirs(v2 as Exclude<typeof v2, string>), ['/sys/fs/cgroup']);
  // The hybrid's v2 holds no controller: the v1 ones are used.
  const v1 = chooseCgroupLayout(parseCgroupMounts(HYBRID), ['hugetlb']);
  assert.equal(typeof v1 !== 'string' && v1.version, 'v1');
  assert.deepEqual(hierarchyDirs(v1 as Exclude<typeof v1, string>), ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpuacct']);
  const comounted = chooseCgroupLayout(parseCgroupMounts(COMOUNTED), []);
  assert.deepEqual(hierarchyDirs(comounted as Exclude<typeof comounted, string>), ['/sys/fs/cgroup/mem ory', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/cpu,cpuacct']);
  // A v2 without the pids controller delegated, and no v1: the reason names what is missing.
  const none = chooseCgroupLayout(parseCgroupMounts(PURE_V2), ['cpu', 'memory']);
  assert.equal(none, 'no usable cgroup controllers (cgroup v2 at /sys/fs/cgroup lacks pids; cgroup v1 lacks memory, pids, cpuacct)');
});

test('cgroup counters: keyed lines of memory.events, pids.events, cpu.stat and memory.oom_control', () => {
  assert.equal(readKeyedCounter('low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n', 'oom_kill'), 1);
  assert.equal(readKeyedCounter('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n', 'oom_kill'), 3);
  assert.equal(readKeyedCounter('max 0\n', 'max'), 0);
  assert.equal(readKeyedCounter('usage_usec 1500123\nuser_usec 1000000\n', 'usage_usec'), 1500123);
  assert.equal(readKeyedCounter('', 'oom_kill'), 0);
});

test('process tree: the parent pid from /proc/<pid>/stat, even with spaces and parentheses in the name', () => {
  assert.equal(parseParentPid('4242 (bwrap) S 4100 4242 4242 0 -1 4194560 ...'), 4100);
  assert.equal(parseParentPid('77 (a) b (c) R 76 77 77 0'), 76);
  assert.equal(parseParentPid('garbage'), null);
});
