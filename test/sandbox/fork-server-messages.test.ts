// The fork server's wire (daemon/sandbox/fork-server/messages.ts), its /proc reading (host-pid.ts) and its
// bubblewrap command line (args.ts), as pure functions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildForkServerArgs, FORK_SERVER_WORK_ROOT } from '../../daemon/sandbox/args.js';
import { parseNamespacePids } from '../../daemon/sandbox/fork-server/host-pid.js';
import { encodeCommand, parseEvent, relativeToWorkDir } from '../../daemon/sandbox/fork-server/messages.js';

test('fork server events parse, and anything else is named as the problem it is', () => {
  assert.deepEqual(parseEvent('{"type":"ready"}'), { type: 'ready' });
  assert.deepEqual(parseEvent('{"type":"forked","id":"f1","pid":7}'), { type: 'forked', id: 'f1', pid: 7 });
  assert.deepEqual(parseEvent('{"type":"exited","id":"f1","code":null,"signal":"SIGKILL"}'), { type: 'exited', id: 'f1', code: null, signal: 'SIGKILL' });
  assert.deepEqual(parseEvent('{"type":"exited","id":"f1","code":3,"signal":null}'), { type: 'exited', id: 'f1', code: 3, signal: null });
  assert.deepEqual(parseEvent('{"type":"fork_failed","id":"f2","message":"EAGAIN"}'), { type: 'fork_failed', id: 'f2', message: 'EAGAIN' });
  assert.match(parseEvent('{oops') as string, /^not JSON/);
  assert.match(parseEvent('[1]') as string, /unknown event/);
  assert.match(parseEvent('{"type":"forked","id":"f1","pid":0}') as string, /malformed forked/);
  assert.match(parseEvent('{"type":"exited","id":"f1","code":"3","signal":null}') as string, /malformed exited/);
  assert.match(parseEvent('{"type":"launch"}') as string, /unknown event/);
  assert.equal(encodeCommand({ type: 'kill', id: 'f1' }), '{"type":"kill","id":"f1"}\n');
});

test('fork paths are relative to the work directory, and nothing outside it is named', () => {
  assert.equal(relativeToWorkDir('/w', '/w/exec-1/workspace'), 'exec-1/workspace');
  assert.throws(() => relativeToWorkDir('/w', '/other/x'), /not inside the work directory/);
  assert.throws(() => relativeToWorkDir('/w', '/w'), /not inside/);
  assert.throws(() => relativeToWorkDir('/w', '/w/../etc'), /not inside/);
});

test('NSpid lists a pid in each namespace, outermost first', () => {
  assert.deepEqual(parseNamespacePids('Name:\tpython3\nNSpid:\t4242\t17\t3\nNSsid:\t1\n'), [4242, 17, 3]);
  assert.deepEqual(parseNamespacePids('Name:\tx\n'), []);
});

test('a fork server keeps two capabilities, binds the work directory and makes mount points for its children', () => {
  const args = buildForkServerArgs({
    layout: { rootSymlinks: { lib: 'usr/lib' }, rootDirs: [], etcEntries: [], maskedProcFiles: ['kcore'] },
    runtimeDir: '/w/runtimes',
    readOnlyPaths: ['/opt/py'],
    readOnlyFiles: [['/opt/py/mpl-cache/fontlist.json', '/tmp/matplotlib/fontlist.json']],
    workDir: '/w',
    command: ['python3', 'zygote.py'],
    seccompFd: 3,
    tmpBytes: 1024,
  });
  const text = args.join(' ');
  assert.match(text, /--cap-drop ALL --cap-add CAP_SYS_ADMIN --cap-add CAP_SETPCAP --uid 1000/);
  assert.match(text, /--unshare-all --unshare-user --disable-userns --seccomp 3/);
  assert.match(text, new RegExp(`--bind /w ${FORK_SERVER_WORK_ROOT} --remount-ro /dev --remount-ro / --chdir / -- python3 zygote.py$`));
  assert.match(text, /--dir \/workspace --dir \/runbox\/packages/);
  assert.match(text, /--ro-bind \/w\/runtimes\/etc\/empty \/run\/runbox\/bridge.sock/);
  assert.ok(!text.includes('/proc/kcore'), 'the server covers no /proc file (its children could not mount a /proc then); each child covers them in its own');
  assert.ok(!args.includes('/workspace') || args[args.indexOf('/workspace') - 1] === '--dir', 'no workspace is bound into the server itself');
});

test('a wait status reads as an exit code or a signal name', async () => {
  const { parseWaitStatus } = await import('../../daemon/sandbox/fork-server/server.js');
  assert.deepEqual(parseWaitStatus('0'), { exitCode: 0, signal: null });
  assert.deepEqual(parseWaitStatus(String(3 << 8)), { exitCode: 3, signal: null });
  assert.deepEqual(parseWaitStatus('9'), { exitCode: null, signal: 'SIGKILL' });
  assert.deepEqual(parseWaitStatus('11'), { exitCode: null, signal: 'SIGSEGV' });
  assert.equal(parseWaitStatus(''), null);
  assert.equal(parseWaitStatus('x'), null);
});
