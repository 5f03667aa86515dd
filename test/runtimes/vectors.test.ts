// The shared test vectors (test/vectors/*.json), fed to both preludes by running the real interpreters: the same
// case must give the same outcome in Python and in Node. values.json and errors.json run code in the real preludes,
// unsandboxed, against the daemon's own bridge endpoint (daemon/bridge/server.ts) and compare the `done` it receives;
// frames.json plays raw bytes from a Unix socket to each prelude's own WebSocket client, through a harness
// (test/fixtures/vectors/) that imports the client and prints what it delivered and how the connection ended.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Bridge } from '../../daemon/bridge/server.js';
import type { DoneReport } from '../../daemon/bridge/messages.js';
import { loadConfig } from '../../daemon/config.js';
import { PROTOCOL } from '../../daemon/protocol.js';
import { buildRuntimeCommand, type RuntimeName } from '../../daemon/sandbox/runtimes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const VECTORS = path.join(ROOT, 'test', 'vectors');
const HARNESS = path.join(ROOT, 'test', 'fixtures', 'vectors');
const PYTHON_ENV = loadConfig({}, []).pythonEnv;
const PYTHON = path.join(PYTHON_ENV, 'bin', 'python3');
const NO_PYTHON = existsSync(PYTHON) ? false : `${PYTHON} does not exist (run scripts/setup.sh)`;
const RUNTIMES: RuntimeName[] = ['python', 'node'];
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MiB = 1024 * 1024;
const FAIL_TOOL = { name: 'fail', description: 'always fails', parameters: { type: 'object', properties: {} } };
const TOOL_FAILURE = { code: 'tool_error', message: 'the warehouse is closed' } as const;

const readVectors = (name: string) => JSON.parse(readFileSync(path.join(VECTORS, name), 'utf8')).cases as any[];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ─── Running the real preludes ──────────────────────────────────────────────────────────────────────────────

// Runs code in a runtime's real prelude (as the daemon starts it, without the sandbox) against the daemon's bridge
// endpoint; every tool call is answered with TOOL_FAILURE. Returns the `done` as the daemon reads it.
// With watchMs, the prelude is left that long after its `done` before it is killed, and `exitedAlone` says whether
// it exited by itself meanwhile.
async function runPrelude(runtime: RuntimeName, code: string, watchMs = 0): Promise<DoneReport & { stderr: string; exitedAlone: boolean }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-vectors-'));
  const workspace = path.join(dir, 'workspace');
  await fs.mkdir(workspace);
  const token = randomBytes(16).toString('hex');
  let settle!: (report: DoneReport | Error) => void;
  const reported = new Promise<DoneReport | Error>((resolve) => (settle = resolve));
  const bridge: Bridge = await Bridge.open(
    { socketPath: path.join(dir, 'bridge.sock'), token, maxMessageBytes: 16 * MiB, budget: { maxInboundBytes: 64 * MiB, maxMessages: 1000, maxRefusedConnections: 10 } },
    {
      onConnect: () => undefined,
      onMessage: (message) => {
        if (message.type === 'tool_call') bridge.send({ type: 'tool_result', callId: message.callId, error: TOOL_FAILURE });
        else {
          const done = message.read();
          settle('value' in done ? done.value : new Error(done.problem));
        }
      },
      onProtocolError: (problem) => settle(new Error(problem)),
      onLimit: (problem) => settle(new Error(problem)),
    },
  );
  bridge.send({ type: 'run', code, tools: [FAIL_TOOL] });
  const [file, ...args] = buildRuntimeCommand(runtime, { pythonEnv: PYTHON_ENV, nodePath: process.execPath, runtimesDir: path.join(ROOT, 'runtimes') });
  const env = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: dir, MPLBACKEND: 'Agg', RUNBOX_BRIDGE_SOCKET: path.join(dir, 'bridge.sock'), RUNBOX_BRIDGE_TOKEN: token, RUNBOX_WORKSPACE: workspace };
  const child = spawn(file, args, { cwd: '/', env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  void exited.then(() => settle(new Error(`the ${runtime} prelude exited without done: ${stderr}`)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const report = await reported;
    // After `done` the prelude waits to be ended (as the daemon does, by freezing or killing its sandbox).
    const exitedAlone = await Promise.race([exited.then(() => true), sleep(watchMs).then(() => false)]);
    child.kill('SIGKILL');
    await exited;
    if (report instanceof Error) throw report;
    return { ...report, stderr, exitedAlone };
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
    await bridge.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

// The lines of main.py / main.js a traceback shows, from the outermost call to the innermost.
function userLines(runtime: RuntimeName, traceback: string): number[] {
  if (runtime === 'python') return [...traceback.matchAll(/File "main\.py", line (\d+)/g)].map((m) => Number(m[1]));
  return [...traceback.matchAll(/main\.js:(\d+)/g)].map((m) => Number(m[1])).reverse();
}

// `depth` arrays around `leaf`.
function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('values.json: what a result becomes in done', { skip: NO_PYTHON }, () => {
  for (const vector of readVectors('values.json')) {
    test(vector.name, async () => {
      const runtimes = RUNTIMES.filter((runtime) => typeof vector[runtime] === 'string');
      await Promise.all(
        runtimes.map(async (runtime) => {
          const setup = vector[`${runtime}Setup`] ?? '';
          const code = runtime === 'python' ? `${setup}\nset_result(${vector.python})` : `${setup}\nsetResult(${vector.node});`;
          const done = await runPrelude(runtime, code);
          if (vector.error) {
            assert.equal(done.error?.type, vector.error.type, `${runtime}: ${JSON.stringify(done.error)}`);
            assert.match(done.error?.message ?? "", new RegExp(vector.error.messageMatches[runtime]), runtime);
            assert.equal(done.result, null, runtime);
            return;
          }
          assert.equal(done.error, null, `${runtime}: ${JSON.stringify(done.error)}`);
          const expected = vector.expectNested ? nested(vector.expectNested.depth, vector.expectNested.leaf) : vector.expectByRuntime ? vector.expectByRuntime[runtime] : vector.expect;
          assert.deepEqual(done.result, expected, runtime);
        }),
      );
    });
  }
});

// docs/protocol.md: after `done` the prelude waits for the daemon to freeze or kill its sandbox instead of exiting
// (an exiting interpreter tears its memory down where no freezer stops it), whatever its exit status. (A Python
// thread whose bridge closes meanwhile parks too: install-lifecycle.test.ts, installs started in threads.)
test('after done each prelude waits to be ended rather than exit, with any exit status', { skip: NO_PYTHON }, async () => {
  const cases: [RuntimeName, string, number][] = [
    ['python', 'set_result(1)', 0],
    ['python', 'import sys\nsys.exit(3)', 3],
    ['node', 'setResult(1);', 0],
    ['node', 'process.exitCode = 3;', 3],
  ];
  await Promise.all(
    cases.map(async ([runtime, code, exitCode]) => {
      const done = await runPrelude(runtime, code, 500);
      assert.equal(done.exitCode, exitCode, `${runtime}: ${JSON.stringify(done)}`);
      assert.equal(done.exitedAlone, false, `${runtime} (${code}) exited by itself after done: ${done.stderr}`);
    }),
  );
});

describe('errors.json: what a failure becomes in done', { skip: NO_PYTHON }, () => {
  for (const vector of readVectors('errors.json')) {
    test(vector.name, async () => {
      await Promise.all(
        RUNTIMES.map(async (runtime) => {
          const { error } = await runPrelude(runtime, vector[runtime]);
          const expect = vector.expect;
          assert.ok(error, `${runtime}: no error`);
          assert.equal(error.type, expect.type, `${runtime}: ${JSON.stringify(error)}`);
          if ('message' in expect) assert.equal(error.message, expect.message, runtime);
          else assert.match(error.message, new RegExp(expect.messageMatches), runtime);
          if (expect.userLines) assert.deepEqual(userLines(runtime, error.traceback), expect.userLines, `${runtime}: ${error.traceback}`);
          assert.match(error.traceback, new RegExp(expect.tracebackMatches[runtime]), `${runtime}: ${error.traceback}`);
          assert.doesNotMatch(error.traceback, /runbox_prelude|runtimes\/(node|python)|prelude\.(py|cjs)/, `${runtime}: the prelude's frames are hidden`);
        }),
      );
    });
  }
});

// ─── Playing raw frames to each prelude's WebSocket client ───────────────────────────────────────────────────

/** What the client delivered and how its connection ended (the harness's line), and what the daemon's side saw. */
interface FrameOutcome {
  messages: string[];
  end: { kind: string; message: string };
  request: string;
  replies: string[];
}

// Bytes from a vector's segments: hex (spaces ignored), {text}, {repeat: hex, times}; {accept} fills in text.
function segmentBytes(segments: any[], accept = ''): Buffer {
  return Buffer.concat(
    segments.map((segment) => {
      if (typeof segment === 'string') return Buffer.from(segment.replace(/\s+/g, ''), 'hex');
      if ('text' in segment) return Buffer.from(segment.text.replaceAll('{accept}', accept), 'utf8');
      return Buffer.from(segment.repeat.repeat(segment.times), 'hex');
    }),
  );
}

// Expected text messages: strings, or {repeat: text, times}.
const expectedText = (message: any) => (typeof message === 'string' ? message : message.repeat.repeat(message.times));

// `{maxHandshakeBytes}` (or `maxHandshakeBytes+n` in padToBytes) as runtimes/protocol.json says.
const withLimits = (text: string) => text.replaceAll('{maxHandshakeBytes}', String(PROTOCOL.maxHandshakeBytes));
const padTarget = (spec: string) => PROTOCOL.maxHandshakeBytes + Number(/^maxHandshakeBytes(?:\+(\d+))?$/.exec(spec)?.[1] ?? 0);

// The daemon's handshake answer for a vector: its own, or a valid 101, padded with an X-Padding header when asked.
function handshakeAnswer(vector: any, accept: string): Buffer {
  const answer = vector.answer ? segmentBytes(vector.answer, accept) : Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  if (!vector.padToBytes) return answer;
  const padding = padTarget(vector.padToBytes) - answer.length - 'X-Padding: \r\n'.length;
  return Buffer.concat([answer.subarray(0, answer.length - 2), Buffer.from(`X-Padding: ${'a'.repeat(padding)}\r\n\r\n`)]);
}

// Splits what a client sent after its request into frames, each as the hex of its bytes.
function clientFrames(data: Buffer): string[] {
  const frames: string[] = [];
  let offset = 0;
  while (offset + 2 <= data.length) {
    let length = data[offset + 1] & 0x7f;
    let header = 2;
    if (length === 126) [length, header] = [data.readUInt16BE(offset + 2), 4];
    else if (length === 127) [length, header] = [Number(data.readBigUInt64BE(offset + 2)), 10];
    if (data[offset + 1] & 0x80) header += 4;
    frames.push(data.subarray(offset, offset + header + length).toString('hex'));
    offset += header + length;
  }
  return frames;
}

// Plays every frames.json case to one runtime's client: a server on a Unix socket answers each connection (its
// token names the case) with the case's handshake answer and bytes, then ends; the harness connects once per case.
async function playFrames(runtime: RuntimeName, vectors: any[]): Promise<FrameOutcome[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-frames-'));
  const socketPath = path.join(dir, 'bridge.sock');
  const seen = new Map<string, { request: string; replies: string[] }>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let received = Buffer.alloc(0);
    let requestEnd = -1;
    let token = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (requestEnd >= 0 || received.indexOf('\r\n\r\n') < 0) return;
      requestEnd = received.indexOf('\r\n\r\n') + 4;
      const request = received.toString('latin1', 0, requestEnd);
      token = /^Authorization: Bearer (\S+)\r$/m.exec(request)?.[1] ?? '';
      const key = /^Sec-WebSocket-Key: (\S+)\r$/m.exec(request)?.[1] ?? '';
      const vector = vectors[Number(token.replace('case-', ''))];
      const accept = createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
      void (async () => {
        const data = Buffer.concat([handshakeAnswer(vector, accept), segmentBytes(vector.bytes)]);
        const step = vector.chunkBytes ?? data.length;
        for (let i = 0; i < data.length && !socket.destroyed; i += step) {
          socket.write(data.subarray(i, i + step));
          if (vector.chunkBytes) await sleep(1);
        }
        socket.end();
      })();
    });
    socket.on('close', () => seen.set(token, { request: received.toString('latin1', 0, Math.max(requestEnd, 0)), replies: clientFrames(received.subarray(Math.max(requestEnd, 0))) }));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  try {
    const tokens = vectors.map((_, i) => `case-${i}`);
    const [file, args] = runtime === 'python' ? [PYTHON, ['-I', '-B', path.join(HARNESS, 'frames_harness.py')]] : [process.execPath, [path.join(HARNESS, 'frames-harness.cjs')]];
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(file, [...args, socketPath, ...tokens], { timeout: 120_000, maxBuffer: 64 * MiB }, (error, out, err) => (error ? reject(new Error(`${runtime} harness: ${error.message}\n${err}`)) : resolve(out))),
    );
    const lines = new Map(stdout.trim().split('\n').map((line) => JSON.parse(line)).map((line) => [line.token, line]));
    for (let waited = 0; seen.size < tokens.length && waited < 5000; waited += 20) await sleep(20);
    return tokens.map((token) => ({ ...lines.get(token), ...seen.get(token) }) as FrameOutcome);
  } finally {
    server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

describe('frames.json: the bridge framing, fed as raw bytes to both WebSocket clients', { skip: NO_PYTHON }, () => {
  const vectors = readVectors('frames.json');
  const outcomes = new Map<RuntimeName, FrameOutcome[]>();
  before(async () => {
    const [python, node] = await Promise.all(RUNTIMES.map((runtime) => playFrames(runtime, vectors)));
    outcomes.set('python', python).set('node', node);
  });
  after(() => outcomes.clear());

  test('both send the same handshake request, with the key their Sec-WebSocket-Accept check expects', () => {
    const [python, node] = RUNTIMES.map((runtime) => outcomes.get(runtime)![0].request);
    assert.equal(python, node);
    assert.match(python, /^GET \/bridge HTTP\/1\.1\r\nHost: runbox\r\nAuthorization: Bearer case-0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \S+\r\nSec-WebSocket-Version: 13\r\n\r\n$/);
  });

  vectors.forEach((vector, i) => {
    test(vector.name, () => {
      const expected = {
        messages: vector.expect.messages.map(expectedText),
        replies: vector.expect.replies.map((reply: any) => segmentBytes(typeof reply === 'string' ? [reply] : reply).toString('hex')),
        end: { kind: vector.expect.end.kind, message: withLimits(vector.expect.end.message) },
      };
      for (const runtime of RUNTIMES) {
        const { messages, replies, end } = outcomes.get(runtime)![i];
        assert.deepEqual({ messages, replies, end }, expected, runtime);
      }
    });
  });
});
