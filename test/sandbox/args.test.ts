import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSandboxArgs, buildSandboxEnv, SANDBOX_PATHS } from '../../daemon/sandbox/args.js';
import { buildLaunchSpec } from '../../daemon/sandbox/launch.js';

const layout = { rootSymlinks: { lib: 'usr/lib', bin: 'usr/bin' }, rootDirs: ['lib64'], etcEntries: ['ld.so.cache'] };

test('sandbox args: every namespace unshared, read-only system, command last', () => {
  const args = buildSandboxArgs({
    layout, workspaceDir: '/w/ws', bridgeSocket: '/w/b.sock', runtimeDir: '/w/rt', readOnlyPaths: ['/opt/py'], readOnlyFiles: [], command: ['/opt/py/bin/python3', '-I'],
  });
  for (const flag of ['--unshare-all', '--die-with-parent', '--new-session']) assert.ok(args.includes(flag), flag);
  assert.deepEqual(args.slice(-3), ['--', '/opt/py/bin/python3', '-I']);
  const pairs = (flag: string) => args.flatMap((a, i) => (a === flag ? [`${args[i + 1]}:${args[i + 2]}`] : []));
  assert.ok(pairs('--ro-bind').includes('/usr:/usr'));
  assert.ok(pairs('--ro-bind').includes('/opt/py:/opt/py'));
  assert.ok(pairs('--symlink').includes('usr/lib:/lib'));
  assert.ok(pairs('--bind').includes(`/w/ws:${SANDBOX_PATHS.workspace}`));
  assert.deepEqual(pairs('--bind'), [`/w/ws:${SANDBOX_PATHS.workspace}`], 'the workspace is the only writable bind');
  assert.ok(pairs('--ro-bind').includes(`/w/b.sock:${SANDBOX_PATHS.bridgeSocket}`));
  assert.ok(!args.includes('--share-net'));
});

test('sandbox env: built from scratch, nothing of the daemon', () => {
  process.env.RUNBOX_TEST_SECRET = 'leak';
  const env = buildSandboxEnv({ pathDirs: ['/opt/py/bin'], bridgeSocket: '/run/runbox/bridge.sock', bridgeToken: 't', tmpDir: '/tmp' });
  assert.equal(env.PATH.split(':')[0], '/opt/py/bin');
  assert.ok(!Object.values(env).includes('leak'));
  assert.deepEqual(Object.keys(env).sort(), ['HOME', 'LANG', 'LC_ALL', 'MPLBACKEND', 'MPLCONFIGDIR', 'PATH', 'RUNBOX_BRIDGE_SOCKET', 'RUNBOX_BRIDGE_TOKEN', 'TMPDIR']);
});

test('launch spec: bwrap as the sandbox user; unsafe mode runs the interpreter in its own process group', () => {
  const facts = { bwrapPath: '/usr/bin/bwrap', layout, runtimeDir: '/w/rt', pythonEnv: '/opt/py', nodePath: '/usr/bin/node', matplotlibCache: ['/opt/py/mpl-cache/fontlist-v390.json'], owner: { uid: 65534, gid: 65534 } };
  const input = { runtime: 'python' as const, workspaceDir: '/w/ws', privateTmpDir: '/w/tmp', socketPath: '/w/b.sock', token: 't' };
  const spec = buildLaunchSpec(facts, input);
  assert.equal(spec.file, '/usr/bin/bwrap');
  assert.equal(spec.uid, 65534);
  assert.ok(spec.args.includes('/runbox/python/prelude.py'));
  assert.ok(spec.args.join(' ').includes('/opt/py/mpl-cache/fontlist-v390.json /tmp/matplotlib/fontlist-v390.json'));
  assert.ok(!spec.args.includes('/usr:/usr') && !spec.args.includes('/usr/bin'), 'node under /usr needs no extra bind');
  const unsafe = buildLaunchSpec({ ...facts, bwrapPath: null }, input);
  assert.equal(unsafe.file, '/opt/py/bin/python3');
  assert.equal(unsafe.processGroup, true);
  assert.equal(unsafe.env.RUNBOX_BRIDGE_SOCKET, '/w/b.sock');
  assert.equal(unsafe.cwd, '/w/ws');
});
