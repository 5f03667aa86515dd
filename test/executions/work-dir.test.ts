// The work directory's claim (one daemon at a time) and the sweep of what a killed daemon left there.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { claimWorkDir, sweepLeftovers, WorkDirInUseError } from '../../daemon/executions/work-dir.js';

test('a live claim refuses a second one; a stale pid file (dead pid, or a reused pid) is taken over', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-claim-'));
  try {
    const claim = await claimWorkDir(dir);
    await assert.rejects(claimWorkDir(dir), (error: Error) => error instanceof WorkDirInUseError && error.message.includes(`pid ${process.pid}`));
    await claim.release();
    assert.deepEqual(await fs.readdir(dir), []);
    for (const stale of ['999999999 1\n', `${process.pid} 1\n`, 'garbage']) {
      await fs.writeFile(path.join(dir, 'daemon.pid'), stale);
      const again = await claimWorkDir(dir);
      await again.release();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('the sweep removes execution and probe directories, even unreadable ones, and nothing else', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-sweep-'));
  try {
    await fs.mkdir(path.join(dir, 'exec--1-abc', 'workspace', 'locked'), { recursive: true });
    await fs.writeFile(path.join(dir, 'exec--1-abc', 'workspace', 'locked', 'f'), 'x');
    await fs.chmod(path.join(dir, 'exec--1-abc', 'workspace', 'locked'), 0);
    await fs.mkdir(path.join(dir, 'probe-xyz'));
    await fs.mkdir(path.join(dir, 'runtimes.123.tmp'));
    await fs.mkdir(path.join(dir, 'runtimes'));
    await fs.writeFile(path.join(dir, 'notes.txt'), 'keep');
    assert.deepEqual((await sweepLeftovers(dir)).sort(), ['exec--1-abc', 'probe-xyz', 'runtimes.123.tmp']);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['notes.txt', 'runtimes']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
