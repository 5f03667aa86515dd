// The package cache's partitions on a real directory: kept ones count against the cap and the least recently used
// go first (a partition in use never does), discarded ones leave nothing, the order survives a restart, the
// uncapped directories of earlier versions are removed, and nothing is made once the cache is closed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { dir as makeTempDir } from 'tmp-promise';
import { PackageCache, partitionName } from '../../daemon/packages/cache.js';
import { InstallError } from '../../daemon/packages/errors.js';
import { parsePackageSpecs } from '../../daemon/packages/specs.js';

let root: { path: string; cleanup: () => Promise<void> };
let next = 0;
before(async () => {
  root = await makeTempDir({ prefix: 'runbox-cache-', unsafeCleanup: true });
});
after(async () => {
  await root.cleanup();
});

const newDir = (): string => path.join(root.path, `cache-${++next}`);
const name = (letter: string): string => `uv-${letter.repeat(16)}`;
const partitions = (dir: string): string[] => fs.readdirSync(dir).sort();

// Leases a partition, writes `bytes` bytes into it and keeps it.
async function fill(cache: PackageCache, partition: string, bytes: number): Promise<void> {
  const lease = await cache.lease(partition);
  fs.writeFileSync(path.join(lease.dir, 'blob'), Buffer.alloc(bytes));
  await lease.keep();
}

test('partition names ignore the order and spelling of the requested packages, not the installer or index', () => {
  const specs = (...names: string[]) => parsePackageSpecs('python', names);
  const a = partitionName('uv', 'https://pypi.org/simple', specs('Rich==13.7.1', 'httpx'));
  assert.match(a, /^uv-[0-9a-f]{16}$/);
  assert.equal(partitionName('uv', 'https://pypi.org/simple', specs('httpx', 'rich==13.7.1')), a);
  assert.match(partitionName('pip', 'https://pypi.org/simple', specs('httpx', 'rich==13.7.1')), /^pip-/);
  assert.notEqual(partitionName('pip', 'https://pypi.org/simple', specs('httpx', 'rich==13.7.1')).slice(4), a.slice(3));
  assert.notEqual(partitionName('uv', 'https://mirror.example/simple', specs('httpx', 'rich==13.7.1')), a);
  assert.notEqual(partitionName('uv', 'https://pypi.org/simple', specs('httpx', 'rich==13.7.2')), a);
});

test('past the cap, the least recently used partitions go; using one makes it recent', async () => {
  const dir = newDir();
  const cache = new PackageCache(dir, 2500);
  await fill(cache, name('a'), 1000);
  await fill(cache, name('b'), 1000);
  await fill(cache, name('a'), 1000); // a used again: b is now the oldest
  await fill(cache, name('c'), 1000);
  assert.deepEqual(partitions(dir), [name('a'), name('c')]);
  assert.equal(cache.totalBytes, 2000);
});

test('a partition in use is never evicted, and a partition alone over the cap is not kept', async () => {
  const dir = newDir();
  const cache = new PackageCache(dir, 1500);
  const held = await cache.lease(name('a'));
  fs.writeFileSync(path.join(held.dir, 'blob'), Buffer.alloc(1000));
  await fill(cache, name('b'), 1000);
  assert.ok(fs.existsSync(held.dir), 'the partition in use stays');
  await held.keep();
  assert.deepEqual(partitions(dir), [name('a')], 'once kept, b is the least recently used and goes');
  await fill(cache, name('c'), 2000);
  assert.deepEqual(partitions(dir), [name('a')], 'c alone is over the cap');
});

test('a discarded partition is removed with everything in it, even one that held kept bytes before', async () => {
  const dir = newDir();
  const cache = new PackageCache(dir, 10_000);
  await fill(cache, name('a'), 1000);
  const lease = await cache.lease(name('a'));
  assert.equal(lease.bytesBefore, 1000);
  fs.writeFileSync(path.join(lease.dir, 'refused-download'), Buffer.alloc(4000));
  await lease.discard();
  assert.deepEqual(partitions(dir), []);
  assert.equal(cache.totalBytes, 0);
});

test('two installs of one partition take turns; a waiting one can be cancelled', async () => {
  const cache = new PackageCache(newDir(), 10_000);
  const first = await cache.lease(name('a'));
  let secondGot = false;
  const second = cache.lease(name('a')).then((lease) => {
    secondGot = true;
    return lease;
  });
  const controller = new AbortController();
  const third = cache.lease(name('a'), { signal: controller.signal });
  controller.abort(new Error('the execution ended'));
  await assert.rejects(third, /the execution ended/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(secondGot, false, 'the second waits for the first');
  await first.keep();
  await (await second).keep();
});

test('after a restart the cache knows its partitions, oldest first; old uncapped directories are removed', async () => {
  const dir = newDir();
  const first = new PackageCache(dir, 10_000);
  await fill(first, name('a'), 1000);
  await fill(first, name('b'), 1000);
  const old = new Date(Date.now() - 3_600_000);
  fs.utimesSync(path.join(dir, name('b')), old, old); // b was used an hour ago: older than a
  for (const legacy of ['uv', 'npm']) fs.mkdirSync(path.join(dir, legacy, 'archive-v0'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'npm', 'archive-v0', 'refused.whl'), Buffer.alloc(5000));

  const restarted = new PackageCache(dir, 2500);
  await fill(restarted, name('c'), 1000);
  assert.deepEqual(partitions(dir), [name('a'), name('c')], 'b, the least recently used, went; so did uv/ and npm/');
  assert.equal(restarted.totalBytes, 2000);
});

test('a cap of 0 keeps nothing; a closed cache refuses leases and makes no directory', async () => {
  const dir = newDir();
  const none = new PackageCache(dir, 0);
  await fill(none, name('a'), 10);
  assert.deepEqual(partitions(dir), []);

  const closedDir = newDir();
  const closed = new PackageCache(closedDir, 10_000);
  closed.close();
  await assert.rejects(closed.lease(name('a')), (error: unknown) => error instanceof InstallError && /shutting down/.test(error.message));
  assert.equal(fs.existsSync(closedDir), false);
});
