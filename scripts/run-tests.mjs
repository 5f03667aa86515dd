// Runs every compiled test file under dist/test with node's test runner (explicit file list: Node 20 and 22+
// read directory arguments differently).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
const filter = process.argv.slice(2);
const files = fs
  .readdirSync(path.join(root, 'dist/test'), { recursive: true })
  .map(String)
  .filter((file) => file.endsWith('.test.js'))
  .filter((file) => filter.length === 0 || filter.some((f) => file.includes(f)))
  .sort()
  .map((file) => path.join('dist/test', file));
if (files.length === 0) {
  console.error('no test files found under dist/test (did the TypeScript build run?)');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', ...files], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
