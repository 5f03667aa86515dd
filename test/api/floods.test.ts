// Floods against the daemon's descriptors and main thread, from inside a sandbox (thousands of connections to its
// bridge socket; raw frames written onto it: too deep, too many, too large) and from outside without a token
// (hundreds of held TCP connections sending partial headers, from several addresses), each while another client
// runs trivial executions that must keep answering ok. Loopback only; counts kept moderate, budgets lowered.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { postExecution, startDaemon, type LoggedDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/ws-client.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const openDescriptors = () => fs.readdirSync('/proc/self/fd').length;

// Python: a masked (zero key) text frame, and the descriptor of the prelude's bridge connection.
const PY_RAW = [
  'import os, socket, struct, sys',
  'def frame(payload):',
  '    n = len(payload)',
  '    head = bytes([0x81, 0x80 | n]) if n < 126 else (b"\\x81\\xfe" + struct.pack(">H", n) if n < 65536 else b"\\x81\\xff" + struct.pack(">Q", n))',
  '    return head + b"\\x00\\x00\\x00\\x00" + payload',
  'fd = next(int(f) for f in os.listdir("/proc/self/fd") if int(f) > 2 and os.readlink(f"/proc/self/fd/{f}").startswith("socket:"))',
  'bridge = socket.socket(fileno=os.dup(fd))',
].join('\n');

// Runs trivial executions one after another (as a second client over HTTP) until `until` settles; their answers.
async function trivialWhile(url: string, until: Promise<unknown>): Promise<string[]> {
  let over = false;
  void until.finally(() => (over = true));
  const answers: string[] = [];
  while (!over || answers.length < 3) {
    const { status, body } = await postExecution(url, { runtime: 'python', code: 'set_result(1)' });
    answers.push(status === 200 && body.status === 'ok' && body.result === 1 ? 'ok' : `${status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  return answers;
}

describe('from inside: the bridge', () => {
  let d: LoggedDaemon;
  before(async () => {
    d = await startDaemon({ maxConcurrent: 4, maxToolCalls: 10, maxBridgeMessages: 50, maxBridgeMessageBytes: MiB, maxBridgeInboundBytes: 4 * MiB }, { logs: true });
  });
  after(() => d.close());

  test('thousands of connections to its bridge socket from 4 processes: refused at once, the execution cut off with BridgeLimit, others fine', { timeout: 120_000 }, async () => {
    const baseline = openDescriptors();
    let peak = baseline;
    const watch = setInterval(() => (peak = Math.max(peak, openDescriptors())), 5);
    const code = [
      'import os, socket',
      'print("flooding", flush=True)',
      'for child in range(4):',
      '    if os.fork() == 0:',
      '        held = []',
      '        for i in range(900):',
      '            s = socket.socket(socket.AF_UNIX)',
      '            try:',
      '                s.connect("/run/runbox/bridge.sock")',
      '            except OSError:',
      '                pass',
      '            held.append(s)',
      '        os._exit(0)',
      'for child in range(4):',
      '    os.wait()',
      'import time; time.sleep(30)',
    ].join('\n');
    const flood = postExecution(d.url, { runtime: 'python', code, timeoutMs: 60_000 });
    const answers = await trivialWhile(d.url, flood);
    clearInterval(watch);
    const { body } = await flood;
    assert.equal(body.status, 'killed', JSON.stringify(body).slice(0, 500));
    assert.equal(body.error.type, 'BridgeLimit');
    assert.match(body.error.message, /more than maxBridgeRefusedConnections \(100\) connections that were refused/);
    assert.equal(body.stdout, 'flooding\n');
    assert.deepEqual(answers.filter((a) => a !== 'ok'), []);
    // The daemon (this process) held no more than a few descriptors more for the 3,600 attempts.
    assert.ok(peak - baseline < 200, `descriptors: ${baseline} before, ${peak} at the peak`);
  });

  test('a forged done nested 100,000 deep: a BridgeError of that execution, its stdout kept, never a 500', async () => {
    const code = [
      PY_RAW,
      'print("before", flush=True)',
      'bridge.sendall(frame(b\'{"type":"done","result":\' + b"[" * 100000 + b"]" * 100000 + b\',"files":[],"error":null}\'))',
      'os._exit(0)',
    ].join('\n');
    const { status, body } = await postExecution(d.url, { runtime: 'python', code });
    assert.equal(status, 200);
    assert.equal(body.status, 'error', JSON.stringify(body).slice(0, 500));
    assert.equal(body.error.type, 'BridgeError');
    assert.match(body.error.message, /nested more than 200 levels deep/);
    assert.equal(body.stdout, 'before\n');
    assert.equal(body.result, null);
    assert.equal((await postExecution(d.url, { runtime: 'python', code: 'set_result(2)' })).body.result, 2);
  });

  test('tool-call arguments nested 2,000 deep are refused to the code and never reach the client', async () => {
    const client = await RawClient.connect(d.wsUrl);
    client.handlers = { echo: (args) => args };
    try {
      const code = [
        'import json, os, socket, struct',
        // The token, as hostile code finds it: in the prelude's frames below its own (its environment no longer has it).
        'import sys\nf = sys._getframe()\nwhile "token" not in f.f_locals: f = f.f_back\ntoken = f.f_locals["token"]',
        's = socket.socket(socket.AF_UNIX)',
        's.connect("/run/runbox/bridge.sock")',
        's.sendall(("GET /bridge/side HTTP/1.1\\r\\nHost: runbox\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"',
        '           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\nAuthorization: Bearer " + token + "\\r\\n\\r\\n").encode())',
        'data = b""',
        'while b"\\r\\n\\r\\n" not in data: data += s.recv(4096)',
        'head, data = data.split(b"\\r\\n\\r\\n", 1)',
        'payload = b\'{"type":"tool_call","callId":"d1","name":"echo","args":\' + b"[" * 2000 + b"]" * 2000 + b"}"',
        's.sendall(b"\\x81\\xfe" + struct.pack(">H", len(payload)) + b"\\x00\\x00\\x00\\x00" + payload)',
        'while len(data) < 2: data += s.recv(4096)',
        'n, start = data[1] & 0x7f, 2',
        'if n == 126:',
        '    while len(data) < 4: data += s.recv(4096)',
        '    n, start = struct.unpack(">H", data[2:4])[0], 4',
        'while len(data) < start + n: data += s.recv(4096)',
        'answer = json.loads(data[start:start + n])',
        'set_result({"upgrade": head.split(b"\\r\\n")[0].decode(), "answer": answer, "shallow": call_tool("echo", {"x": [[1]]})})',
      ].join('\n');
      const tools = [{ name: 'echo', description: 'echo', parameters: { type: 'object', properties: { x: {} } } }];
      const result = await client.execute({ id: 'deep-args', runtime: 'python', code, tools });
      assert.equal(result.status, 'ok', JSON.stringify(result).slice(0, 800));
      assert.match(result.result.upgrade, /^HTTP\/1\.1 101/);
      assert.equal(result.result.answer.callId, 'd1');
      assert.equal(result.result.answer.error.code, 'limit_exceeded');
      assert.match(result.result.answer.error.message, /arguments of echo are nested more than 200 levels deep/);
      assert.deepEqual(result.result.shallow, { x: [[1]] });
      // Only the shallow call reached the client.
      assert.deepEqual(client.of('deep-args').toolCalls.map((call) => call.args), [{ x: [[1]] }]);
    } finally {
      client.close();
    }
  });

  test('frames past maxBridgeInboundBytes, or past maxBridgeMessages, cut the execution off with BridgeLimit naming the budget', { timeout: 60_000 }, async () => {
    const big = [
      PY_RAW,
      'print("flooding", flush=True)',
      'chunk = frame(b\'{"type":"noise","pad":"\' + b"x" * (512 * 1024) + b\'"}\')',
      'while True: bridge.sendall(chunk)',
    ].join('\n');
    const many = [PY_RAW, 'print("flooding", flush=True)', 'small = frame(b\'{"type":"noise"}\')', 'while True: bridge.sendall(small)'].join('\n');
    const flooding = Promise.all([postExecution(d.url, { runtime: 'python', code: big, timeoutMs: 30_000 }), postExecution(d.url, { runtime: 'python', code: many, timeoutMs: 30_000 })]);
    const answers = await trivialWhile(d.url, flooding);
    const [bytes, messages] = (await flooding).map((r) => r.body);
    for (const body of [bytes, messages]) {
      assert.equal(body.status, 'killed', JSON.stringify(body).slice(0, 500));
      assert.equal(body.error.type, 'BridgeLimit');
      assert.equal(body.stdout, 'flooding\n');
    }
    assert.match(bytes.error.message, /more than maxBridgeInboundBytes \(4194304 bytes\)/);
    assert.match(messages.error.message, /more than maxBridgeMessages \(50 messages\)/);
    assert.deepEqual(answers.filter((a) => a !== 'ok'), []);
  });
});

test('the default budgets leave room for 1,000 gathered tool calls and a 10,000-call limit', { timeout: 120_000 }, async () => {
  const d = await startDaemon({ maxConcurrent: 2 }, { logs: true });
  const client = await RawClient.connect(d.wsUrl);
  client.handlers = { echo: (args) => args };
  try {
    const code = 'import asyncio\nanswers = await asyncio.gather(*[echo(i=i) for i in range(1000)])\nset_result(sum(a["i"] for a in answers))';
    const tools = [{ name: 'echo', description: 'echo', parameters: { type: 'object', properties: { i: { type: 'integer' } } } }];
    const result = await client.execute({ id: 'gathered', runtime: 'python', code, tools, timeoutMs: 60_000 });
    assert.equal(result.status, 'ok', JSON.stringify(result.error));
    assert.equal(result.result, (999 * 1000) / 2);
    assert.ok(d.config.maxBridgeMessages > d.config.maxToolCalls);
  } finally {
    client.close();
    await d.close();
  }
});

describe('from outside, without a token: held connections sending partial headers', () => {
  let d: LoggedDaemon;
  let port: number;
  before(async () => {
    d = await startDaemon({ token: 's3cret', maxConcurrent: 2, maxConnections: 300, maxConnectionsPerAddress: 100, headersTimeoutMs: 1000, requestTimeoutMs: 5000 }, { logs: true });
    port = Number(new URL(d.url).port);
  });
  after(() => d.close());

  // Opens `count` connections from localAddress that send the start of a request and then nothing.
  // Each resolves, once the daemon has closed it, with what it was answered ('' for nothing).
  function hold(localAddress: string, count: number): Array<{ socket: net.Socket; closed: Promise<string> }> {
    return Array.from({ length: count }, () => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress });
      let answer = '';
      socket.on('error', () => undefined);
      socket.on('connect', () => socket.write('POST /v1/executions HTTP/1.1\r\nHost: runbox\r\nContent-Type: applic'));
      socket.on('data', (chunk) => (answer += chunk));
      return { socket, closed: new Promise<string>((resolve) => socket.on('close', () => resolve(answer))) };
    });
  }

  test('past the per-address cap they are closed at once, past the total the oldest make room, the rest are cut after the header timeout; another client is fine', { timeout: 120_000 }, async () => {
    const auth = { authorization: 'Bearer s3cret' };
    const flooders = [...hold('127.0.0.2', 400), ...['127.0.0.3', '127.0.0.4', '127.0.0.5'].flatMap((address) => hold(address, 100))];
    await sleep(300);
    const answers: string[] = [];
    const deadline = performance.now() + 3000;
    while (performance.now() < deadline) {
      const { status, body } = await postExecution(d.url, { runtime: 'python', code: 'set_result(1)' }, auth);
      answers.push(status === 200 && body.result === 1 ? 'ok' : `${status} ${JSON.stringify(body)}`);
    }
    assert.deepEqual(answers.filter((a) => a !== 'ok'), []);
    assert.ok(answers.length >= 3);
    // Every flooder is closed by the daemon: none is held past the header timeout and its grace.
    const answers408 = await Promise.all(flooders.map((f) => f.closed));
    // 300 of 127.0.0.2's were over its cap: closed as they arrived, unanswered (the others got their 408).
    const unanswered = answers408.slice(0, 400).filter((answer) => answer === '').length;
    assert.ok(unanswered >= 300, `${unanswered} of 127.0.0.2's 400 were closed unanswered`);
    for (const answer of answers408.filter((a) => a !== '')) assert.match(answer, /^HTTP\/1\.1 408 .*request_timeout/s);
    const counts = d.logs.filter((line) => /client connections refused or cut/.test(line.msg));
    assert.ok(counts.length > 0, 'the refusals are logged (rate-limited)');
    for (const f of flooders) f.socket.destroy();
    const health = await fetch(`${d.url}/healthz`, { headers: auth });
    assert.equal(health.status, 200);
  });
});
