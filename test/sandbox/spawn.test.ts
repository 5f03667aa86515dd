// signalProcess, the daemon's one way to signal a process it did not spawn through a ChildProcess: a process
// already gone is no error, a refusal of the kernel (EPERM) is, on real processes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { signalProcess, spawnProcess } from '../../daemon/sandbox/spawn.js';

const spawnModule = new URL('../../daemon/sandbox/spawn.js', import.meta.url).pathname;
const NOBODY = 65534;

test('signalProcess kills a real process, and signalling it again once it is gone does not throw', async () => {
  const child = spawnProcess({ file: '/bin/sleep', args: ['30'], env: {}, cwd: '/', processGroup: true });
  const pid = child.pid as number;
  signalProcess(pid);
  const exit = await child.exited;
  assert.equal(exit.signal, 'SIGKILL');
  assert.equal(fs.existsSync(`/proc/${pid}`), false);
  assert.doesNotThrow(() => signalProcess(pid));
  assert.doesNotThrow(() => signalProcess(-pid, 'SIGKILL'), 'its process group is gone too');
  assert.doesNotThrow(() => signalProcess(pid, 0));
});

test('signalProcess stops and continues a real process with the signal given', async () => {
  const child = spawnProcess({ file: '/bin/sleep', args: ['30'], env: {}, cwd: '/', processGroup: false });
  const pid = child.pid as number;
  try {
    signalProcess(pid, 'SIGSTOP');
    const state = () => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];
    for (let i = 0; state() !== 'T'; i++) {
      assert.ok(i < 200, `state ${state()}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    signalProcess(pid, 'SIGCONT');
  } finally {
    child.kill();
  }
  assert.equal((await child.exited).signal, 'SIGKILL');
});

// As root, a process of user nobody tries to signal pid 1 (root's); otherwise this process tries it itself.
const rootOwned = fs.statSync('/proc/1').uid === 0;
const uid = process.getuid?.() ?? -1;
test('signalProcess throws when the kernel refuses (EPERM: a process of another user)', { skip: rootOwned && uid !== NOBODY ? false : 'pid 1 is not owned by another user here' }, async () => {
  if (uid !== 0) {
    assert.throws(() => signalProcess(1, 0), { code: 'EPERM' });
    return;
  }
  const script = `import { signalProcess } from ${JSON.stringify(spawnModule)};\ntry { signalProcess(1, 0); console.log('sent'); } catch (error) { console.log(error.code); }`;
  const child = spawnProcess({ file: process.execPath, args: ['--input-type=module', '-e', script], env: {}, cwd: '/', uid: NOBODY, gid: NOBODY, processGroup: false });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
  const exit = await child.exited;
  assert.equal(Buffer.concat(chunks).toString().trim(), 'EPERM', JSON.stringify(exit));
});
