// Output files from a real directory: only declared paths, each within maxFileBytes and what is left of
// maxTotalFileBytes, at most maxFiles of them, duplicates once, bad declarations refused one by one with a reason,
// and each file's MIME type by its name or its first bytes.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { collectOutputFiles } from '../../daemon/files/outputs.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
let ws: string;
before(async () => {
  ws = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-outputs-'));
  await fs.mkdir(path.join(ws, 'out'));
  await fs.writeFile(path.join(ws, 'out', 'a.csv'), 'x,y\n1,2\n');
  await fs.writeFile(path.join(ws, 'chart'), PNG);
  await fs.writeFile(path.join(ws, 'ten'), '0123456789');
  await fs.writeFile(path.join(ws, 'six'), '012345');
  await fs.writeFile(path.join(ws, 'undeclared.txt'), 'never returned');
});
after(() => fs.rm(ws, { recursive: true, force: true }));

const LIMITS = { maxFileBytes: 10, maxTotalFileBytes: 16 };

test('declared files come back with size, content and MIME type (by name, else by magic bytes); nothing undeclared', async () => {
  const { files, errors } = await collectOutputFiles(ws, ['out/a.csv', './chart'], { maxFileBytes: 1024, maxTotalFileBytes: 4096 });
  assert.deepEqual(errors, []);
  assert.deepEqual(files.map((f) => [f.path, f.size, f.mimeType]), [['out/a.csv', 8, 'text/csv'], ['chart', PNG.length, 'image/png']]);
  assert.equal(files[0].content.toString(), 'x,y\n1,2\n');
});

test('no declaration, or one that is not a list, returns nothing (the latter says so)', async () => {
  assert.deepEqual(await collectOutputFiles(ws, undefined, LIMITS), { files: [], errors: [] });
  assert.deepEqual(await collectOutputFiles(ws, null, LIMITS), { files: [], errors: [] });
  assert.deepEqual(await collectOutputFiles(ws, 'out/a.csv', LIMITS), { files: [], errors: [{ path: 'out/a.csv', message: 'declared files must be a list of paths' }] });
});

test('sizes: a file over maxFileBytes, then one past what is left of the total, are refused; the rest still come', async () => {
  const { files, errors } = await collectOutputFiles(ws, ['ten', 'six', 'out/a.csv', 'ws-is-fine-too/../six'], LIMITS);
  // ten (10) fits, six (6) makes 16: at the total exactly; a.csv (8) is past it. The `..` path is refused by its rule.
  assert.deepEqual(files.map((f) => f.path), ['ten', 'six']);
  assert.deepEqual(errors.map((e) => e.path), ['out/a.csv', 'ws-is-fine-too/../six']);
  assert.equal(errors[0].message, 'refused: the output files together exceed maxTotalFileBytes');
  assert.match(errors[1].message, /^refused: the path .*\.\./);
  const single = await collectOutputFiles(ws, ['ten'], { maxFileBytes: 9, maxTotalFileBytes: 100 });
  assert.deepEqual(single.errors, [{ path: 'ten', message: 'refused: it is 10 bytes, over maxFileBytes 9' }]);
});

test('bad declarations are refused one by one; duplicates come once; past maxFiles the rest are not looked at', async () => {
  const { files, errors } = await collectOutputFiles(ws, ['/etc/passwd', 42, '', 'missing.txt', 'out', 'six', './six', 'six'], { maxFileBytes: 100, maxTotalFileBytes: 100 });
  assert.deepEqual(files.map((f) => f.path), ['six']);
  assert.deepEqual(errors.map((e) => e.path), ['/etc/passwd', '42', '', 'missing.txt', 'out']);
  assert.match(errors[0].message, /^refused: the path .*absolute/);
  assert.match(errors[1].message, /^refused: the path expected a string, received number/);
  assert.equal(errors[3].message, 'refused: it does not exist');
  assert.equal(errors[4].message, 'refused: it is a directory, not a file');
  const many = await collectOutputFiles(ws, ['six', 'ten', 'out/a.csv'], { maxFileBytes: 100, maxTotalFileBytes: 100, maxFiles: 2 });
  assert.deepEqual(many.files.map((f) => f.path), ['six', 'ten']);
  assert.deepEqual(many.errors, [{ path: '', message: '3 files declared; at most 2 are returned' }]);
});
