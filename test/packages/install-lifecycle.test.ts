// Installs end with their execution: code that starts installs (Python threads, Node tool calls it does not wait
// for) and ends at once, an execution that times out mid-install, a daemon closed mid-install. In every case the
// installers' processes are gone by the time the answer comes, queued installs never start, and nothing is left
// or made again afterwards. The index answers slowly, so the installs are still running when the code ends.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startPackageIndex, type PackageIndex } from '../helpers/package-index.js';
import { findProcesses, postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sessionDirName } from '../../daemon/sessions/ids.js';

/** Every answer of the index waits this long: an install takes several of them. */
const INDEX_DELAY_MS = 1500;

let index: PackageIndex;
let d: TestDaemon;
before(async () => {
  index = await startPackageIndex({ delayMs: INDEX_DELAY_MS });
  // No warm pool (not what these tests are about): no sandbox is started that no execution uses.
  d = await startDaemon({ pythonIndexUrl: index.pypiUrl, npmRegistryUrl: index.npmUrl, installTimeoutMs: 60_000, warmSandboxes: 0 });
});
after(async () => {
  await d.close();
  await index.close();
});

const cacheDirOf = (daemon: TestDaemon): string => path.join(daemon.workDir, 'package-cache');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function newSession(daemon: TestDaemon): Promise<string> {
  const response = await fetch(`${daemon.url}/v1/sessions`, { method: 'POST' });
  return ((await response.json()) as { id: string }).id;
}

// Waits until the index has received more than `count` requests (an install is under way).
async function waitForRequests(served: PackageIndex, count: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (served.requests.length <= count) {
    if (Date.now() > deadline) throw new Error(`the index received no request within ${timeoutMs} ms`);
    await sleep(20);
  }
}

// What an execution must leave once it has answered: no installer process (each names its cache partition on
// its command line), no cache partition (an aborted install keeps nothing), the session's package directories
// empty (no staging tree), and no request to the index afterwards (nothing queued starts).
async function assertInstallsEnded(daemon: TestDaemon, sessionId: string, requestsAtAnswer: number): Promise<void> {
  assert.deepEqual(await findProcesses(cacheDirOf(daemon)), [], 'no installer process outlived the answer');
  const packagesDir = path.join(daemon.workDir, 'sessions', sessionDirName(sessionId), 'packages');
  assert.deepEqual(fs.readdirSync(packagesDir).sort(), ['node', 'python'], 'no staging tree is left next to them');
  for (const runtime of ['node', 'python']) assert.deepEqual(fs.readdirSync(path.join(packagesDir, runtime)), [], `nothing was installed for ${runtime}`);
  await sleep(2 * INDEX_DELAY_MS);
  assert.equal(index.requests.length, requestsAtAnswer, `no install started after the answer: ${index.requests.slice(requestsAtAnswer).join(', ')}`);
  assert.deepEqual(await findProcesses(cacheDirOf(daemon)), []);
  assert.deepEqual(fs.existsSync(cacheDirOf(daemon)) ? fs.readdirSync(cacheDirOf(daemon)) : [], [], 'the aborted installs left nothing in the cache');
}

// The daemon-closing test has its own daemon and index, so it runs beside the three others; those share a daemon
// and an index whose requests they count, so they run one after the other.
describe('installs end with their execution or their daemon', { concurrency: true }, () => {
  describe('installs do not outlive their execution', { concurrency: false }, () => {
    test('Python: installs started in threads by code that exits at once are killed before the answer', { timeout: 120_000 }, async () => {
      const sessionId = await newSession(d);
      const before = index.requests.length;
      // The code sleeps long enough for a uv started on a loaded machine to reach the index, and ends before any
      // install could (each takes at least two requests of INDEX_DELAY_MS).
      const code = [
        'import threading',
        'for spec in ["runbox-demo==1.0.0", "runbox-dep-user", "runbox-demo==2.0.0", "runbox-url-dep"]:',
        '    threading.Thread(target=install_package, args=(spec,), daemon=True).start()',
        'import time',
        'time.sleep(2)',
        'set_result("started")',
      ].join('\n');
      const answer = await postExecution(d.url, { runtime: 'python', sessionId, code, timeoutMs: 60_000 });
      const requestsAtAnswer = index.requests.length;
      assert.equal(answer.body.status, 'ok', JSON.stringify(answer.body));
      assert.ok(requestsAtAnswer > before, 'an install had reached the index before the code ended');
      await assertInstallsEnded(d, sessionId, requestsAtAnswer);
    });

    test('Node: install calls the code does not wait for are killed when it exits at once', { timeout: 120_000 }, async () => {
      const sessionId = await newSession(d);
      const before = index.requests.length;
      // The prelude would wait for unanswered calls before it reports a result: the code leaves without one, once
      // npm (slower to start than uv) has had time to ask the registry.
      const code = [
        "for (const spec of ['runbox-demo-js@1.0.0', 'runbox-demo-js@2.0.0', '@runbox/scoped-js']) callTool('runbox.install', { packages: [spec] }).catch(() => {});",
        'setTimeout(() => process.exit(0), 2500);',
      ].join('\n');
      const answer = await postExecution(d.url, { runtime: 'node', sessionId, code, timeoutMs: 60_000 });
      const requestsAtAnswer = index.requests.length;
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.ok(answer.body.durationMs < 3 * INDEX_DELAY_MS, `the answer did not wait for the installs: ${JSON.stringify(answer.body)}`);
      assert.ok(requestsAtAnswer > before, 'an install had reached the registry before the code ended');
      await assertInstallsEnded(d, sessionId, requestsAtAnswer);
    });

    test('an install cannot carry an execution past its timeout', { timeout: 120_000 }, async () => {
      const sessionId = await newSession(d);
      const timeoutMs = 1000;
      const answer = await postExecution(d.url, { runtime: 'python', sessionId, code: 'install_package("runbox-dep-user")\nset_result("installed")', timeoutMs });
      const requestsAtAnswer = index.requests.length;
      assert.equal(answer.body.status, 'timeout', JSON.stringify(answer.body));
      // The install needs several slow answers of the index; the execution ends at its own deadline (the margin is
      // a safety net for a loaded machine, far below what the install would take).
      assert.ok(answer.body.durationMs < timeoutMs + 3 * INDEX_DELAY_MS, `durationMs ${answer.body.durationMs}`);
      await assertInstallsEnded(d, sessionId, requestsAtAnswer);
    });
  });

  test('closing the daemon mid-install kills the installs, and nothing is left or made again afterwards', { timeout: 120_000 }, async () => {
    const ownIndex = await startPackageIndex({ delayMs: INDEX_DELAY_MS });
    const own = await startDaemon({ pythonIndexUrl: ownIndex.pypiUrl, npmRegistryUrl: ownIndex.npmUrl, installTimeoutMs: 60_000, warmSandboxes: 0 });
    try {
      const before = ownIndex.requests.length;
      const code = [
        'import threading, time',
        'for spec in ["runbox-demo==1.0.0", "runbox-dep-user"]:',
        '    threading.Thread(target=install_package, args=(spec,), daemon=True).start()',
        'time.sleep(30)',
      ].join('\n');
      // Without a session: the installs go into the execution's own directory, which must not be made again.
      const answer = postExecution(own.url, { runtime: 'python', code, timeoutMs: 60_000 });
      await waitForRequests(ownIndex, before);
      await own.close(); // also fails if an execution directory or a sandbox process is left
      const requestsAtClose = ownIndex.requests.length;
      assert.equal((await answer).body.status, 'cancelled');
      assert.deepEqual(await findProcesses(own.workDir), [], 'no installer or sandbox process is left');
      await sleep(2 * INDEX_DELAY_MS);
      assert.equal(fs.existsSync(own.workDir), false, 'nothing made the removed work directory again (no execution directory, no cache)');
      assert.equal(ownIndex.requests.length, requestsAtClose, 'no install started after the daemon closed');
    } finally {
      await ownIndex.close();
    }
  });
});
