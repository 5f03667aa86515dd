// The daemon's end of a bridge, as the code in a sandbox could treat it: a real bridge server on a real Unix socket,
// real `ws` clients and raw sockets. One main connection with the right token; side connections only after it, with
// the token, at most PROTOCOL.maxSideConnections at once; every refused connection charged; sockets past the few a
// prelude needs destroyed as they are accepted; and whatever is refused never reaches the handlers as a message.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { Bridge, MAX_OPEN_SOCKETS, MAX_SIDE_CONNECTIONS, type BridgeHandlers } from '../../daemon/bridge/server.js';
import type { BridgeInbound } from '../../daemon/bridge/messages.js';
import { PROTOCOL } from '../../daemon/protocol.js';

const TOKEN = 'bridge-token-0123456789';
let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-bridge-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

interface Recorded extends BridgeHandlers {
  connects: number;
  messages: BridgeInbound[];
  problems: string[];
  limits: string[];
}

function recorder(): Recorded {
  const seen = { connects: 0, messages: [] as BridgeInbound[], problems: [] as string[], limits: [] as string[] };
  return Object.assign(seen, {
    onConnect: () => void (seen.connects += 1),
    onMessage: (message: BridgeInbound) => void seen.messages.push(message),
    onProtocolError: (problem: string) => void seen.problems.push(problem),
    onLimit: (problem: string) => void seen.limits.push(problem),
  });
}

let seq = 0;
async function openBridge(handlers: BridgeHandlers, overrides: { maxMessageBytes?: number; maxRefusedConnections?: number } = {}): Promise<{ bridge: Bridge; socketPath: string }> {
  const socketPath = path.join(dir, `b${seq++}.sock`);
  const bridge = await Bridge.open(
    { socketPath, token: TOKEN, maxMessageBytes: overrides.maxMessageBytes ?? 64 * 1024, budget: { maxInboundBytes: 1 << 30, maxMessages: 10_000, maxRefusedConnections: overrides.maxRefusedConnections ?? 1000 } },
    handlers,
  );
  return { bridge, socketPath };
}

// A WebSocket client on the bridge's socket; resolves once open, or with the HTTP status it was refused with.
function connect(socketPath: string, requestPath: string, token: string | null): Promise<{ ws: WebSocket } | { refused: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws+unix:${socketPath}:${requestPath}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ refused: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on('error', () => resolve({ refused: -1 }));
  });
}

async function mustOpen(socketPath: string, requestPath = '/bridge', token: string | null = TOKEN): Promise<WebSocket> {
  const answer = await connect(socketPath, requestPath, token);
  assert.ok('ws' in answer, `${requestPath} was refused with ${'refused' in answer ? answer.refused : ''}`);
  return answer.ws;
}

// Like mustOpen, retried for a moment: the bridge frees a place when it sees the socket that held it close.
async function openSoon(socketPath: string, requestPath = '/bridge'): Promise<WebSocket> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const answer = await connect(socketPath, requestPath, TOKEN);
    if ('ws' in answer) return answer.ws;
    if (Date.now() > deadline) throw new Error(`${requestPath} still refused (${answer.refused})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitUntil(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const nextMessage = (ws: WebSocket) => new Promise<any>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))));

test('the socket is the sandbox\'s alone: mode 0600', async () => {
  const { bridge, socketPath } = await openBridge(recorder());
  try {
    assert.equal((await fs.stat(socketPath)).mode & 0o777, 0o600);
  } finally {
    await bridge.close();
  }
});

test('a wrong or missing token, a wrong path and a second main connection are refused with 401 and charged', async () => {
  const seen = recorder();
  const { bridge, socketPath } = await openBridge(seen, { maxRefusedConnections: 5 });
  try {
    assert.deepEqual(await connect(socketPath, '/bridge', 'wrong-token-0123456789'), { refused: 401 });
    assert.deepEqual(await connect(socketPath, '/bridge', null), { refused: 401 });
    assert.deepEqual(await connect(socketPath, '/bridge', TOKEN.slice(0, -1)), { refused: 401 }, 'a prefix of the token');
    assert.deepEqual(await connect(socketPath, '/other', TOKEN), { refused: 401 });
    assert.deepEqual(await connect(socketPath, PROTOCOL.sideConnectionPath, TOKEN), { refused: 401 }, 'no side connection before the main one');
    assert.equal(seen.connects, 0);
    const main = await mustOpen(socketPath);
    await waitUntil('the main connection is reported', () => seen.connects === 1);
    assert.deepEqual(await connect(socketPath, '/bridge', TOKEN), { refused: 401 }, 'the main connection is taken');
    // That was the sixth refusal, one past maxRefusedConnections (5): the execution is cut off, its bridge closed.
    await waitUntil('the refusals are counted', () => seen.limits.length > 0);
    assert.deepEqual(seen.limits, ['the code sent its bridge more than maxBridgeRefusedConnections (5) connections that were refused; the execution was cut off']);
    await waitUntil('the main connection is closed with the bridge', () => main.readyState === WebSocket.CLOSED);
    assert.deepEqual(seen.messages, []);
    assert.deepEqual(seen.problems, []);
  } finally {
    await bridge.close();
  }
});

test('handshakes that never become a WebSocket: plain HTTP gets 426, garbage and silence are cut, each charged', async () => {
  const seen = recorder();
  const { bridge, socketPath } = await openBridge(seen, { maxRefusedConnections: 2 });
  try {
    const plain = await fetchOverUnix(socketPath, 'GET /bridge HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(plain, /^HTTP\/1\.1 426 /);
    const garbage = await fetchOverUnix(socketPath, '\u0000\u0001 not http at all\r\n\r\n');
    assert.equal(garbage, '', 'a broken request is destroyed without an answer');
    assert.deepEqual(seen.limits, []);
    await fetchOverUnix(socketPath, ''); // connects, sends nothing, closes: the third refusal
    await waitUntil('the third refusal cuts the execution off', () => seen.limits.length === 1);
    assert.match(seen.limits[0], /maxBridgeRefusedConnections \(2\)/);
  } finally {
    await bridge.close();
  }
});

test(`sockets past ${MAX_OPEN_SOCKETS} open at once are destroyed as they are accepted`, async () => {
  const seen = recorder();
  const { bridge, socketPath } = await openBridge(seen);
  const held: net.Socket[] = [];
  try {
    for (let i = 0; i < MAX_OPEN_SOCKETS + 3; i++) {
      const socket = net.connect(socketPath);
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      held.push(socket);
    }
    const closed = await Promise.all(held.map((socket) => new Promise<boolean>((resolve) => {
      if (socket.destroyed) return resolve(true);
      socket.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 1000);
    })));
    assert.equal(closed.filter(Boolean).length, 3, 'the three over the limit were closed by the bridge, the others are open');
    // The held ones block even the real prelude: a bridge admits no more than a prelude needs.
    assert.deepEqual(await connect(socketPath, '/bridge', TOKEN), { refused: -1 });
    for (const socket of held) socket.destroy();
    const main = await openSoon(socketPath);
    main.close();
  } finally {
    for (const socket of held) socket.destroy();
    await bridge.close();
  }
});

test('side connections: only after the main one, with the token, a few at once; tool calls only, answered on their own connection', async () => {
  const seen = recorder();
  const { bridge, socketPath } = await openBridge(seen);
  try {
    const main = await mustOpen(socketPath);
    assert.deepEqual(await connect(socketPath, PROTOCOL.sideConnectionPath, 'wrong-token-0123456789'), { refused: 401 });
    const sides: WebSocket[] = [];
    for (let i = 0; i < MAX_SIDE_CONNECTIONS; i++) sides.push(await mustOpen(socketPath, PROTOCOL.sideConnectionPath));
    // Refused with 401, or destroyed at once if the bridge has not yet seen the wrong-token socket close.
    assert.ok('refused' in (await connect(socketPath, PROTOCOL.sideConnectionPath, TOKEN)), `no more than ${MAX_SIDE_CONNECTIONS} at once`);

    // A call on a side connection is relabelled, and its answer goes back there with the prelude's own id.
    sides[0].send(JSON.stringify({ type: 'tool_call', callId: '1', name: 'echo', args: { a: 1 } }));
    main.send(JSON.stringify({ type: 'tool_call', callId: '1', name: 'echo', args: { b: 2 } }));
    await waitUntil('both calls arrive', () => seen.messages.length === 2);
    const calls = seen.messages.map((message) => (message.type === 'tool_call' ? message.callId : message.type)).sort();
    assert.deepEqual(calls, ['1', 'side1:1']);
    const sideAnswer = nextMessage(sides[0]);
    const mainAnswer = nextMessage(main);
    bridge.send({ type: 'tool_result', callId: 'side1:1', result: 'to the side' });
    bridge.send({ type: 'tool_result', callId: '1', result: 'to the main' });
    assert.deepEqual(await sideAnswer, { type: 'tool_result', callId: '1', result: 'to the side' });
    assert.deepEqual(await mainAnswer, { type: 'tool_result', callId: '1', result: 'to the main' });

    // Anything but a tool call on a side connection is a protocol error and never a message: a forged done above all.
    sides[1].send(JSON.stringify({ type: 'done', result: 'forged', files: [], error: null }));
    sides[1].send('not json');
    await waitUntil('both are reported', () => seen.problems.length === 2);
    assert.deepEqual(seen.problems, ['side connection: only tool calls may be sent on it', 'side connection: bridge message is not a JSON object']);
    assert.equal(seen.messages.length, 2);
    // A side connection that closes frees its place.
    const closing = sides.pop()!;
    closing.close();
    await new Promise((resolve) => closing.once('close', resolve));
    sides.push(await openSoon(socketPath, PROTOCOL.sideConnectionPath));
    for (const side of sides) side.close();
    main.close();
  } finally {
    await bridge.close();
  }
});

test('messages sent before the prelude connects wait for it; a message over maxMessageBytes and a binary frame are protocol errors', async () => {
  const seen = recorder();
  const { bridge, socketPath } = await openBridge(seen, { maxMessageBytes: 4096 });
  try {
    bridge.send({ type: 'preload', modules: ['json'] });
    bridge.send({ type: 'run', code: 'print(1)', tools: [] });
    const main = new WebSocket(`ws+unix:${socketPath}:/bridge`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const received: unknown[] = [];
    main.on('message', (data) => received.push(JSON.parse(String(data))));
    await new Promise((resolve) => main.once('open', resolve));
    await waitUntil('the queued messages arrive', () => received.length === 2);
    assert.deepEqual(received, [{ type: 'preload', modules: ['json'] }, { type: 'run', code: 'print(1)', tools: [] }]);

    main.send(Buffer.from([1, 2, 3]), { binary: true });
    await waitUntil('the binary frame is reported', () => seen.problems.length === 1);
    assert.deepEqual(seen.problems, ['binary frame on the bridge; expected JSON text']);
    main.send(JSON.stringify({ type: 'tool_call', callId: '1', name: 'echo', args: 'x'.repeat(5000) }));
    await waitUntil('the oversized message is reported', () => seen.problems.length === 2);
    assert.equal(seen.problems[1], 'a message from the code exceeded maxBridgeMessageBytes (4096 bytes)');
    await waitUntil('ws closes that connection (1009)', () => main.readyState === WebSocket.CLOSED);
    assert.deepEqual(seen.messages, []);
  } finally {
    await bridge.close();
  }
});

test('a message past the message budget closes the bridge and cuts the execution off once', async () => {
  const seen = recorder();
  const socketPath = path.join(dir, `b${seq++}.sock`);
  const bridge = await Bridge.open({ socketPath, token: TOKEN, maxMessageBytes: 64 * 1024, budget: { maxInboundBytes: 1000, maxMessages: 3, maxRefusedConnections: 10 } }, seen);
  try {
    const main = await mustOpen(socketPath);
    for (let i = 0; i < 5; i++) main.send(JSON.stringify({ type: 'tool_call', callId: String(i), name: 'echo' }));
    await waitUntil('the bridge closes', () => main.readyState === WebSocket.CLOSED);
    assert.equal(seen.messages.length, 3, 'the messages within the budget were handled');
    assert.deepEqual(seen.limits, ['the code sent its bridge more than maxBridgeMessages (3 messages); the execution was cut off']);
    assert.deepEqual(await connect(socketPath, '/bridge', TOKEN), { refused: -1 }, 'and nothing listens any more');
  } finally {
    await bridge.close();
  }
});

// Writes raw bytes on a new connection to the socket, half-closes it and returns whatever came back.
function fetchOverUnix(socketPath: string, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    const chunks: Buffer[] = [];
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('connect', () => socket.end(text));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

test('a report sent while the bridge rests is read when the sandbox has exited (drain), not lost with the result', async () => {
  const seen = recorder();
  // A daemon this busy: the first message takes 600 ms of the main thread, past the bridge's burst, so the bridge
  // rests (is not read) for 3.5 s after it, longer than drain waits: only a drain that reads at once sees the report.
  const slow = { ...seen, onMessage: (message: BridgeInbound) => {
    if (seen.messages.length === 0) for (const end = performance.now() + 600; performance.now() < end;);
    seen.onMessage(message);
  } };
  const { bridge, socketPath } = await openBridge(slow);
  try {
    const main = await mustOpen(socketPath);
    main.send(JSON.stringify({ type: 'tool_call', callId: '1', name: 'echo' }));
    await waitUntil('the first message is handled', () => seen.messages.length === 1);
    // The code reports and exits (its socket closed by the kernel) while the bridge rests.
    main.send(JSON.stringify({ type: 'done', result: 42, files: [], error: null, exitCode: 0 }), () => main.terminate());
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(seen.messages.length, 1, 'the bridge rests: the report is not read yet');
    await bridge.drain();
    assert.deepEqual(seen.messages.map((message) => message.type), ['tool_call', 'done']);
    const done = seen.messages[1];
    assert.ok(done.type === 'done');
    assert.deepEqual(done.read(), { value: { result: 42, files: [], error: null, exitCode: 0 } });
  } finally {
    await bridge.close();
  }
});
