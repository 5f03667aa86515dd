// The session file API's operations on a real directory: write (directories made, entries replaced, a directory
// in the way refused, a full workspace a quota_exceeded that leaves nothing half-written), delete (files, links,
// trees; a missing path is file_not_found), open for download (size and MIME type), and every walk problem as the
// wire error that names it.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { WireError } from '../../daemon/errors.js';
import { WalkError, type WalkProblem } from '../../daemon/files/held-dir.js';
import { checkWorkspacePathBytes, workspacePathOf } from '../../daemon/files/paths.js';
import { deleteWorkspacePath, describeWalkProblem, mimeName, openWorkspaceFile, writeWorkspaceFile } from '../../daemon/files/workspace.js';
import { mountWorkspace, unmountWorkspace } from '../../daemon/sandbox/mounts.js';

const p = workspacePathOf;
let top: string;
let ws: string;
before(async () => {
  top = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-workspace-'));
  ws = path.join(top, 'ws');
  await fs.mkdir(ws);
});
after(() => fs.rm(top, { recursive: true, force: true }));

// A walk problem found at the depth-th name of the path, as the walk reports it.
const walkError = (problem: WalkProblem, depth: number) => Object.assign(new WalkError(problem), { depth });
const isWireError = (code: string, message: RegExp) => (error: unknown) => error instanceof WireError && error.code === code && message.test(error.message);

test('write makes the directories on the way, replaces a file and refuses a directory in the way', async () => {
  await writeWorkspaceFile(ws, p('new/dir/f.txt'), Buffer.from('one'));
  assert.equal(await fs.readFile(path.join(ws, 'new/dir/f.txt'), 'utf8'), 'one');
  assert.equal((await fs.stat(path.join(ws, 'new/dir'))).mode & 0o777, 0o755);
  await writeWorkspaceFile(ws, p('new/dir/f.txt'), Buffer.from('two'));
  assert.equal(await fs.readFile(path.join(ws, 'new/dir/f.txt'), 'utf8'), 'two');
  await assert.rejects(writeWorkspaceFile(ws, p('new/dir'), Buffer.from('x')), isWireError('invalid_path', /^new\/dir is a directory; list it with GET/));
  await assert.rejects(writeWorkspaceFile(ws, p('new/dir/f.txt/below'), Buffer.from('x')), isWireError('invalid_path', /^new\/dir\/f\.txt\/below: new\/dir\/f\.txt is a file, not a directory$/));
});

test('open for download gives size and MIME type; a directory or a missing file is refused by name', async () => {
  await writeWorkspaceFile(ws, p('dl/table.csv'), Buffer.from('a,b\n'));
  await writeWorkspaceFile(ws, p('dl/picture'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1]));
  for (const [name, size, mimeType] of [['dl/table.csv', 4, 'text/csv'], ['dl/picture', 6, 'image/jpeg']] as const) {
    const opened = await openWorkspaceFile(ws, p(name));
    try {
      assert.deepEqual([opened.size, opened.mimeType], [size, mimeType]);
    } finally {
      await opened.handle.close();
    }
  }
  await assert.rejects(openWorkspaceFile(ws, p('dl')), isWireError('invalid_path', /is a directory/));
  await assert.rejects(openWorkspaceFile(ws, p('dl/none.txt')), isWireError('file_not_found', /^dl\/none\.txt: no such file or directory in the workspace$/));
  await assert.rejects(openWorkspaceFile(ws, p('none/none.txt')), isWireError('file_not_found', /no such file/));
});

test('delete removes a file, a link (not its target) and a whole tree; a missing path is file_not_found', async () => {
  const outside = path.join(top, 'outside.txt');
  await fs.writeFile(outside, 'keep');
  await writeWorkspaceFile(ws, p('del/tree/a/b'), Buffer.from('x'));
  await writeWorkspaceFile(ws, p('del/file'), Buffer.from('x'));
  await fs.symlink(outside, path.join(ws, 'del', 'link'));
  for (const name of ['del/file', 'del/link', 'del/tree']) await deleteWorkspacePath(ws, p(name));
  assert.deepEqual(await fs.readdir(path.join(ws, 'del')), []);
  assert.equal(await fs.readFile(outside, 'utf8'), 'keep');
  await assert.rejects(deleteWorkspacePath(ws, p('del/file')), isWireError('file_not_found', /^del\/file: no such file/));
  await assert.rejects(deleteWorkspacePath(ws, p('nowhere/x')), isWireError('file_not_found', /no such file/));
});

test('every walk problem is a wire error naming the path and the name at fault', () => {
  const target = p('a/b/c.txt');
  const expected: Record<WalkProblem, [string, string]> = {
    missing: ['file_not_found', 'a/b/c.txt: no such file or directory in the workspace'],
    symlink: ['invalid_path', 'a/b/c.txt: a/b is a symlink; links in the workspace are never followed'],
    not_directory: ['invalid_path', 'a/b/c.txt: a/b is a file, not a directory'],
    is_directory: ['invalid_path', 'a/b/c.txt is a directory; list it with GET /v1/sessions/:id/files'],
    not_regular: ['invalid_path', 'a/b/c.txt is not a regular file (a FIFO, socket or device)'],
    hard_link: ['invalid_path', 'a/b/c.txt is a hard link to another file'],
    changed: ['file_changed', 'a/b/c.txt changed while the daemon used it (a/b was replaced); nothing outside the workspace was touched; try again'],
  };
  for (const [problem, [code, message]] of Object.entries(expected)) {
    const error = describeWalkProblem(walkError(problem as WalkProblem, 2), target);
    assert.deepEqual([error.code, error.message], [code, message], problem);
  }
  const last = describeWalkProblem(walkError('symlink', 3), target);
  assert.equal(last.message, 'a/b/c.txt is a symlink; links in the workspace are never followed');
  // A name that is not UTF-8 is shown in its wire form; MIME types never see its escapes.
  const bytes = checkWorkspacePathBytes(Buffer.from([0x64, 0xff, 0x2f, 0x66]));
  assert.ok(bytes.ok);
  assert.equal(describeWalkProblem(walkError('symlink', 1), bytes).message, 'd%FF/f: d%FF is a symlink; links in the workspace are never followed');
  assert.equal(mimeName(p('dir/chart.png')), 'dir/chart.png');
});

test('a full workspace (a real size-limited tmpfs) is quota_exceeded, and the half-written file is removed', { skip: process.getuid?.() === 0 ? false : 'needs root to mount a tmpfs' }, async () => {
  const small = path.join(top, 'small');
  await fs.mkdir(small);
  await mountWorkspace(small, { bytes: 64 * 1024, files: 16 });
  try {
    await writeWorkspaceFile(small, p('fits.bin'), Buffer.alloc(16 * 1024));
    await assert.rejects(writeWorkspaceFile(small, p('big.bin'), Buffer.alloc(256 * 1024)), isWireError('quota_exceeded', /^big\.bin: the workspace is full/));
    assert.deepEqual(await fs.readdir(small), ['fits.bin'], 'nothing half-written is left');
    for (let i = 0; i < 16; i++) await writeWorkspaceFile(small, p(`n${i}`), Buffer.alloc(0)).catch(() => undefined);
    await assert.rejects(writeWorkspaceFile(small, p('one-too-many'), Buffer.alloc(0)), isWireError('quota_exceeded', /workspaceFiles/));
  } finally {
    await unmountWorkspace(small);
  }
});
