// What /proc/<pid>/stat tells of a process: the pure field parsers (names with spaces and parentheses), and the
// readers and the tree walk on real processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listProcessTree, parseParentPid, parseStartTime, readProcessState, readStartTime } from '../../daemon/sandbox/process-tree.js';
import { spawnProcess } from '../../daemon/sandbox/spawn.js';

/** A /proc/<pid>/stat line: pid, (name), state, parent, then fields 5 to 21 and the start time (field 22). */
const stat = (name: string, state: string, parent: number, startTime: string) => `4242 (${name}) ${state} ${parent} ${Array.from({ length: 17 }, (_, i) => i).join(' ')} ${startTime} 12345 678 18446744073709551615\n`;

test('stat: the parent pid, even with spaces and parentheses in the name', () => {
  assert.equal(parseParentPid('4242 (bwrap) S 4100 4242 4242 0 -1 4194560 ...'), 4100);
  assert.equal(parseParentPid('77 (a) b (c) R 76 77 77 0'), 76);
  assert.equal(parseParentPid(stat(') R 1 (', 'S', 99, '5')), 99);
  assert.equal(parseParentPid('garbage'), null);
  assert.equal(parseParentPid(''), null);
});

test('stat: the start time is field 22, counted from the last parenthesis', () => {
  assert.equal(parseStartTime(stat('sleep', 'S', 1, '987654')), '987654');
  assert.equal(parseStartTime(stat('x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (y', 'R', 1, '42')), '42');
  assert.equal(parseStartTime('4242 (short) S 1 2 3'), null, 'a truncated line has no start time');
  assert.equal(parseStartTime('no name at all'), null);
  assert.equal(parseStartTime(''), null);
});

test('a real process: its start time and state while it runs, stopped, and once it is gone', async () => {
  const child = spawnProcess({ file: '/bin/sleep', args: ['30'], env: {}, cwd: '/', processGroup: false });
  const pid = child.pid as number;
  try {
    const startTime = readStartTime(pid);
    assert.match(startTime ?? '', /^\d+$/);
    assert.equal(readStartTime(pid), startTime, 'the same process, the same start time');
    assert.ok(Number(startTime) >= Number(readStartTime(process.pid)), 'started after this test process');
    // Just spawned, it may still be running (exec, start-up) before it sleeps.
    for (let i = 0; readProcessState(pid)?.state !== 'S'; i++) {
      assert.ok(i < 200, `state ${readProcessState(pid)?.state}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.deepEqual(readProcessState(pid), { state: 'S', startTime });
    process.kill(pid, 'SIGSTOP');
    for (let i = 0; readProcessState(pid)?.state !== 'T'; i++) {
      assert.ok(i < 200, `state ${readProcessState(pid)?.state}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    child.kill();
  }
  await child.exited;
  assert.equal(readStartTime(pid), null);
  assert.equal(readProcessState(pid), null);
});

test('the process tree of a real shell: the shell first, then its children', async () => {
  const child = spawnProcess({ file: '/bin/sh', args: ['-c', 'sleep 30 & sleep 30 & wait'], env: { PATH: '/usr/bin:/bin' }, cwd: '/', processGroup: true });
  const pid = child.pid as number;
  try {
    let tree: number[] = [];
    for (let i = 0; tree.length < 3; i++) {
      assert.ok(i < 400, `tree ${tree.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      tree = await listProcessTree(pid);
    }
    assert.equal(tree.length, 3);
    assert.equal(tree[0], pid);
  } finally {
    child.kill();
  }
  await child.exited;
  assert.deepEqual(await listProcessTree(pid), []);
});
