// The one walk through workspaces (daemon/files/held-dir.ts and its callers), on a real directory holding planted
// symlinks (to files and directories, relative and absolute, dangling), FIFOs, sockets, a device, hard links,
// names that are not UTF-8 and deep paths, next to a root-only "host" directory that must never be read, listed,
// written or removed; then the same while a real process swaps a workspace directory with a link to it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WireError } from '../../daemon/errors.js';
import { openRegularFile, WalkError } from '../../daemon/files/held-dir.js';
import { removeTree } from '../../daemon/files/tree-removal.js';
import { isoTime, listWorkspaceFiles } from '../../daemon/files/listing.js';
import { collectOutputFiles } from '../../daemon/files/outputs.js';
import { checkWorkspacePathBytes, decodePercentPath, workspacePathOf, type WorkspacePath } from '../../daemon/files/paths.js';
import { deleteWorkspacePath, openWorkspaceFile, writeWorkspaceFile } from '../../daemon/files/workspace.js';
import { startSwapper, SWAPPER_PYTHON } from '../helpers/swapper.js';

const isRoot = process.getuid?.() === 0;
const FF = Buffer.from([0xff]);
const SECRET = 'host secret\n';

let top: string;
let ws: string;
let host: string;

// A host directory only root may enter, holding what a walk must never reach.
async function makeHost(dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'victim', 'inner'), { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  for (const name of ['secret', 'inner.txt', 'victim/inner/keep', 'marker-only-on-host']) await fs.writeFile(path.join(dir, name), SECRET);
}

// Every name and content under dir, to prove it unchanged.
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await fs.readdir(dir, { recursive: true, withFileTypes: true })).sort((a, b) => (a.parentPath + a.name).localeCompare(b.parentPath + b.name))) {
    const full = path.join(entry.parentPath, entry.name);
    out.push(`${path.relative(dir, full)} ${entry.isFile() ? await fs.readFile(full, 'utf8') : (await fs.lstat(full)).mode.toString(8)}`);
  }
  return out;
}

const p = (text: string): WorkspacePath => workspacePathOf(text);
const raw = (...parts: Array<string | Buffer>): WorkspacePath => {
  const checked = checkWorkspacePathBytes(Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part))));
  assert.ok(checked.ok);
  return checked;
};

before(async () => {
  top = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-walk-'));
  ws = path.join(top, 'ws');
  host = path.join(top, 'host');
  await makeHost(host);
  await fs.mkdir(path.join(ws, 'dir', 'sub'), { recursive: true });
  await fs.writeFile(path.join(ws, 'file.txt'), 'mine');
  await fs.writeFile(path.join(ws, 'dir', 'sub', 'deep.txt'), 'deep');
  await fs.symlink(path.join(host, 'secret'), path.join(ws, 'link-file-abs'));
  await fs.symlink('../host/secret', path.join(ws, 'link-file-rel'));
  await fs.symlink(host, path.join(ws, 'link-dir-abs'));
  await fs.symlink('../host', path.join(ws, 'link-dir-rel'));
  await fs.symlink('/nonexistent/nothing', path.join(ws, 'dangling'));
  await fs.symlink(host, path.join(ws, 'dir', 'up'));
  execFileSync('mkfifo', [path.join(ws, 'fifo')]);
  execFileSync(SWAPPER_PYTHON, ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path.join(ws, 'sock')]);
  if (isRoot) execFileSync('mknod', [path.join(ws, 'null'), 'c', '1', '3']);
  await fs.writeFile(path.join(ws, 'linked.txt'), 'two names');
  await fs.link(path.join(ws, 'linked.txt'), path.join(ws, 'hard'));
  await fs.writeFile(Buffer.concat([Buffer.from(`${ws}/`), FF, Buffer.from('.bin')]), 'not utf-8');
  await fs.mkdir(Buffer.concat([Buffer.from(`${ws}/`), Buffer.from([0xfe])]));
  await fs.writeFile(Buffer.concat([Buffer.from(`${ws}/`), Buffer.from([0xfe]), Buffer.from('/in')]), 'x');
});
after(() => fs.rm(top, { recursive: true, force: true }));

describe('reading a file through held directories', () => {
  const rows: Array<[string, WorkspacePath, string | [WalkError['problem'], number]]> = [
    ['a regular file', p('file.txt'), 'ok'],
    ['a file two directories down', p('dir/sub/deep.txt'), 'ok'],
    ['a name that is not UTF-8', raw(FF, '.bin'), 'ok'],
    ['an absolute link to a host file', p('link-file-abs'), ['symlink', 1]],
    ['a relative link to a host file', p('link-file-rel'), ['symlink', 1]],
    ['through an absolute link to a host directory', p('link-dir-abs/secret'), ['symlink', 1]],
    ['through a relative link to a host directory', p('link-dir-rel/secret'), ['symlink', 1]],
    ['through a link deeper down', p('dir/up/secret'), ['symlink', 2]],
    ['a dangling link', p('dangling'), ['symlink', 1]],
    ['through a dangling link', p('dangling/x'), ['symlink', 1]],
    ['a FIFO (never blocks)', p('fifo'), ['not_regular', 1]],
    ['a socket', p('sock'), ['not_regular', 1]],
    ['a hard link', p('hard'), ['hard_link', 1]],
    ['a directory', p('dir'), ['is_directory', 1]],
    ['through a file', p('file.txt/x'), ['not_directory', 1]],
    ['through a FIFO', p('fifo/x'), ['not_directory', 1]],
    ['a missing file', p('nothing'), ['missing', 1]],
    ['below a missing directory', p('dir/none/x'), ['missing', 2]],
  ];
  if (isRoot) rows.push(['a device (never opened)', p('null'), ['not_regular', 1]]);
  for (const [name, target, expected] of rows) {
    test(name, async () => {
      const outcome = await openRegularFile(ws, target.segments).then(
        async ({ handle }) => {
          await handle.close();
          return 'ok';
        },
        (error: unknown) => {
          assert.ok(error instanceof WalkError, String(error));
          return [error.problem, error.depth];
        },
      );
      assert.deepEqual(outcome, expected);
    });
  }

  test('the file API and output collection name the component at fault', async () => {
    await assert.rejects(openWorkspaceFile(ws, p('link-dir-abs/secret')), (e: WireError) => e.code === 'invalid_path' && /link-dir-abs is a symlink/.test(e.message));
    await assert.rejects(openWorkspaceFile(ws, p('dir/sub/none')), (e: WireError) => e.code === 'file_not_found');
    const { files, errors } = await collectOutputFiles(ws, ['file.txt', 'dir/up/secret', 'fifo', 'hard', 'link-file-abs'], { maxFileBytes: 1024, maxTotalFileBytes: 4096 });
    assert.deepEqual(files.map((f) => [f.path, f.content.toString()]), [['file.txt', 'mine']]);
    assert.deepEqual(errors.map((e) => e.message), ['refused: dir/up is a symlink', 'refused: it is not a regular file (a FIFO, socket or device)', 'refused: it is a hard link to another file', 'refused: it is a symlink']);
  });
});

describe('writing and deleting through held directories', () => {
  test('writes never go through a link; a link, FIFO or socket at the target is replaced by the file', async () => {
    const before = await snapshot(host);
    for (const through of ['link-dir-abs/new', 'link-dir-rel/new', 'dir/up/new', 'dangling/new']) {
      await assert.rejects(writeWorkspaceFile(ws, p(through), Buffer.from('x')), (e: WireError) => e.code === 'invalid_path' && /is a symlink/.test(e.message), through);
    }
    await assert.rejects(writeWorkspaceFile(ws, p('dir'), Buffer.from('x')), (e: WireError) => /is a directory/.test(e.message));
    await assert.rejects(writeWorkspaceFile(ws, p('file.txt/x'), Buffer.from('x')), (e: WireError) => /file.txt is a file, not a directory/.test(e.message));
    for (const target of ['link-file-abs', 'link-file-rel', 'fifo', 'sock']) {
      await writeWorkspaceFile(ws, p(target), Buffer.from(`now ${target}`));
      const stat = await fs.lstat(path.join(ws, target));
      assert.ok(stat.isFile() && stat.nlink === 1, target);
    }
    await writeWorkspaceFile(ws, p('made/a/b.txt'), Buffer.from('new'));
    await writeWorkspaceFile(ws, raw(Buffer.from([0xfe]), '/', FF), Buffer.from('bytes'));
    assert.equal(await fs.readFile(path.join(ws, 'made/a/b.txt'), 'utf8'), 'new');
    assert.equal(await fs.readFile(Buffer.concat([Buffer.from(`${ws}/`), Buffer.from([0xfe, 0x2f, 0xff])]), 'utf8'), 'bytes');
    assert.deepEqual(await snapshot(host), before, 'the host directory is unchanged');
  });

  test('deleting a link removes the link; a tree, a deep tree and names that are not UTF-8 go by descriptors', async () => {
    const before = await snapshot(host);
    await assert.rejects(deleteWorkspacePath(ws, p('link-dir-abs/victim')), (e: WireError) => e.code === 'invalid_path');
    await deleteWorkspacePath(ws, p('link-dir-abs'));
    await deleteWorkspacePath(ws, p('link-dir-rel'));
    await assert.rejects(fs.lstat(path.join(ws, 'link-dir-abs')));
    let deep = path.join(ws, 'deep');
    for (let i = 0; i < 100; i++) deep = path.join(deep, 'd');
    await fs.mkdir(deep, { recursive: true });
    await fs.writeFile(path.join(deep, 'f'), 'x');
    await fs.symlink(host, path.join(deep, 'to-host'));
    await deleteWorkspacePath(ws, p('deep'));
    await deleteWorkspacePath(ws, raw(Buffer.from([0xfe])));
    await deleteWorkspacePath(ws, p('dir'));
    await assert.rejects(deleteWorkspacePath(ws, p('dir')), (e: WireError) => e.code === 'file_not_found');
    const left = (await fs.readdir(ws, { encoding: 'buffer' })).map((name) => name.toString('latin1'));
    assert.ok(!left.includes('deep') && !left.includes('dir') && !left.includes('\xfe'), left.join(' '));
    assert.deepEqual(await snapshot(host), before, 'the host directory is unchanged');
  });
});

describe('removing a whole tree', () => {
  test('by descriptors: links stay links, locked and very deep directories go, the host stays', async () => {
    const tree = path.join(top, 'tree');
    let deep = path.join(tree, 'chain');
    for (let i = 0; i < 150; i++) deep = path.join(deep, `level-${i}`);
    await fs.mkdir(deep, { recursive: true });
    await fs.symlink(host, path.join(tree, 'host-link'));
    await fs.symlink(host, path.join(deep, 'host-link'));
    await fs.mkdir(path.join(tree, 'locked', 'in'), { recursive: true });
    await fs.writeFile(path.join(tree, 'locked', 'in', 'f'), 'x');
    await fs.chmod(path.join(tree, 'locked', 'in'), 0);
    await fs.chmod(path.join(tree, 'locked'), 0o500);
    await fs.writeFile(Buffer.concat([Buffer.from(`${tree}/`), FF]), 'x');
    const before = await snapshot(host);
    await removeTree(tree);
    await assert.rejects(fs.lstat(tree), 'the tree is gone');
    await removeTree(tree);
    assert.deepEqual(await snapshot(host), before);
  });

  test('a directory of more names than one read takes (5,000 files, nested too) goes, and the event loop runs meanwhile', async () => {
    const tree = path.join(top, 'wide');
    await fs.mkdir(path.join(tree, 'inner'), { recursive: true });
    for (let i = 0; i < 5000; i++) writeFileSync(path.join(tree, i % 2 ? 'inner' : '', `f${i}`), '');
    let turns = 0;
    const ticker = setInterval(() => turns++, 1);
    try {
      await removeTree(tree);
    } finally {
      clearInterval(ticker);
    }
    await assert.rejects(fs.lstat(tree), 'the tree is gone');
    assert.ok(turns > 0, 'timers ran while it was removed');
  });
});

describe('removing a tree as a daemon that is not root', { skip: isRoot ? false : 'needs root to make a tree owned by another user' }, () => {
  test('directories chmod 000 and 0500 by their owner are given back their rights (O_PATH) and removed', async () => {
    const base = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-walk-user-'));
    try {
      execFileSync('chown', ['65534:65534', base]);
      const tree = path.join(base, 'tree');
      await fs.mkdir(path.join(tree, 'locked', 'in', 'deeper'), { recursive: true });
      await fs.writeFile(path.join(tree, 'locked', 'in', 'deeper', 'f'), 'x');
      execFileSync('chown', ['-R', '65534:65534', tree]);
      await fs.chmod(path.join(tree, 'locked', 'in'), 0);
      await fs.chmod(path.join(tree, 'locked'), 0o500);
      const module = new URL('../../daemon/files/tree-removal.js', import.meta.url).href;
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', `import(${JSON.stringify(module)}).then((m) => m.removeTree(${JSON.stringify(tree)}))`]);
      await assert.rejects(fs.lstat(tree), 'the tree is gone');
    } finally {
      await fs.rm(base, { recursive: true, force: true });
    }
  });
});

describe('listing through held directories', () => {
  test('every entry but directories is listed with its type; links are not followed; a name that is not UTF-8 is escaped', async () => {
    const dir = path.join(top, 'list');
    await fs.mkdir(path.join(dir, 'sub'), { recursive: true });
    await fs.writeFile(path.join(dir, 'sub', 'a.csv'), '1,2\n');
    await fs.writeFile(path.join(dir, '100%.txt'), 'x');
    await fs.symlink(host, path.join(dir, 'to-host'));
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    await fs.writeFile(Buffer.concat([Buffer.from(`${dir}/sub/`), Buffer.from('caf\xe9 '), FF, Buffer.from('.png')]), 'x');
    const { files, truncated } = await listWorkspaceFiles(dir, 100);
    assert.equal(truncated, false);
    assert.deepEqual(
      files.map((f) => [f.path, f.type, f.mimeType, f.pathEncoding ?? null]),
      [
        ['100%.txt', 'file', 'text/plain', null],
        ['pipe', 'fifo', 'inode/fifo', null],
        ['sub/a.csv', 'file', 'text/csv', null],
        ['sub/caf%C3%A9%20%FF.png', 'file', 'image/png', 'percent'],
        ['to-host', 'symlink', 'inode/symlink', null],
      ],
    );
    const escaped = checkWorkspacePathBytes(decodePercentPath(files[3].path) as Buffer);
    assert.ok(escaped.ok);
    assert.equal((await openWorkspaceFile(dir, escaped)).size, 1, 'the escaped path names the file');
  });

  test('an mtime past what a Date can hold is clamped, never a failure', () => {
    assert.equal(isoTime(1e13 * 1000), '+275760-09-13T00:00:00.000Z');
    assert.equal(isoTime(-1e13 * 1000), '-271821-04-20T00:00:00.000Z');
    assert.equal(isoTime(Number.NaN), '1970-01-01T00:00:00.000Z');
    assert.equal(isoTime(1_700_000_000_000), '2023-11-14T22:13:20.000Z');
  });
});

describe('while a process swaps a workspace directory with a link to a host directory', () => {
  test('nothing outside is read, listed, created or removed', { timeout: 120_000 }, async () => {
    const dir = path.join(top, 'race');
    await fs.mkdir(path.join(dir, 'swap', 'victim', 'inner'), { recursive: true });
    await fs.writeFile(path.join(dir, 'swap', 'inner.txt'), 'workspace');
    await fs.writeFile(path.join(dir, 'swap', 'secret'), 'workspace');
    await fs.symlink(host, path.join(dir, 'link'));
    const before = await snapshot(host);
    const swapper = await startSwapper(path.join(dir, 'swap'), path.join(dir, 'link'));
    const outcomes = new Map<string, number>();
    const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    try {
      for (let i = 0; i < 400; i++) {
        for (const name of ['swap', 'link']) {
          const read = await openRegularFile(dir, p(`${name}/secret`).segments).then(
            async ({ handle }) => {
              const text = (await handle.readFile()).toString();
              await handle.close();
              return text;
            },
            (error: unknown) => (error instanceof WalkError ? error.problem : Promise.reject(error)),
          );
          assert.notEqual(read, SECRET, 'a host file was read');
          count(`read ${read}`);
          const wrote = await writeWorkspaceFile(dir, p(`${name}/new-${i}`), Buffer.from('x')).then(() => 'written', (e: WireError) => e.code);
          count(`write ${wrote}`);
          // The host holds victim/ too: a delete that followed the link would remove it.
          const deleted = await deleteWorkspacePath(dir, p(`${name}/victim`)).then(() => 'deleted', (e: WireError) => e.code);
          count(`delete ${deleted}`);
          if (deleted === 'deleted') await writeWorkspaceFile(dir, p(`${name}/victim/inner/keep`), Buffer.from('workspace')).catch(() => undefined);
        }
        if (i % 20 === 0) {
          const { files } = await listWorkspaceFiles(dir, 10_000);
          assert.ok(!files.some((f) => f.path.includes('marker-only-on-host')), 'a host directory was listed');
          count('list');
        }
      }
      // Removing the whole tree while the swapper still runs: the link goes as a link.
      await removeTree(dir);
    } finally {
      const swaps = await swapper.stop();
      assert.ok(swaps > 100, `the swapper really raced (${swaps} swaps)`);
    }
    assert.deepEqual(await snapshot(host), before, `the host directory is unchanged (${JSON.stringify([...outcomes])})`);
    assert.ok((outcomes.get('read workspace') ?? 0) > 0, 'some reads went through while the real directory was in place');
    await assert.rejects(fs.lstat(dir), 'the raced tree is gone');
  });
});
