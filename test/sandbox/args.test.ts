import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSandboxArgs, buildSandboxEnv, EMPTY_FILE, SANDBOX_PATHS } from '../../daemon/sandbox/args.js';
import { buildLaunchSpec, sandboxLimitsFrom } from '../../daemon/sandbox/launch.js';
import { buildOuterNamespaceArgs, SETPRIV_PATH, UNSHARE_PATH } from '../../daemon/sandbox/outer-namespace.js';
import { buildRlimitArgs, PRLIMIT_PATH } from '../../daemon/sandbox/rlimits.js';
import { buildSeccompFilter } from '../../daemon/sandbox/seccomp.js';
import { EXTRA_INPUT_FD } from '../../daemon/sandbox/spawn.js';

const valuesAfter = (args: readonly string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
const layout = { rootSymlinks: { lib: 'usr/lib', bin: 'usr/bin' }, rootDirs: ['lib64'], etcEntries: ['ld.so.cache'], maskedProcFiles: ['cmdline', 'sys/kernel/random/boot_id'] };

test('sandbox args: every namespace unshared, read-only system, command last', () => {
  const args = buildSandboxArgs({
    layout, workspaceDir: '/w/ws', bridgeSocket: '/w/b.sock', runtimeDir: '/w/rt', readOnlyPaths: ['/opt/py'], readOnlyFiles: [], command: ['/opt/py/bin/python3', '-I'], workingDir: '/',
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
  assert.deepEqual(valuesAfter(args, '--chdir'), ['/']);
  assert.ok(pairs('--ro-bind').includes(`/w/rt/protocol.json:${SANDBOX_PATHS.runtimes}/protocol.json`), 'the preludes read the shared protocol file');
});

test('sandbox args: the host files of /proc that exist are covered with an empty file, after /proc is mounted', () => {
  const args = buildSandboxArgs(baseInput);
  const covered = args.flatMap((a, i) => (a === '--ro-bind' && args[i + 1] === `/w/rt/${EMPTY_FILE}` ? [args[i + 2]] : []));
  assert.deepEqual(covered, ['/proc/cmdline', '/proc/sys/kernel/random/boot_id']);
  assert.ok(args.indexOf('--proc') < args.indexOf('/proc/cmdline'));
});

test('sandbox env: built from scratch, nothing of the daemon', () => {
  process.env.RUNBOX_TEST_SECRET = 'leak';
  const env = buildSandboxEnv({ pathDirs: ['/opt/py/bin'], bridgeSocket: '/run/runbox/bridge.sock', bridgeToken: 't', tmpDir: '/tmp', workspaceDir: '/workspace' });
  assert.equal(env.PATH.split(':')[0], '/opt/py/bin');
  assert.ok(!Object.values(env).includes('leak'));
  assert.deepEqual(Object.keys(env).sort(), ['HOME', 'LANG', 'LC_ALL', 'MPLBACKEND', 'MPLCONFIGDIR', 'PATH', 'RUNBOX_BRIDGE_SOCKET', 'RUNBOX_BRIDGE_TOKEN', 'RUNBOX_WORKSPACE', 'TMPDIR']);
  assert.equal(env.HOME, '/tmp', 'HOME (and so every configuration search path under it) is the private /tmp, never the workspace');
});

test('launch spec: bwrap as the sandbox user; unsafe mode runs the interpreter in its own process group', () => {
  const facts = {
    bwrapPath: '/usr/bin/bwrap', layout, runtimeDir: '/w/rt', pythonEnv: '/opt/py', nodePath: '/usr/bin/node', matplotlibCache: ['/opt/py/mpl-cache/fontlist-v390.json'],
    owner: { uid: 65534, gid: 65534 }, limits: { maxOpenFiles: 1024, fileSizeBytes: 1024, cpuTimeMs: 1000, tmpBytes: 1024, addressSpaceBytes: 1 << 30 },
  };
  const input = { runtime: 'python' as const, workspaceDir: '/w/ws', privateTmpDir: '/w/tmp', socketPath: '/w/b.sock', token: 't' };
  const spec = buildLaunchSpec(facts, input);
  assert.ok(spec.args.includes('/usr/bin/bwrap'));
  assert.equal(spec.uid, 65534);
  assert.ok(spec.args.includes('/runbox/python/prelude.py'));
  assert.ok(spec.args.join(' ').includes('/opt/py/mpl-cache/fontlist-v390.json /tmp/matplotlib/fontlist-v390.json'));
  assert.ok(!spec.args.includes('/usr:/usr') && !spec.args.includes('/usr/bin'), 'node under /usr needs no extra bind');
  assert.equal(spec.args[spec.args.indexOf('--chdir') + 1], '/', 'a prelude starts outside the workspace');
  assert.equal(spec.env.RUNBOX_WORKSPACE, SANDBOX_PATHS.workspace);
  const command = buildLaunchSpec(facts, { ...input, command: ['/usr/bin/npm', 'rebuild'] });
  assert.equal(command.args[command.args.indexOf('--chdir') + 1], SANDBOX_PATHS.workspace, 'a command runs in its workspace');
  const unsafe = buildLaunchSpec({ ...facts, bwrapPath: null }, input);
  assert.equal(unsafe.file, '/opt/py/bin/python3');
  assert.equal(unsafe.processGroup, true);
  assert.equal(unsafe.env.RUNBOX_BRIDGE_SOCKET, '/w/b.sock');
  assert.equal(unsafe.cwd, '/w/tmp', 'outside the workspace until the code arrives, as in a sandbox');
  assert.equal(unsafe.env.RUNBOX_WORKSPACE, '/w/ws');
});

const baseInput = { layout, workspaceDir: '/w/ws', bridgeSocket: '/w/b.sock', runtimeDir: '/w/rt', readOnlyPaths: [], readOnlyFiles: [], command: ['/usr/bin/node', 'x.js'], workingDir: '/' };

test('sandbox args: no nested user namespaces, and the seccomp program read from the descriptor given', () => {
  const args = buildSandboxArgs({ ...baseInput, seccompFd: 3 });
  for (const flag of ['--unshare-user', '--disable-userns', '--cap-drop']) assert.ok(args.includes(flag), flag);
  assert.ok(args.indexOf('--unshare-user') < args.indexOf('--disable-userns'));
  assert.deepEqual(valuesAfter(args, '--seccomp'), ['3']);
  assert.ok(args.indexOf('--seccomp') < args.indexOf('--'));
  assert.deepEqual(valuesAfter(buildSandboxArgs(baseInput), '--seccomp'), [], 'no descriptor, no --seccomp');
});

test('sandbox args: /tmp and /dev/shm are size-limited tmpfs, /var/tmp links to /tmp', () => {
  const args = buildSandboxArgs({ ...baseInput, tmpBytes: 8388608 });
  assert.deepEqual(valuesAfter(args, '--tmpfs'), ['/dev/shm', '/tmp']);
  for (const dir of ['/dev/shm', '/tmp']) {
    const at = args.findIndex((a, i) => a === '--tmpfs' && args[i + 1] === dir);
    assert.deepEqual(args.slice(at - 2, at), ['--size', '8388608'], `${dir} is sized`);
  }
  assert.ok(args.indexOf('--dev') < args.indexOf('/dev/shm'), '/dev/shm is mounted over the --dev one');
  const link = args.findIndex((a, i) => a === '--symlink' && args[i + 2] === '/var/tmp');
  assert.equal(args[link + 1], '/tmp');
  assert.deepEqual(valuesAfter(args, '--size'), ['8388608', '8388608']);
  assert.deepEqual(valuesAfter(buildSandboxArgs(baseInput), '--size'), [], 'no size given, none set');
});

test('sandbox args: the root and /dev are remounted read-only after everything is in place', () => {
  const args = buildSandboxArgs({ ...baseInput, readOnlyFiles: [['/opt/f.json', '/tmp/matplotlib/f.json']], tmpBytes: 1024 });
  const end = args.indexOf('--');
  const remounts = args.flatMap((a, i) => (a === '--remount-ro' ? [i] : []));
  assert.deepEqual(remounts.map((i) => args[i + 1]).sort(), ['/', '/dev']);
  const creators = ['--bind', '--ro-bind', '--tmpfs', '--dir', '--symlink', '--proc', '--dev'];
  const lastCreator = Math.max(...args.slice(0, end).flatMap((a, i) => (creators.includes(a) ? [i] : [])));
  for (const at of remounts) assert.ok(at > lastCreator && at < end, `${args[at + 1]} is remounted after every mount`);
});

test('launch spec: setpriv, unshare and prlimit wrap bubblewrap, which gets the seccomp program on descriptor 3', () => {
  const facts = {
    bwrapPath: '/usr/bin/bwrap', layout, runtimeDir: '/w/rt', pythonEnv: '/opt/py', nodePath: '/usr/bin/node', matplotlibCache: [],
    owner: { uid: 65534, gid: 65534 }, limits: { maxOpenFiles: 256, fileSizeBytes: 1048576, cpuTimeMs: 2500, tmpBytes: 8388608, addressSpaceBytes: 1 << 30 },
  };
  const input = { runtime: 'node' as const, workspaceDir: '/w/ws', privateTmpDir: '/w/tmp', socketPath: '/w/b.sock', token: 't' };
  const spec = buildLaunchSpec(facts, input);
  assert.equal(spec.file, SETPRIV_PATH);
  const prlimitAt = spec.args.indexOf(PRLIMIT_PATH);
  const bwrapAt = spec.args.indexOf('/usr/bin/bwrap');
  assert.deepEqual(spec.args.slice(0, prlimitAt), buildOuterNamespaceArgs());
  assert.deepEqual(spec.args.slice(prlimitAt + 1, bwrapAt), buildRlimitArgs(facts.limits));
  assert.deepEqual(valuesAfter(spec.args, '--seccomp'), [String(EXTRA_INPUT_FD)]);
  assert.deepEqual(spec.extraInput, buildSeccompFilter());
  assert.ok(valuesAfter(spec.args, '--size').every((v) => v === '8388608'));
  assert.equal(spec.uid, 65534);
  assert.equal(spec.processGroup, true, 'killed as a group, so a child still setting up dies too');
  assert.equal(spec.endsItsTree, true, 'its exit means the pid namespace below it is empty');
  assert.ok(!spec.args.includes('--info-fd'), 'no pipe bubblewrap could die writing to once the daemon is gone');
  const unsafe = buildLaunchSpec({ ...facts, bwrapPath: null }, input);
  assert.equal(unsafe.extraInput, undefined);
  assert.equal(unsafe.file, '/usr/bin/node');
});

test('outer namespace: the parent-death signal first, then a pid namespace whose pid 1 is SIGKILLed with unshare', () => {
  const args = buildOuterNamespaceArgs();
  assert.deepEqual(args.slice(0, 3), ['--pdeathsig', 'KILL', '--'], 'setpriv sets it, then execs unshare');
  assert.equal(args[3], UNSHARE_PATH);
  for (const flag of ['--user', '--map-current-user', '--pid', '--fork', '--kill-child=SIGKILL', '--mount-proc']) assert.ok(args.includes(flag), flag);
  assert.equal(args[args.indexOf('--propagation') + 1], 'slave', 'the host\'s unmounts reach its copy of the mounts');
  assert.equal(args.at(-1), '--');
});

test('rlimits: open files and file size soft = hard, no core dumps, CPU a second past cpuTimeMs, rounded up', () => {
  assert.deepEqual(buildRlimitArgs({ maxOpenFiles: 1024, fileSizeBytes: 134217728, cpuTimeMs: 60000, addressSpaceBytes: 17179869184 }), [
    '--nofile=1024:1024', '--fsize=134217728:134217728', '--core=0:0', '--as=17179869184:17179869184', '--cpu=61:62', '--',
  ]);
  const small = { maxOpenFiles: 1, fileSizeBytes: 1, addressSpaceBytes: 1 };
  assert.ok(buildRlimitArgs({ ...small, cpuTimeMs: 100 }).includes('--cpu=2:3'));
  assert.ok(buildRlimitArgs({ ...small, cpuTimeMs: 1001 }).includes('--cpu=3:4'));
  assert.ok(!buildRlimitArgs({ ...small, cpuTimeMs: 1 }).some((a) => /nproc/.test(a)), 'never RLIMIT_NPROC (per host user, shared by every sandbox)');
});

test('sandbox limits: taken from the configuration, nothing else', () => {
  const config = { maxOpenFiles: 10, fileSizeBytes: 20, cpuTimeMs: 30, tmpBytes: 40, addressSpaceBytes: 60, memoryBytes: 50, token: 'secret' };
  assert.deepEqual(sandboxLimitsFrom(config), { maxOpenFiles: 10, fileSizeBytes: 20, cpuTimeMs: 30, tmpBytes: 40, addressSpaceBytes: 60 });
});
