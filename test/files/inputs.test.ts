// Input files: every rule of decodeInputFiles (shape, path, base64, sizes, clashes) refuses with the error code and
// a message naming the file; writeInputFiles writes the decoded bytes into a real directory, making directories
// and replacing what is there.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { WireError } from '../../daemon/errors.js';
import { decodeInputFiles, writeInputFiles } from '../../daemon/files/inputs.js';

const LIMITS = { maxFileBytes: 8, maxTotalFileBytes: 12 };
const b64 = (text: string) => Buffer.from(text).toString('base64');

function refusal(raw: unknown, limits = LIMITS): WireError {
  try {
    decodeInputFiles(raw, limits);
  } catch (error) {
    assert.ok(error instanceof WireError, String(error));
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(raw)}`);
}

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-inputs-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

test('no files, and valid ones decoded with normalized paths', () => {
  assert.deepEqual(decodeInputFiles(undefined, LIMITS), []);
  assert.deepEqual(decodeInputFiles(null, LIMITS), []);
  assert.deepEqual(decodeInputFiles([], LIMITS), []);
  const files = decodeInputFiles([{ path: './a//b.txt', content: b64('hi') }, { path: 'empty', content: '' }, { path: 'c', content: b64('12345678') }], LIMITS);
  assert.deepEqual(files.map((f) => [f.path, f.content.toString()]), [['a/b.txt', 'hi'], ['empty', ''], ['c', '12345678']]);
});

test('each broken rule has its code and a message naming the file', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ path: 'a', content: '' }, 'invalid_request', /^files: expected an array, received object$/],
    ['a', 'invalid_request', /^files: expected an array, received string$/],
    [[null], 'invalid_request', /^files\[0\]: expected an object \{path, content\}$/],
    [[['a', '']], 'invalid_request', /^files\[0\]: expected an object/],
    [[{ path: '../x', content: '' }], 'invalid_path', /^files\[0\]\.path "\.\.\/x" /],
    [[{ path: '/etc/passwd', content: '' }], 'invalid_path', /absolute/],
    [[{ path: 'a\u0000b', content: '' }], 'invalid_path', /NUL/],
    [[{ path: 5, content: '' }], 'invalid_path', /expected a string, received number/],
    [[{ path: 'a' }], 'invalid_request', /^files\[0\]\.content: expected a base64 string$/],
    [[{ path: 'a', content: 'not base64!' }], 'invalid_request', /^files\[0\]\.content \(a\): not valid base64$/],
    [[{ path: 'a', content: 'aGk' }], 'invalid_request', /not valid base64/],
    [[{ path: 'a', content: 'aGk=\n' }], 'invalid_request', /not valid base64/],
    [[{ path: 'a', content: 'aGV-bG8=' }], 'invalid_request', /not valid base64/],
    [[{ path: 'big', content: b64('123456789') }], 'payload_too_large', /^files\[0\] \(big\): 9 bytes exceeds maxFileBytes 8$/],
    [[{ path: 'a', content: b64('12345678') }, { path: 'b', content: b64('12345') }], 'payload_too_large', /^files: total size exceeds maxTotalFileBytes 12$/],
    [[{ path: 'a.txt', content: '' }, { path: './a.txt', content: '' }], 'invalid_path', /^files\[1\]\.path a\.txt is given twice$/],
    [[{ path: 'd', content: '' }, { path: 'd/e/f', content: '' }], 'invalid_path', /^files: d is both a file and the directory of d\/e\/f$/],
    [[{ path: 'd/e/f', content: '' }, { path: 'd/e', content: '' }], 'invalid_path', /^files: d\/e is both a file and the directory of d\/e\/f$/],
  ];
  for (const [raw, code, message] of cases) {
    const error = refusal(raw);
    assert.equal(error.code, code, JSON.stringify(raw));
    assert.match(error.message, message);
  }
  // The first bad file is the one named, by its index.
  assert.match(refusal([{ path: 'ok', content: '' }, { path: 'ok2', content: '' }, { path: '..', content: '' }]).message, /^files\[2\]\.path/);
});

test('written into a real directory: directories made, an existing file replaced, a link replaced and never followed', async () => {
  const ws = path.join(dir, 'ws');
  const outside = path.join(dir, 'outside');
  await fs.mkdir(ws);
  await fs.writeFile(outside, 'host');
  await fs.writeFile(path.join(ws, 'old.txt'), 'old content');
  await fs.symlink(outside, path.join(ws, 'link.txt'));
  const files = decodeInputFiles([{ path: 'a/b/c.csv', content: b64('1,2') }, { path: 'old.txt', content: b64('new') }, { path: 'link.txt', content: b64('in ws') }], { maxFileBytes: 100, maxTotalFileBytes: 100 });
  await writeInputFiles(ws, files);
  assert.equal(await fs.readFile(path.join(ws, 'a/b/c.csv'), 'utf8'), '1,2');
  assert.equal(await fs.readFile(path.join(ws, 'old.txt'), 'utf8'), 'new');
  assert.ok((await fs.lstat(path.join(ws, 'link.txt'))).isFile(), 'the link was replaced by the file');
  assert.equal(await fs.readFile(path.join(ws, 'link.txt'), 'utf8'), 'in ws');
  assert.equal(await fs.readFile(outside, 'utf8'), 'host', 'what the link pointed to is untouched');
  assert.equal((await fs.stat(path.join(ws, 'a/b/c.csv'))).mode & 0o777, 0o644);
});

test('given an owner (as root), files and the directories made for them belong to it', { skip: process.getuid?.() === 0 ? false : 'needs root to give files away' }, async () => {
  const ws = path.join(dir, 'owned');
  await fs.mkdir(ws);
  await writeInputFiles(ws, decodeInputFiles([{ path: 'd/f', content: b64('x') }], LIMITS), { uid: 65534, gid: 65534 });
  for (const name of ['d', 'd/f']) {
    const stat = await fs.stat(path.join(ws, name));
    assert.deepEqual([stat.uid, stat.gid], [65534, 65534], name);
  }
});
