// The workspace mounts: the mount(8) command line and finding leftover mounts in mountinfo (pure), and a real
// workspace tmpfs on a path with every character mountinfo escapes, found and unmounted.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildWorkspaceMountArgs, canMountWorkspaces, mountWorkspace, parseTmpfsMounts, unmountWorkspace, tmpfsMountsUnder, WORKSPACE_FS_NAME } from '../../daemon/sandbox/mounts.js';

test('workspace tmpfs: size, inodes, private mode, nosuid and nodev, owned by the sandbox user', () => {
  assert.deepEqual(buildWorkspaceMountArgs('/w/exec-1/workspace', { bytes: 1048576, files: 100 }, { uid: 65534, gid: 65534 }), [
    '-t', 'tmpfs', '-o', 'nosuid,nodev,size=1048576,nr_inodes=100,mode=0700,uid=65534,gid=65534', WORKSPACE_FS_NAME, '/w/exec-1/workspace',
  ]);
  assert.ok(!buildWorkspaceMountArgs('/w', { bytes: 1, files: 1 }).join(' ').includes('uid='));
});

test('leftover workspace mounts: only ours, only under the work directory, deepest first, escapes decoded', () => {
  const mountinfo = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '90 22 0:50 / /w/exec-a/workspace rw,nosuid,nodev shared:60 - tmpfs runbox-workspace rw,size=1024k',
    '91 22 0:51 / /w/sessions/s\\0401/workspace rw shared:61 - tmpfs runbox-workspace rw',
    '92 22 0:52 / /w/exec-b/workspace rw shared:62 - tmpfs tmpfs rw',
    '93 22 0:53 / /other/exec-c/workspace rw shared:63 - tmpfs runbox-workspace rw',
    '94 22 0:54 / /w2/exec-d/workspace rw shared:64 - tmpfs runbox-workspace rw',
  ].join('\n');
  assert.deepEqual(parseTmpfsMounts(mountinfo, '/w'), ['/w/sessions/s 1/workspace', '/w/exec-a/workspace']);
});

const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-mounts-'));
const mountable = await canMountWorkspaces(scratch);
await fs.rm(scratch, { recursive: true, force: true });

test('a workspace whose path holds a space, a tab, a newline and a backslash is found and unmounted', { skip: mountable.ok ? false : `workspaces cannot be mounted here: ${mountable.problem}` }, async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-mounts-'));
  const dir = path.join(root, 'exec a\tb\nc\\d', 'workspace');
  try {
    await fs.mkdir(dir, { recursive: true });
    await mountWorkspace(dir, { bytes: 1024 * 1024, files: 16 });
    assert.deepEqual(await tmpfsMountsUnder(root), [dir]);
    await unmountWorkspace(dir);
    assert.deepEqual(await tmpfsMountsUnder(root), []);
  } finally {
    await unmountWorkspace(dir).catch(() => undefined);
    await fs.rm(root, { recursive: true, force: true });
  }
});
