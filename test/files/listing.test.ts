// Workspace listings on a real directory: every entry but directories, sorted by path, with type, size, MIME type
// (by name, else by the first bytes) and mtime; maxEntries and paths too long for the file API truncate it.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { isoTime, listWorkspaceFiles } from '../../daemon/files/listing.js';
import { MAX_PATH_BYTES } from '../../daemon/files/paths.js';

let ws: string;
before(async () => {
  ws = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-listing-'));
});
after(() => fs.rm(ws, { recursive: true, force: true }));

async function fresh(name: string): Promise<string> {
  const dir = path.join(ws, name);
  await fs.mkdir(dir);
  return dir;
}

test('files and links listed sorted by path, directories implied; types, sizes, MIME types and mtimes', async () => {
  const dir = await fresh('plain');
  await fs.mkdir(path.join(dir, 'b', 'c'), { recursive: true });
  await fs.mkdir(path.join(dir, 'empty'));
  await fs.writeFile(path.join(dir, 'b', 'c', 'data.json'), '{"a":1}');
  await fs.writeFile(path.join(dir, 'a.txt'), 'hello');
  await fs.writeFile(path.join(dir, 'noext'), Buffer.from([0x25, 0x50, 0x44, 0x46, 0x2d, 0x31, 0x2e, 0x34])); // %PDF-1.4
  await fs.symlink('/etc/passwd', path.join(dir, 'z-link'));
  const when = new Date('2030-01-02T03:04:05.000Z');
  await fs.utimes(path.join(dir, 'a.txt'), when, when);
  const { files, truncated } = await listWorkspaceFiles(dir, 100);
  assert.equal(truncated, false);
  assert.deepEqual(files.map((f) => [f.path, f.type, f.mimeType]), [
    ['a.txt', 'file', 'text/plain'],
    ['b/c/data.json', 'file', 'application/json'],
    ['noext', 'file', 'application/pdf'],
    ['z-link', 'symlink', 'inode/symlink'],
  ]);
  assert.equal(files[0].size, 5);
  assert.equal(files[0].modified, '2030-01-02T03:04:05.000Z');
  assert.equal(files[3].size, '/etc/passwd'.length, 'a link\'s own size: its target is never looked at');
});

test('maxEntries cuts the listing and says truncated', async () => {
  const dir = await fresh('many');
  for (let i = 0; i < 12; i++) await fs.writeFile(path.join(dir, `f${String(i).padStart(2, '0')}`), '');
  const cut = await listWorkspaceFiles(dir, 5);
  assert.equal(cut.truncated, true);
  assert.deepEqual(cut.files.map((f) => f.path), ['f00', 'f01', 'f02', 'f03', 'f04']);
  const whole = await listWorkspaceFiles(dir, 12);
  assert.equal(whole.truncated, false);
  assert.equal(whole.files.length, 12);
  assert.deepEqual(await listWorkspaceFiles(await fresh('none'), 10), { files: [], truncated: false });
});

test(`directories deeper than a file API path can name (${MAX_PATH_BYTES} bytes) are not entered, and the listing says truncated`, async () => {
  const dir = await fresh('deep');
  const segment = 'd'.repeat(200);
  let at = dir;
  for (let i = 0; i < 6; i++) {
    at = path.join(at, segment);
    await fs.mkdir(at);
    await fs.writeFile(path.join(at, 'f'), String(i));
  }
  const { files, truncated } = await listWorkspaceFiles(dir, 100);
  assert.equal(truncated, true);
  assert.deepEqual(files.map((f) => Buffer.byteLength(f.path)), [1006, 805, 604, 403, 202], 'the five files within reach (sorted: the deeper names sort first)');
  for (const file of files) assert.ok(Buffer.byteLength(file.path) <= MAX_PATH_BYTES, file.path.length.toString());
});

test('a name that is not UTF-8 is listed percent-encoded and says so', async () => {
  const dir = await fresh('bytes');
  await fs.writeFile(Buffer.concat([Buffer.from(`${dir}/a`), Buffer.from([0xff]), Buffer.from('.txt')]), 'x');
  const { files } = await listWorkspaceFiles(dir, 10);
  assert.deepEqual(files.map((f) => [f.path, f.pathEncoding]), [['a%FF.txt', 'percent']]);
});

test('isoTime: any mtime becomes an ISO time, clamped to what a Date holds', () => {
  assert.equal(isoTime(0), '1970-01-01T00:00:00.000Z');
  assert.equal(isoTime(1e20), new Date(8.64e15).toISOString());
  assert.equal(isoTime(-1e20), new Date(-8.64e15).toISOString());
  assert.equal(isoTime(Number.NaN), '1970-01-01T00:00:00.000Z');
  assert.equal(isoTime(Number.POSITIVE_INFINITY), '1970-01-01T00:00:00.000Z');
});
