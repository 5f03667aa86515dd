// What a warm sandbox says before an execution attaches is kept for that execution, and bounded: a sandbox that
// writes more than the execution could keep (maxOutputBytes a stream) before its code arrives is killed and
// replaced, so a daemon never holds an unbounded buffer for a sandbox nobody reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postExecution, startDaemon } from '../helpers/daemon.js';

test('a warm sandbox that writes more than maxOutputBytes before its code arrives is killed, and executions go on', { timeout: 60_000 }, async () => {
  // `import this` prints the Zen of Python (857 bytes): a preload that talks, against a 100-byte cap. (Without the
  // fork server, which preloads once, for every child, and logs what that says: fork-server.test.ts.)
  const d = await startDaemon({ maxOutputBytes: 100, pythonPreload: ['this'], warmSandboxes: 1, forkServer: false }, { logs: true });
  try {
    const killed = () => d.logs.some((line) => line.msg.includes('said too much before its code arrived'));
    for (let i = 0; i < 100 && !killed(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(killed(), 'the talkative warm sandbox was killed');
    const run = await postExecution(d.url, { runtime: 'python', code: 'print("ok")' });
    assert.equal(run.body.status, 'ok', JSON.stringify(run.body));
    assert.ok(run.body.stdout.length <= 100, `no more than maxOutputBytes reaches the result: ${JSON.stringify(run.body.stdout)}`);
  } finally {
    await d.close();
  }
});
