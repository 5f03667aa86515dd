// Load: a bounded FIFO queue in front of maxConcurrent running executions; past maxQueued, requests are refused
// with queue_full (HTTP 429 + Retry-After, WebSocket retryAfterMs), and the warm pool stays within what is useful.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { findProcesses, startDaemon, waitForNoProcesses, type TestDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/ws-client.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon({ maxConcurrent: 2, maxQueued: 3, warmSandboxes: 4 });
});
after(() => d.close());

const sleepCode = (seconds: number, result: unknown) => `import time\nstarted = time.time()\ntime.sleep(${seconds})\nset_result({"started": started, "value": ${JSON.stringify(result)}})`;

// The sandboxes of this daemon that have a live process (each names its own exec-* directory in its arguments).
async function sandboxes(workDir: string): Promise<string[]> {
  const dirs = new Set<string>();
  for (const pid of await findProcesses(workDir)) {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const match = /\/(exec-[^/\0]+)\//.exec(cmdline);
    if (match) dirs.add(match[1]);
  }
  return [...dirs];
}

describe('HTTP', () => {
  test('10 requests at once: 2 run, 3 wait and all 5 answer ok; 5 get 429 with Retry-After', { timeout: 60_000 }, async () => {
    let most = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        most = Math.max(most, (await sandboxes(d.workDir)).length);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    const answers = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const response = await fetch(`${d.url}/v1/executions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ runtime: 'python', code: sleepCode(1, i) }),
        });
        return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as any };
      }),
    );
    polling = false;
    await poll;
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    assert.equal(ok.length, 5, JSON.stringify(answers.map((a) => a.status)));
    assert.equal(refused.length, 5);
    for (const answer of ok) assert.equal(answer.body.status, 'ok', JSON.stringify(answer.body));
    for (const answer of refused) {
      assert.equal(answer.body.error.code, 'queue_full');
      assert.match(answer.body.error.message, /2 executions are running and 3 are waiting \(maxConcurrent, maxQueued\)/);
      assert.match(answer.retryAfter ?? '', /^[1-9]\d*$/, 'Retry-After is a whole number of seconds');
      assert.deepEqual(Object.keys(answer.body), ['error']);
    }
    // The queued three waited for a slot: their durationMs counts the wait, their code still had its own time.
    const durations = ok.map((a) => a.body.durationMs).sort((a, b) => a - b);
    assert.ok(durations[4] > 2 * 1000, `the last one waited for a slot: ${durations}`);
    // 2 running sandboxes + warm ones: min(warmSandboxes 4, maxConcurrent 2) per runtime = 4 idle at most.
    assert.ok(most <= 6, `at most 6 sandboxes at once, saw ${most}`);
  });

  test('the warm pool holds no more sandboxes per runtime than may run at once', { timeout: 60_000 }, async () => {
    const deadline = Date.now() + 10_000;
    let count = 0;
    while (Date.now() < deadline) {
      count = (await sandboxes(d.workDir)).length;
      if (count === 4) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(count, 4, 'warmSandboxes 4 is capped to maxConcurrent 2 for each of the two runtimes');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await sandboxes(d.workDir)).length, 4, 'and it stays there');
  });

  test('a client that disconnects while its request waits frees its place in the queue', { timeout: 60_000 }, async () => {
    const running = [0, 1].map((i) => fetch(`${d.url}/v1/executions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runtime: 'python', code: sleepCode(1.2, i) }) }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const aborts = [0, 1, 2].map(() => new AbortController());
    const queued = aborts.map((abort) =>
      fetch(`${d.url}/v1/executions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runtime: 'python', code: 'set_result("never")' }), signal: abort.signal }).catch((error: Error) => error.name),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const abort of aborts) abort.abort();
    assert.deepEqual(await Promise.all(queued), ['AbortError', 'AbortError', 'AbortError']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Three places free again: three more requests are accepted (not 429) and run after the two.
    const next = await Promise.all([0, 1, 2].map((i) => fetch(`${d.url}/v1/executions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runtime: 'node', code: `return ${i}` }) })));
    assert.deepEqual(next.map((r) => r.status), [200, 200, 200]);
    assert.deepEqual(await Promise.all(next.map(async (r) => ((await r.json()) as any).result)), [0, 1, 2]);
    for (const r of await Promise.all(running)) assert.equal(r.status, 200);
  });
});

describe('WebSocket', () => {
  test('FIFO: queued executions start in the order they came; the 6th gets queue_full with retryAfterMs', { timeout: 60_000 }, async () => {
    const client = await RawClient.connect(d.wsUrl);
    try {
      // Different run times keep the start times apart: q0 ends at ~0.6 s, q1 at ~1.2 s, q2 at ~1.8 s.
      const runs = [0.6, 1.2, 1.2, 0.3, 0.3].map((seconds, i) => client.execute({ id: `q${i}`, runtime: 'python', code: sleepCode(seconds, i), timeoutMs: 1000 + seconds * 1000 }));
      const refusal = client.nextError();
      client.send({ type: 'execute', id: 'q5', runtime: 'python', code: 'pass' });
      const error = await refusal;
      assert.equal(error.id, 'q5');
      assert.equal(error.code, 'queue_full');
      assert.ok(Number.isInteger(error.retryAfterMs) && error.retryAfterMs > 0, JSON.stringify(error));
      const results = await Promise.all(runs);
      for (const result of results) assert.equal(result.status, 'ok', JSON.stringify(result));
      const started = results.map((r) => r.result.started);
      assert.ok(started[2] < started[3] && started[3] < started[4], `queued ones started in order: ${started}`);
      // q4 waited ~1.8 s but its timeoutMs (1300) only counted while it ran.
      assert.ok(results[4].durationMs > 1500, `durationMs counts the wait: ${results[4].durationMs}`);
      assert.equal(client.of('q5').messages.filter((m) => m.type === 'result').length, 0, 'a refused execute gets no result');
    } finally {
      client.close();
    }
  });

  test('a queued execution can be cancelled; a closed connection frees its queued places', { timeout: 60_000 }, async () => {
    const client = await RawClient.connect(d.wsUrl);
    const other = await RawClient.connect(d.wsUrl);
    try {
      const marker = `sleep ${600000 + Math.floor(Math.random() * 90000)}`;
      const busy = [0, 1].map((i) => client.execute({ id: `busy${i}`, runtime: 'python', code: `import subprocess\nsubprocess.run("${marker}".split())` }));
      while ((await findProcesses(marker)).length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      for (let i = 0; i < 2; i++) other.send({ type: 'execute', id: `other${i}`, runtime: 'node', code: 'return 1' });
      await new Promise((resolve) => setTimeout(resolve, 200)); // two connections: let the other's arrive first
      const waiting = client.execute({ id: 'waiting', runtime: 'python', code: 'set_result(1)' });
      const full = client.nextError();
      client.send({ type: 'execute', id: 'one-too-many', runtime: 'node', code: '' });
      assert.equal((await full).code, 'queue_full');
      client.send({ type: 'cancel', id: 'waiting' });
      const cancelled = await waiting;
      assert.equal(cancelled.status, 'cancelled');
      assert.equal(cancelled.error.type, 'Cancelled');
      assert.match(cancelled.error.message, /while it waited for a slot/);
      assert.equal(cancelled.exitCode, null);
      other.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      // All three places are free again.
      const accepted = [0, 1, 2].map((i) => client.execute({ id: `after${i}`, runtime: 'node', code: `return ${i}` }));
      for (const id of ['busy0', 'busy1']) client.send({ type: 'cancel', id });
      assert.deepEqual((await Promise.all(busy)).map((r) => r.status), ['cancelled', 'cancelled']);
      assert.deepEqual((await Promise.all(accepted)).map((r) => r.result), [0, 1, 2]);
      assert.equal(client.errors.length, 1, JSON.stringify(client.errors));
      await waitForNoProcesses(marker);
    } finally {
      client.close();
      other.close();
    }
  });
});
