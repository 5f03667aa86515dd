// Hostile clients: ones that never read, send huge frames, answer tool calls twice, or send their HTTP request
// slowly. The daemon bounds what it buffers and how long it waits, and answers in its usual error form.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { findProcesses, postExecution, startDaemon, waitForNoProcesses, type LoggedDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/ws-client.js';

const MiB = 1024 * 1024;

// Stops reading from the client's socket: the daemon's writes pile up, first in the kernel, then in the daemon.
function pauseReading(client: RawClient): () => void {
  const socket = (client.ws as unknown as { _socket: net.Socket })._socket;
  socket.pause();
  return () => socket.resume();
}

const closeOf = (ws: WebSocket) => new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

// Sends raw bytes on a fresh connection (optionally more later through `drip`) and collects everything until close.
function rawRequest(port: number, first: string, drip?: (socket: net.Socket) => void): Promise<{ text: string; status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      socket.write(first);
      drip?.(socket);
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const bodyText = text.slice(text.indexOf('\r\n\r\n') + 4);
      let body: any = null;
      try {
        body = JSON.parse(bodyText);
      } catch {
        // left null
      }
      resolve({ text, status, body });
    });
    setTimeout(() => reject(new Error(`no answer in time; got ${JSON.stringify(Buffer.concat(chunks).toString())}`)), 15_000).unref();
  });
}

// Writes `text` one piece every intervalMs until the socket closes.
function dripEvery(intervalMs: number, text: string): (socket: net.Socket) => void {
  return (socket) => {
    const timer = setInterval(() => {
      if (socket.destroyed || !socket.writable) clearInterval(timer);
      else socket.write(text);
    }, intervalMs);
    socket.on('close', () => clearInterval(timer));
  };
}

describe('a WebSocket client that does not read', () => {
  let d: LoggedDaemon;
  before(async () => {
    d = await startDaemon({ maxOutputBytes: 32 * MiB, streamPauseBytes: MiB, maxBufferedBytes: 64 * MiB }, { logs: true });
  });
  after(() => d.close());

  test('streamed output is dropped while the client lags; the result still carries all of it', { timeout: 60_000 }, async () => {
    const client = await RawClient.connect(d.wsUrl);
    try {
      const resume = pauseReading(client);
      const pending = client.execute({ id: 'flood', runtime: 'python', code: 'import sys\nsys.stdout.write("x" * (32 * 1024 * 1024))\nset_result("done")' });
      // Give the code time to print everything while nothing is read.
      const deadline = Date.now() + 15_000;
      while (!d.logs.some((line) => /execution finished/.test(line.msg)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      resume();
      const result = await pending;
      assert.equal(result.status, 'ok');
      assert.equal(result.stdout.length, 32 * MiB, 'the result holds the whole output');
      const streamed = client.of('flood').stdout.length;
      assert.ok(streamed < 32 * MiB, `some streamed chunks were dropped (streamed ${streamed} bytes)`);
      assert.ok(result.stdout.startsWith(client.of('flood').stdout.slice(0, 1000)));
      assert.ok(d.logs.some((line) => /dropping streamed output/.test(line.msg)));
    } finally {
      client.close();
    }
  });
});

describe('a WebSocket client whose unread messages pass maxBufferedBytes', () => {
  test('is closed (1008), and its executions are cancelled', { timeout: 60_000 }, async () => {
    const d = await startDaemon({ maxOutputBytes: 4 * MiB, maxConcurrent: 4, streamPauseBytes: MiB, maxBufferedBytes: 4 * MiB }, { logs: true });
    try {
      const client = await RawClient.connect(d.wsUrl);
      const closed = closeOf(client.ws);
      const marker = `sleep ${400000 + Math.floor(Math.random() * 90000)}`;
      client.send({ type: 'execute', id: 'forever', runtime: 'python', code: `import subprocess\nsubprocess.run("${marker}".split())` });
      const resume = pauseReading(client);
      // Each result is 4 MiB; the kernel's buffers take ~10 MiB, then the daemon's own buffer passes 4 MiB.
      for (let i = 0; i < 12; i++) client.send({ type: 'execute', id: `big${i}`, runtime: 'python', code: 'import sys\nsys.stdout.write("y" * (4 * 1024 * 1024))' });
      const deadline = Date.now() + 30_000;
      while (!d.logs.some((line) => /does not read/.test(line.msg)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(d.logs.some((line) => /does not read/.test(line.msg)), 'the daemon gave up on the client');
      resume();
      const { code } = await closed;
      // 1008 when the client reads the close frame behind its backlog in time, 1006 when the daemon had to cut it.
      assert.ok(code === 1008 || code === 1006, `close code ${code}`);
      assert.ok(client.of('forever').messages.every((m) => m.type !== 'result'), 'the connection was cut before the long execution ended');
      await waitForNoProcesses(marker);
      const { body } = await postExecution(d.url, { runtime: 'node', code: 'return "still fine"' });
      assert.equal(body.result, 'still fine');
    } finally {
      await d.close();
    }
  });
});

describe('a client that cancels at once', () => {
  // Cancels land while bubblewrap is still setting the sandbox up (no warm pool): every execution must still end
  // with a result, and no process may be left. (Today a SIGKILL in that window can orphan bubblewrap's child,
  // which keeps the output pipes open: the execution never ends and the process stays.)
  test('executions cancelled while their sandbox starts end cancelled, leaving no process', { timeout: 120_000 }, async () => {
    const d = await startDaemon({ warmSandboxes: 0 });
    const client = await RawClient.connect(d.wsUrl);
    try {
      const statuses: string[] = [];
      for (let i = 0; i < 30; i++) {
        const pending = client.execute({ id: `early${i}`, runtime: i % 2 ? 'node' : 'python', code: 'print(1)' });
        await new Promise((resolve) => setTimeout(resolve, i % 15));
        client.send({ type: 'cancel', id: `early${i}` });
        const result = await Promise.race([pending, new Promise<{ status: string }>((resolve) => setTimeout(() => resolve({ status: 'no result' }), 5000))]);
        statuses.push(result.status);
      }
      assert.deepEqual(statuses.filter((status) => status !== 'cancelled' && status !== 'ok'), [], statuses.join(' '));
      await waitForNoProcesses(d.workDir);
    } finally {
      client.close();
      for (const pid of await findProcesses(d.workDir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await d.close();
    }
  });
});

describe('frames and tool results', () => {
  // One daemon for both: a tool result is a small frame, well under maxRequestBytes.
  let d: LoggedDaemon;
  before(async () => {
    d = await startDaemon({ maxRequestBytes: 4096 });
  });
  after(() => d.close());

  test('a frame over maxRequestBytes closes the connection with 1009 and cancels its executions', { timeout: 60_000 }, async () => {
    const client = await RawClient.connect(d.wsUrl);
    const marker = `sleep ${300000 + Math.floor(Math.random() * 90000)}`;
    const started = new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (client.of('long').stdout.includes('started')) {
          clearInterval(poll);
          resolve();
        }
      }, 20);
    });
    client.send({ type: 'execute', id: 'long', runtime: 'python', code: `import subprocess\nprint("started", flush=True)\nsubprocess.run("${marker}".split())` });
    await started;
    const closed = closeOf(client.ws);
    client.send({ type: 'execute', id: 'huge', runtime: 'python', code: `# ${'z'.repeat(10_000)}` });
    assert.equal((await closed).code, 1009);
    await waitForNoProcesses(marker);
  });

  test('a tool result sent twice, or after its execution ended, gets unknown_call', { timeout: 60_000 }, async () => {
    const client = await RawClient.connect(d.wsUrl);
    try {
      const tools = [{ name: 'echo', description: 'echo', parameters: { type: 'object', properties: { x: {} } } }];
      const calls: any[] = [];
      client.ws.on('message', (data) => {
        const message = JSON.parse(data.toString());
        if (message.type !== 'tool_call') return;
        calls.push(message);
        client.send({ type: 'tool_result', callId: message.callId, result: message.args.x });
        client.send({ type: 'tool_result', callId: message.callId, result: 'second answer' });
      });
      const second = client.nextError();
      const result = await client.execute({ id: 't', runtime: 'python', code: 'set_result(call_tool("echo", {"x": 7}))', tools });
      assert.equal(result.result, 7, 'the first answer counts');
      const error = await second;
      assert.equal(error.code, 'unknown_call');
      assert.equal(error.callId, calls[0].callId);
      const late = client.nextError();
      client.send({ type: 'tool_result', callId: calls[0].callId, error: { message: 'too late' } });
      assert.equal((await late).code, 'unknown_call');
    } finally {
      client.close();
    }
  });
});

describe('a WebSocket client that vanishes without closing', () => {
  test('it misses a ping and is cut off; its running execution is cancelled and cleaned up', { timeout: 60_000 }, async () => {
    const d = await startDaemon({ pingIntervalMs: 300 }, { logs: true });
    try {
      // autoPong off: this client answers pings itself until its execution runs, then goes silent with the
      // socket still open, like a client whose machine went away.
      const ghost = new WebSocket(d.wsUrl, { autoPong: false });
      let vanished = false;
      ghost.on('ping', (data) => {
        if (!vanished) ghost.pong(data);
      });
      await new Promise((resolve, reject) => ghost.once('open', resolve).once('error', reject));
      const marker = `sleep ${200000 + Math.floor(Math.random() * 90000)}`;
      ghost.send(JSON.stringify({ type: 'execute', id: 'orphan', runtime: 'python', code: `import subprocess\nsubprocess.run("${marker}".split())`, timeoutMs: 60_000 }));
      const closed = new Promise<number>((resolve) => ghost.once('close', (code) => resolve(code)));
      for (let i = 0; i < 400 && (await findProcesses(marker)).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok((await findProcesses(marker)).length > 0, 'the execution started');
      vanished = true;
      const code = await closed;
      assert.equal(code, 1006, 'cut off without a close handshake');
      await waitForNoProcesses(marker, 10_000);
      const answered = await RawClient.connect(d.wsUrl);
      try {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const result = await answered.execute({ id: 'alive', runtime: 'python', code: 'set_result("still serving")' });
        assert.equal(result.result, 'still serving', 'a client that answers pings (ws does by default) stays connected');
      } finally {
        answered.close();
      }
    } finally {
      await d.close();
    }
  });
});

// Independent requests on connections of their own, mostly waiting out timeouts: they run side by side.
describe('slow HTTP clients', { concurrency: true }, () => {
  let d: LoggedDaemon;
  let port: number;
  before(async () => {
    d = await startDaemon({ headersTimeoutMs: 600, requestTimeoutMs: 1500 }, { logs: true });
    port = Number(new URL(d.url).port);
  });
  after(() => d.close());

  test('headers dripped slower than headersTimeoutMs: 408 request_timeout, connection closed', { timeout: 60_000 }, async () => {
    const started = Date.now();
    const answer = await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: runbox\r\n', dripEvery(100, 'X-Slow: 1\r\n'));
    assert.equal(answer.status, 408, answer.text);
    assert.equal(answer.body.error.code, 'request_timeout');
    assert.ok(Date.now() - started < 5000);
  });

  test('a body dripped slower than requestTimeoutMs: 408 request_timeout', { timeout: 60_000 }, async () => {
    const head = 'POST /v1/executions HTTP/1.1\r\nHost: runbox\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"runtime":"python","code":"';
    const answer = await rawRequest(port, head, dripEvery(100, 'x'));
    assert.equal(answer.status, 408, answer.text);
    assert.equal(answer.body.error.code, 'request_timeout');
  });

  test('an execution that runs longer than requestTimeoutMs is not cut, over HTTP or WebSocket', { timeout: 60_000 }, async () => {
    const code = 'import time\ntime.sleep(2.5)\nset_result("slow but fine")';
    const client = await RawClient.connect(d.wsUrl);
    try {
      const [http, ws] = await Promise.all([postExecution(d.url, { runtime: 'python', code }), client.execute({ id: 'slow', runtime: 'python', code })]);
      assert.equal(http.body.result, 'slow but fine');
      assert.equal(ws.result, 'slow but fine');
    } finally {
      client.close();
    }
  });

  test('request targets that are not URLs, or name Object.prototype members, are 404s (plain and upgrade)', { timeout: 60_000 }, async () => {
    for (const target of ['http://[', '//x:99999999/', '/constructor', '/__proto__', '/toString']) {
      for (const upgrade of ['', 'Connection: upgrade\r\nUpgrade: websocket\r\n']) {
        const answer = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: runbox\r\nConnection: close\r\n${upgrade}\r\n`);
        assert.equal(answer.status, 404, `${target} ${upgrade}: ${answer.text}`);
        assert.equal(answer.body.error.code, 'not_found');
      }
    }
    assert.equal((await fetch(`${d.url}/healthz`)).status, 200, 'the daemon is still up');
  });

  test('oversized headers: 431 headers_too_large; garbage: 400 invalid_request, both as JSON', { timeout: 60_000 }, async () => {
    const big = await rawRequest(port, `GET /healthz HTTP/1.1\r\nHost: runbox\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    assert.equal(big.status, 431, big.text.slice(0, 200));
    assert.equal(big.body.error.code, 'headers_too_large');
    const garbage = await rawRequest(port, 'HELLO\x00THERE\r\n\r\n');
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.error.code, 'invalid_request');
    const badLength = await rawRequest(port, 'POST /v1/executions HTTP/1.1\r\nHost: runbox\r\nContent-Length: -5\r\n\r\n');
    assert.equal(badLength.status, 400);
    assert.equal(badLength.body.error.code, 'invalid_request');
    for (const request of ['GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', 'CONNECT runbox:443 HTTP/1.1\r\nHost: runbox\r\n\r\n', 'GET /v1/ws HTTP/1.1\r\nHost: runbox\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n']) {
      const answer = await rawRequest(port, request);
      assert.ok(answer.status === 400 || answer.status === 405, `${JSON.stringify(request)}: ${answer.text}`);
      assert.ok(['invalid_request', 'method_not_allowed'].includes(answer.body.error.code), answer.text);
    }
  });
});
