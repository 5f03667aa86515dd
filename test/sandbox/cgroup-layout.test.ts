// Which cgroup hierarchy to use, from /proc/self/mountinfo and the controllers cgroup v2 offers (pure).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseCgroupLayout, hierarchyDirs, parseCgroupMounts } from '../../daemon/sandbox/cgroup-layout.js';

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
    v1: { cpu: '/sys/fs/cgroup/cpu', cpuacct: '/sys/fs/cgroup/cpuacct', memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids', freezer: '/sys/fs/cgroup/freezer' },
  });
  assert.deepEqual(parseCgroupMounts(COMOUNTED).v1, { cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct', memory: '/sys/fs/cgroup/mem ory', pids: '/sys/fs/cgroup/pids' });
  assert.deepEqual(parseCgroupMounts(PURE_V2), { v2: '/sys/fs/cgroup', v1: {} });
  assert.deepEqual(parseCgroupMounts(''), { v2: null, v1: {} });
});

test('cgroup layout: v2 when it offers memory, pids and cpu; else v1; else why neither works', () => {
  const v2 = chooseCgroupLayout(parseCgroupMounts(PURE_V2), ['cpuset', 'cpu', 'io', 'memory', 'pids']);
  assert.deepEqual(v2, { version: 'v2', memory: '/sys/fs/cgroup', pids: '/sys/fs/cgroup', cpu: '/sys/fs/cgroup', cpuacct: '/sys/fs/cgroup', freezer: '/sys/fs/cgroup' });
  assert.deepEqual(hierarchyDirs(v2 as Exclude<typeof v2, string>), ['/sys/fs/cgroup']);
  // The hybrid's v2 holds no controller: the v1 ones are used.
  const v1 = chooseCgroupLayout(parseCgroupMounts(HYBRID), ['hugetlb']);
  assert.equal(typeof v1 !== 'string' && v1.version, 'v1');
  assert.deepEqual(hierarchyDirs(v1 as Exclude<typeof v1, string>), ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpuacct', '/sys/fs/cgroup/freezer']);
  // Without a freezer hierarchy the layout has none (files are then collected once the processes exited).
  const comounted = chooseCgroupLayout(parseCgroupMounts(COMOUNTED), []);
  assert.equal(typeof comounted !== 'string' && comounted.freezer, null);
  assert.deepEqual(hierarchyDirs(comounted as Exclude<typeof comounted, string>), ['/sys/fs/cgroup/mem ory', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/cpu,cpuacct']);
  // A v2 without the pids controller delegated, and no v1: the reason names what is missing.
  const none = chooseCgroupLayout(parseCgroupMounts(PURE_V2), ['cpu', 'memory']);
  assert.equal(none, 'no usable cgroup controllers (cgroup v2 at /sys/fs/cgroup lacks pids; cgroup v1 lacks memory, pids, cpuacct)');
});

test('cgroup mounts: named hierarchies are not controllers, and escaped mount points are decoded', () => {
  const text = [
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '41 31 0:38 / /run/my\\040cgroups\\012v2 rw,relatime shared:5 master:2 - cgroup2 cgroup2 rw',
    '42 31 0:39 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  ].join('\n');
  assert.deepEqual(parseCgroupMounts(text), { v2: '/run/my cgroups\nv2', v1: { pids: '/sys/fs/cgroup/pids' } });
});
