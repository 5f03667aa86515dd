// Pure parts of the workspace mounts: the mount(8) command line and finding leftover mounts in mountinfo.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildWorkspaceMountArgs, parseWorkspaceMounts, WORKSPACE_FS_NAME } from '../../daemon/sandbox/mounts.js';

test('workspace tmpfs: size, inodes, private mode, nosuid and nodev, owned by the sandbox user', () => {
  assert.deepEqual(buildWorkspaceMountArgs('/w/exec-1/workspace', { bytes: 1048576, files: 100 }, { uid: 65534, gid: 65534 }), [
    '-t', 'tmpfs', '-o', 'size=1048576,nr_inodes=100,mode=0700,nosuid,nodev,uid=65534,gid=65534', WORKSPACE_FS_NAME, '/w/exec-1/workspace',
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
  assert.deepEqual(parseWorkspaceMounts(mountinfo, '/w'), ['/w/sessions/s 1/workspace', '/w/exec-a/workspace']);
});
