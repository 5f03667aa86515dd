// The one parser of /proc/self/mountinfo: fields, optional fields, and the octal escapes the kernel writes for
// space, tab, newline and backslash (names sandboxed code can give directories in its workspace).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMountinfo, readMountinfo, unescapeMountField } from '../../daemon/sandbox/mountinfo.js';

test('mountinfo: every field of a line, with no, one or several optional fields', () => {
  const text = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro',
    '36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 propagate_from:2 - ext3 /dev/root rw,errors=continue',
    '90 22 0:50 / /w/exec-a/workspace rw,nosuid,nodev - tmpfs runbox-workspace rw,size=1024k,nr_inodes=16',
  ].join('\n');
  assert.deepEqual(parseMountinfo(text), [
    { device: '8:1', mountPoint: '/', root: '/', fsType: 'ext4', source: '/dev/sda1', mountOptions: ['rw', 'relatime'], superOptions: ['rw', 'errors=remount-ro'] },
    { device: '98:0', mountPoint: '/mnt/parent', root: '/mnt1', fsType: 'ext3', source: '/dev/root', mountOptions: ['rw', 'noatime'], superOptions: ['rw', 'errors=continue'] },
    { device: '0:50', mountPoint: '/w/exec-a/workspace', root: '/', fsType: 'tmpfs', source: 'runbox-workspace', mountOptions: ['rw', 'nosuid', 'nodev'], superOptions: ['rw', 'size=1024k', 'nr_inodes=16'] },
  ]);
});

test('mountinfo: space, tab, newline and backslash in paths are decoded, once', () => {
  const line = '91 22 0:51 /sub\\011dir /w/a\\040b/c\\012d/e\\134f/g\\134040h rw - tmpfs my\\040source rw';
  const [mount] = parseMountinfo(line);
  assert.equal(mount.mountPoint, '/w/a b/c\nd/e\\f/g\\040h');
  assert.equal(mount.root, '/sub\tdir');
  assert.equal(mount.source, 'my source');
  // A name that spells a dash field or ' - ' cannot end the optional fields early: its spaces are escaped.
  const [dashed] = parseMountinfo('92 22 0:52 / /w/x\\040-\\040y rw shared:3 - tmpfs runbox-workspace rw');
  assert.equal(dashed.mountPoint, '/w/x - y');
  assert.equal(dashed.fsType, 'tmpfs');
  assert.equal(unescapeMountField('plain'), 'plain');
  assert.equal(unescapeMountField('\\134\\134'), '\\\\');
});

test('mountinfo: lines that are not mount lines are skipped', () => {
  assert.deepEqual(parseMountinfo(''), []);
  assert.deepEqual(parseMountinfo('\n\ngarbage\n1 2 3 4 5 6 - ext4\n'), []);
  assert.equal(parseMountinfo('22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\n').length, 1);
});

test('mountinfo: this process\'s own mount table parses, with / in it', async () => {
  const mounts = parseMountinfo(await readMountinfo());
  assert.ok(mounts.some((mount) => mount.mountPoint === '/'), JSON.stringify(mounts.slice(0, 3)));
  assert.ok(mounts.every((mount) => mount.mountPoint.startsWith('/') && mount.fsType.length > 0));
});

test('a bind of a directory onto itself is told from a file system mounted there', async () => {
  const { selfBinds } = await import('../../daemon/sandbox/mounts.js');
  const text = [
    '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw',
    '30 22 0:40 / /tmp rw - tmpfs tmpfs rw',
    '31 30 0:40 /w /tmp/w rw shared:5 - tmpfs tmpfs rw',
    '32 31 0:40 /w /tmp/w rw shared:5 - tmpfs tmpfs rw',
    '33 22 8:1 /var/lib/runbox /var/lib/runbox rw - ext4 /dev/sda1 rw',
    '34 22 8:2 / /srv/runbox rw - ext4 /dev/sdb1 rw',
  ].join('\n');
  const entries = parseMountinfo(text);
  assert.equal(selfBinds(entries, '/tmp/w').length, 2, 'stacked binds of /tmp/w onto itself, on the /tmp tmpfs');
  assert.equal(selfBinds(entries, '/var/lib/runbox').length, 1, 'on the root file system');
  assert.equal(selfBinds(entries, '/srv/runbox').length, 0, "an operator's own file system mounted there is no bind");
  assert.equal(selfBinds(entries, '/tmp').length, 0);
});
