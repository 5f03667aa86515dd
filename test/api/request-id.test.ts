// Every answer carries x-request-id: successes, every error (404, 401, 405, 413, 408, 431, malformed requests),
// refused upgrades and the WebSocket 101. A well-formed client id is echoed, a hostile one replaced, and the id
// is in the log lines of the request's executions. The SDK's errors carry the daemon's id.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { RunboxAPIError, RunboxClient } from 'runbox/sdk';
import { startDaemon, type LoggedDaemon } from '../helpers/daemon.js';

const TOKEN = 'sesame-request-id';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let d: LoggedDaemon;
let port: number;
before(async () => {
  d = await startDaemon({ token: TOKEN, maxRequestBytes: 4096, headersTimeoutMs: 1000, requestTimeoutMs: 60_000 }, { logs: true });
  port = Number(new URL(d.url).port);
});
after(() => d.close());

// Sends raw bytes on a new connection and returns everything the daemon answers before it closes.
async function rawExchange(text: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  socket.write(text);
  await new Promise((resolve) => socket.once('close', resolve));
  return Buffer.concat(chunks).toString('latin1');
}

// The status and x-request-id of a raw HTTP answer.
function parseRaw(answer: string): { status: number; requestId: string | undefined } {
  const [head] = answer.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const requestId = /^x-request-id: (.*)$/im.exec(head)?.[1];
  return { status, requestId };
}

async function get(path: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(`${d.url}${path}`, init);
  await response.arrayBuffer();
  return response;
}

const upgradeRequest = (path: string, headers: string) =>
  `GET ${path} HTTP/1.1\r\nHost: runbox\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`;
const WS_KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

describe('x-request-id on every HTTP answer', () => {
  test('200, 404, 401 and 405 each carry a fresh id', async () => {
    const answers = [
      [await get('/healthz', { headers: AUTH }), 200],
      [await get('/nope', { headers: AUTH }), 404],
      [await get('/v1/runtimes'), 401],
      [await get('/healthz', { method: 'DELETE', headers: AUTH }), 405],
    ] as const;
    const ids = new Set<string>();
    for (const [response, status] of answers) {
      assert.equal(response.status, status);
      const id = response.headers.get('x-request-id') ?? '';
      assert.match(id, UUID, `${status}`);
      ids.add(id);
    }
    assert.equal(ids.size, answers.length, 'each answer has its own id');
  });

  test('413: a body over maxRequestBytes', async () => {
    const response = await get('/v1/executions', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json', 'x-request-id': 'big-body-1' }, body: 'x'.repeat(8192) });
    assert.equal(response.status, 413);
    assert.equal(response.headers.get('x-request-id'), 'big-body-1');
  });

  test('a well-formed client id is echoed; a hostile one (too long, spaces, a folded line) is replaced', async () => {
    const good = 'client-42_trace:a.b';
    assert.equal((await get('/healthz', { headers: { ...AUTH, 'x-request-id': good } })).headers.get('x-request-id'), good);
    for (const bad of ['x'.repeat(129), 'two words', 'a,b c']) {
      const id = (await get('/healthz', { headers: { ...AUTH, 'x-request-id': bad } })).headers.get('x-request-id') ?? '';
      assert.match(id, UUID, JSON.stringify(bad));
    }
    // A newline cannot be sent in a header value except as an obsolete folded line: refused or replaced, never echoed.
    const folded = parseRaw(await rawExchange(`GET /healthz HTTP/1.1\r\nHost: runbox\r\nAuthorization: Bearer ${TOKEN}\r\nx-request-id: evil\r\n injected: 1\r\nConnection: close\r\n\r\n`));
    assert.match(folded.requestId ?? '', UUID);
  });

  test('malformed HTTP (400), headers too large (431) and headers too slow (408) carry an id', async () => {
    const malformed = parseRaw(await rawExchange('GARBAGE\r\n\r\n'));
    assert.equal(malformed.status, 400);
    assert.match(malformed.requestId ?? '', UUID);
    const large = parseRaw(await rawExchange(`GET /healthz HTTP/1.1\r\nHost: runbox\r\nx-big: ${'y'.repeat(20_000)}\r\n\r\n`));
    assert.equal(large.status, 431);
    assert.match(large.requestId ?? '', UUID);
    const slow = parseRaw(await rawExchange('GET /healthz HTTP/1.1\r\nHost: runbox\r\n'));
    assert.equal(slow.status, 408);
    assert.match(slow.requestId ?? '', UUID);
  });

  test('CONNECT and an unsupported Expect are answered with an id', async () => {
    const connect = parseRaw(await rawExchange('CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\nx-request-id: tunnel-1\r\n\r\n'));
    assert.equal(connect.status, 405);
    assert.equal(connect.requestId, 'tunnel-1');
    const expect = await rawExchange(`POST /v1/executions HTTP/1.1\r\nHost: runbox\r\nAuthorization: Bearer ${TOKEN}\r\nExpect: 200-ok\r\nx-request-id: expect-1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    assert.equal(parseRaw(expect).status, 400);
    assert.equal(parseRaw(expect).requestId, 'expect-1');
  });
});

describe('x-request-id on WebSocket upgrades', () => {
  test('refused upgrades (401, 404, a broken handshake) carry the id', async () => {
    const unauthorized = parseRaw(await rawExchange(upgradeRequest('/v1/ws', `${WS_KEY}x-request-id: up-401\r\n`)));
    assert.deepEqual(unauthorized, { status: 401, requestId: 'up-401' });
    const notFound = parseRaw(await rawExchange(upgradeRequest('/v1/nowhere', `${WS_KEY}Authorization: Bearer ${TOKEN}\r\n`)));
    assert.equal(notFound.status, 404);
    assert.match(notFound.requestId ?? '', UUID);
    const broken = parseRaw(await rawExchange(upgradeRequest('/v1/ws', `Authorization: Bearer ${TOKEN}\r\nx-request-id: up-broken\r\n`)));
    assert.deepEqual(broken, { status: 400, requestId: 'up-broken' });
  });

  test('the 101 answer carries the id, and the connection\'s executions log with it', async () => {
    const ws = new WebSocket(d.wsUrl, { headers: { ...AUTH, 'x-request-id': 'ws-conn-1' } });
    const upgraded = new Promise<string | undefined>((resolve) => ws.once('upgrade', (response) => resolve(response.headers['x-request-id'] as string | undefined)));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    assert.equal(await upgraded, 'ws-conn-1');
    const result = new Promise<any>((resolve) => ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'result') resolve(message);
    }));
    ws.send(JSON.stringify({ type: 'execute', id: 'e1', runtime: 'node', code: 'return 7' }));
    assert.equal((await result).result, 7);
    ws.close();
    const finished = d.logs.find((line) => line.msg === 'execution finished' && line.requestId === 'ws-conn-1');
    assert.ok(finished, 'the execution\'s log line carries the upgrade\'s request id');
  });
});

describe('request ids in the log and in SDK errors', () => {
  test('an execution over HTTP logs with its request\'s id; a hostile id never reaches the log', async () => {
    const post = (id: string) => fetch(`${d.url}/v1/executions`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify({ runtime: 'python', code: 'print(1)' }),
    }).then(async (response) => ({ id: response.headers.get('x-request-id'), body: await response.json() }));
    const good = await post('http-exec-7');
    assert.equal(good.body.status, 'ok');
    assert.equal(good.id, 'http-exec-7');
    const line = d.logs.find((entry) => entry.msg === 'execution finished' && entry.requestId === 'http-exec-7');
    assert.ok(line, 'the execution\'s log line carries the request id');
    assert.equal(line.route, '/v1/executions');
    assert.equal(line.method, 'POST');
    const hostile = 'two words <b>';
    const replaced = await post(hostile);
    assert.match(replaced.id ?? '', UUID);
    assert.ok(d.logs.some((entry) => entry.requestId === replaced.id), 'logged under the fresh id');
    assert.ok(!d.logs.some((entry) => JSON.stringify(entry).includes(hostile)), 'the hostile id is in no log line');
  });

  test('a RunboxAPIError carries the daemon\'s request id, over HTTP and for a refused WebSocket upgrade', async () => {
    const anonymous = new RunboxClient({ url: d.url, token: 'wrong' });
    try {
      for (const attempt of [anonymous.runtimes(), anonymous.execute({ runtime: 'python', code: 'pass' })]) {
        await assert.rejects(attempt, (error: unknown) => {
          assert.ok(error instanceof RunboxAPIError, String(error));
          assert.equal(error.status, 401);
          assert.match(error.requestId ?? '', UUID);
          return true;
        });
      }
    } finally {
      await anonymous.close();
    }
  });
});
