// Runs every compiled test file under dist/test with node's test runner (explicit file list: Node 20 and 22+
// read directory arguments differently). Test files run CONCURRENCY at a time (RUNBOX_TEST_CONCURRENCY): most of
// a test's time is spent waiting on sandboxes, timers and sockets, not on the CPU.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
const filter = process.argv.slice(2);
/** The slowest test files (measured), started first so that none of them begins last and runs alone at the end;
 * a file missing here only loses its place in the order. */
const SLOWEST_FIRST = [
  'sandbox/limits.test.js',
  'packages/installer.test.js',
  'lifecycle.test.js',
  'api/hostile.test.js',
  'packages/runtime-install.test.js',
  'api/http.test.js',
  'runtimes/python.test.js',
  'sandbox/hostile.test.js',
  'api/load.test.js',
];
const rank = (file) => (SLOWEST_FIRST.includes(file) ? SLOWEST_FIRST.indexOf(file) : SLOWEST_FIRST.length);
const files = fs
  .readdirSync(path.join(root, 'dist/test'), { recursive: true })
  .map(String)
  .filter((file) => file.endsWith('.test.js'))
  .filter((file) => filter.length === 0 || filter.some((f) => file.includes(f)))
  .sort()
  .sort((a, b) => rank(a) - rank(b))
  .map((file) => path.join('dist/test', file));
if (files.length === 0) {
  console.error('no test files found under dist/test (did the TypeScript build run?)');
  process.exit(1);
}
const concurrency = Number(process.env.RUNBOX_TEST_CONCURRENCY ?? 4);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`RUNBOX_TEST_CONCURRENCY: expected a positive integer, received ${JSON.stringify(process.env.RUNBOX_TEST_CONCURRENCY)}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...files], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
