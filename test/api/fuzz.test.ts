// Fuzz: random and mutated messages at the HTTP API (JSON bodies, methods, paths, raw broken requests) and the
// WebSocket (execute, tool_result and cancel mutations, binary frames, invalid UTF-8, oversized frames).
// Afterwards the daemon must be healthy and correct, no answer may have been a 5xx or an undocumented error,
// nothing may have been logged as an internal failure, and no sandbox may be left.
// In `npm test` it replays one fixed seed with a few hundred messages (the same inputs every run, so a failure
// there is a regression); `npm run fuzz` (RUNBOX_FUZZ_FULL=1) sends 3000 from a random seed, to find new ones.
// The seed is printed; RUNBOX_FUZZ_SEED=<seed> replays a run (the inputs, not the timing), RUNBOX_FUZZ_COUNT sets
// the number of messages, RUNBOX_FUZZ_DEBUG=1 prints each problem as it is found.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { WIRE_ERRORS } from '../../daemon/errors.js';
import { executionDirs, findProcesses, postExecution, startDaemon, type LoggedDaemon } from '../helpers/daemon.js';
import { damageText, mutateObject, randomRawRequest, randomValue, Rng, sendRaw, toJsonText } from '../helpers/fuzz.js';

const FULL = process.env.RUNBOX_FUZZ_FULL === '1';
/** The seed `npm test` replays: its few hundred messages reach every kind of input below (checked at the end). */
const FIXED_SEED = 971500372;
const SEED = process.env.RUNBOX_FUZZ_SEED ? Number(process.env.RUNBOX_FUZZ_SEED) : FULL ? Math.floor(Math.random() * 2 ** 32) : FIXED_SEED;
const COUNT = Number(process.env.RUNBOX_FUZZ_COUNT ?? (FULL ? 3000 : 400));
/** The first rolls of each stream, whatever the seed: one of every kind of input below (the branches' bounds). */
const HTTP_KINDS = [0.1, 0.7, 0.9];
const WS_KINDS = [0.1, 0.5, 0.65, 0.75, 0.85, 0.9, 0.95, 0.99];
const STATUSES = new Set(['ok', 'error', 'timeout', 'killed', 'cancelled']);
const MAX_REQUEST_BYTES = 256 * 1024;

const CODES = {
  python: ['print("fuzz")', 'set_result([1, "two", None])', 'while True: pass', 'import sys\nsys.stdout.write("y" * 100000)', 'raise ValueError("x")', 'set_result(call_tool("t", {"a": 1}))'],
  node: ['console.log("fuzz")', 'return [1, "two", null]', 'while (true) {}', 'process.stdout.write("y".repeat(100000))', 'throw new Error("x")', 'return await callTool("t", {a: 1})'],
};

// A valid request to start from; mutations break it in one or more places.
function baseRequest(rng: Rng, withTools: boolean): Record<string, unknown> {
  const runtime = rng.pick(['python', 'node'] as const);
  return {
    runtime,
    code: rng.pick(CODES[runtime]),
    timeoutMs: rng.int(50, 300),
    ...(rng.chance(0.3) ? { files: [{ path: rng.pick(['in.txt', 'a/b.csv']), content: Buffer.from('1,2\n').toString('base64') }] } : {}),
    ...(rng.chance(0.3) ? { limits: { maxOutputBytes: rng.int(1, 4096), maxToolCalls: rng.int(0, 3) } } : {}),
    ...(withTools && rng.chance(0.6) ? { tools: [{ name: 't', description: 'fuzz tool', parameters: { type: 'object', properties: { a: {} } } }] } : {}),
  };
}

function mutated(rng: Rng, request: Record<string, unknown>, extraKeys: readonly string[]): Record<string, unknown> {
  for (let i = rng.int(0, 3); i > 0; i--) mutateObject(rng, request, extraKeys);
  return request;
}

class Findings {
  readonly problems: string[] = [];
  readonly counts: Record<string, number> = {};
  count(what: string): void {
    this.counts[what] = (this.counts[what] ?? 0) + 1;
  }
  problem(text: string): void {
    if (process.env.RUNBOX_FUZZ_DEBUG) console.error('PROBLEM', text.slice(0, 500));
    if (this.problems.length < 20) this.problems.push(text.slice(0, 500));
  }
  // An error answer must be a documented code with its own status, never internal_error.
  checkError(where: string, status: number, body: any): void {
    const code = body?.error?.code;
    const known = typeof code === 'string' && Object.hasOwn(WIRE_ERRORS, code) ? WIRE_ERRORS[code as keyof typeof WIRE_ERRORS] : null;
    if (!known || code === 'internal_error' || known.httpStatus !== status || typeof body.error.message !== 'string') {
      this.problem(`${where}: ${status} ${JSON.stringify(body)?.slice(0, 200)}`);
    }
    this.count(`${status} ${code}`);
  }
}

// Splits a raw byte stream into its HTTP responses (interim 100 Continue ones dropped).
function splitResponses(text: string): Array<{ status: number; body: string }> {
  const answers: Array<{ status: number; body: string }> = [];
  let rest = text;
  while (rest.length > 0) {
    const head = rest.indexOf('\r\n\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(rest)?.[1] ?? -1);
    if (head === -1 || status === -1) {
      answers.push({ status, body: rest });
      break;
    }
    const length = /\r\ncontent-length: (\d+)/i.exec(rest.slice(0, head))?.[1];
    const end = length === undefined ? rest.length : head + 4 + Number(length);
    if (status !== 100) answers.push({ status, body: rest.slice(head + 4, end) });
    rest = rest.slice(end);
  }
  return answers;
}

async function fuzzHttp(d: LoggedDaemon, rng: Rng, count: number, findings: Findings): Promise<void> {
  const port = Number(new URL(d.url).port);
  // A live session, so file API paths reach real checks (and real files) as well as unknown ids.
  const live = ((await (await fetch(`${d.url}/v1/sessions`, { method: 'POST' })).json()) as { id: string }).id;
  const sessionPaths = [
    '/v1/sessions', '/v1/sessions/', `/v1/sessions/${live}`, `/v1/sessions/${live}/files`, '/v1/sessions/ses_aaaaaaaaaaaaaaaaaaaaaaaaaa/files/x',
    `/v1/sessions/${live}/files/${rng.pick(['a.txt', 'd/e/f.csv', '%2e%2e/x', '..%2Fx', '%00', 'a%5Cb', '%ZZ'])}`, '/v1/sessions/../healthz', `/v1/sessions/${live}/nope`,
  ];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const roll = HTTP_KINDS[next] ?? rng.next();
      next += 1;
      if (roll < 0.65) {
        const request = mutated(rng, baseRequest(rng, rng.chance(0.1)), ['runtime', 'code', 'files', 'timeoutMs', 'limits', 'tools', 'timeout', 'id', 'type']);
        let body: string | Blob = rng.chance(0.1) ? toJsonText(rng, randomValue(rng)) : toJsonText(rng, request);
        if (rng.chance(0.1)) body = new Blob([new Uint8Array(damageText(rng, body as string))]);
        const response = await fetch(`${d.url}/v1/executions`, { method: 'POST', headers: { 'content-type': rng.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded']) }, body }).catch((error: Error) => error);
        if (response instanceof Error) {
          findings.count('fetch failed (connection closed)');
          continue;
        }
        const text = await response.text().catch(() => '');
        let answer: any;
        try {
          answer = JSON.parse(text);
        } catch {
          findings.problem(`POST: ${response.status} with a non-JSON body ${text.slice(0, 100)}`);
          continue;
        }
        if (response.status === 200) {
          if (!STATUSES.has(answer.status)) findings.problem(`POST 200 without a status: ${text.slice(0, 200)}`);
          findings.count(`200 ${answer.status}`);
        } else {
          findings.checkError(`POST ${String(body).slice(0, 300)}`, response.status, answer);
          if (response.status === 429 && !/^\d+$/.test(response.headers.get('retry-after') ?? '')) findings.problem('429 without Retry-After');
        }
      } else if (roll < 0.75) {
        const method = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
        const path = rng.pick(['/healthz', '/v1/runtimes', '/v1/executions', '/v1/ws', '/', '/v1/executions/x', '/%2e%2e/', `/${'p'.repeat(rng.int(1, 3000))}`, '/healthz?x=%00', ...sessionPaths]);
        const hasBody = method !== 'GET' && method !== 'HEAD';
        const response = await fetch(`${d.url}${path}`, { method, ...(hasBody ? { body: toJsonText(rng, randomValue(rng)) } : {}) }).catch((error: Error) => error);
        if (response instanceof Error) {
          findings.count('fetch failed (connection closed)');
          continue;
        }
        const text = await response.text().catch(() => '');
        if (response.status >= 500) findings.problem(`${method} ${path}: ${response.status} ${text.slice(0, 200)}`);
        if (method === 'HEAD' || (response.status >= 200 && response.status < 300)) {
          findings.count(`${response.status} ${method}`);
          continue;
        }
        try {
          findings.checkError(`${method} ${path}`, response.status, JSON.parse(text));
        } catch {
          findings.problem(`${method} ${path}: ${response.status} with a non-JSON body ${text.slice(0, 100)}`);
        }
      } else {
        const raw = randomRawRequest(rng);
        const answer = await sendRaw(port, raw).catch((error: Error) => error);
        if (answer instanceof Error) {
          findings.problem(`raw: ${answer.message}`);
          continue;
        }
        if (answer === null) {
          findings.count('raw: no answer (incomplete request)');
          continue;
        }
        const head = raw.subarray(0, 120).toString('latin1');
        if (/^HEAD /.test(head)) {
          // A HEAD answer has a Content-Length but no body, so the bytes after it cannot be split reliably here;
          // the connection still answered, which is what this checks.
          findings.count('raw HEAD');
          continue;
        }
        for (const { status, body } of splitResponses(`${answer.headers}\r\n\r\n${answer.body}`)) {
          if (status === 200) {
            findings.count(`raw ${status}`);
            continue;
          }
          if (status === 101) {
            findings.count('raw 101 (a valid WebSocket handshake)');
            continue;
          }
          try {
            findings.checkError(`raw ${JSON.stringify(head)}`, status, JSON.parse(body));
          } catch {
            findings.problem(`raw ${JSON.stringify(head)}: ${status} with a non-JSON body ${JSON.stringify(body.slice(0, 100))}`);
          }
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
}

async function fuzzWebSocket(d: LoggedDaemon, rng: Rng, count: number, findings: Findings, label: string): Promise<void> {
  let ws: WebSocket | null = null;
  const callIds: string[] = [];
  const ids: string[] = [];
  const waitingFor = new Set<string>();
  let seq = 0;
  // Answers to tool calls come at times the seed does not decide: they draw from their own generator.
  const answers = new Rng(rng.seed + 1000);
  const connect = async (): Promise<WebSocket> => {
    const socket = new WebSocket(d.wsUrl);
    socket.on('error', () => undefined);
    socket.on('message', (data, isBinary) => {
      if (isBinary) return findings.problem(`${label}: a binary frame from the daemon`);
      const message = JSON.parse(data.toString());
      if (message.type === 'error') {
        if (message.code === 'internal_error' || !Object.hasOwn(WIRE_ERRORS, message.code)) findings.problem(`${label}: ws error ${JSON.stringify(message)}`);
        if (message.code === 'queue_full' && !(message.retryAfterMs > 0)) findings.problem(`${label}: queue_full without retryAfterMs`);
        findings.count(`ws error ${message.code}`);
        if (typeof message.id === 'string') waitingFor.delete(message.id);
      } else if (message.type === 'result') {
        if (!STATUSES.has(message.status)) findings.problem(`${label}: result without a status ${JSON.stringify(message).slice(0, 200)}`);
        findings.count(`ws result ${message.status}`);
        waitingFor.delete(message.id);
      } else if (message.type === 'tool_call') {
        callIds.push(message.callId);
        if (answers.chance(0.7)) socket.send(toJsonText(answers, answers.chance(0.7) ? { type: 'tool_result', callId: message.callId, result: randomValue(answers) } : mutated(answers, { type: 'tool_result', callId: message.callId, error: { message: 'no' } }, ['result', 'error'])));
      } else if (message.type !== 'stdout' && message.type !== 'stderr') {
        findings.problem(`${label}: unknown message ${JSON.stringify(message).slice(0, 200)}`);
      }
    });
    socket.on('close', (code) => {
      findings.count(`ws closed ${code}`);
      if (![1000, 1005, 1007, 1009].includes(code)) findings.problem(`${label}: closed with ${code}`);
      waitingFor.clear(); // its executions are cancelled and their results will never come
    });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('close', reject);
    });
    return socket;
  };
  for (let i = 0; i < count; i++) {
    if (!ws || ws.readyState !== ws.OPEN) ws = await connect();
    const roll = WS_KINDS[i] ?? rng.next();
    if (roll < 0.45) {
      const id = rng.chance(0.1) && ids.length > 0 ? rng.pick(ids) : `${label}-${seq++}`;
      const message = mutated(rng, { type: 'execute', id, ...baseRequest(rng, true) }, ['type', 'id', 'runtime', 'code', 'tools', 'timeoutMs', 'callId']);
      if (typeof message.id === 'string' && message.type === 'execute') {
        ids.push(message.id);
        waitingFor.add(message.id);
      }
      ws.send(toJsonText(rng, message));
    } else if (roll < 0.6) {
      const callId = callIds.length > 0 && rng.chance(0.7) ? rng.pick(callIds) : rng.pick(['c1', 'c0', '', 'c99999', randomValue(rng)]);
      ws.send(toJsonText(rng, mutated(rng, { type: 'tool_result', callId, ...(rng.chance(0.5) ? { result: randomValue(rng) } : { error: randomValue(rng) }) }, ['result', 'error', 'callId', 'id'])));
    } else if (roll < 0.7) {
      ws.send(toJsonText(rng, mutated(rng, { type: 'cancel', id: ids.length > 0 && rng.chance(0.7) ? rng.pick(ids) : randomValue(rng) }, ['id', 'type'])));
    } else if (roll < 0.8) {
      ws.send(toJsonText(rng, rng.chance(0.5) ? randomValue(rng) : { type: randomValue(rng), id: randomValue(rng) }));
    } else if (roll < 0.87) {
      ws.send(damageText(rng, JSON.stringify({ type: 'execute', id: `${label}-${seq++}`, ...baseRequest(rng, false) })).toString('latin1'));
    } else if (roll < 0.93) {
      ws.send(Buffer.from(Array.from({ length: rng.int(0, 64) }, () => rng.int(0, 255))), { binary: true });
    } else {
      const socket = ws;
      if (roll < 0.97) socket.send(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]), { binary: false }); // invalid UTF-8 in a text frame: 1007
      else socket.send('x'.repeat(MAX_REQUEST_BYTES + rng.int(1, 1000))); // over maxRequestBytes: 1009
      // The first of each kind waits for the close it causes, so that the next kind reaches a new connection.
      if (i < WS_KINDS.length && socket.readyState !== socket.CLOSED) await new Promise((resolve) => socket.once('close', resolve));
    }
    if (i % 25 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  // Every execute that was accepted gets its result (bounded by maxTimeoutMs), unless its connection closed.
  const deadline = Date.now() + 20_000;
  while (waitingFor.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (waitingFor.size > 0) findings.problem(`${label}: no result or error for ${[...waitingFor].slice(0, 5).join(', ')}`);
  ws?.close();
}

test(`fuzz: ${COUNT} random and mutated messages over HTTP and WebSocket (seed ${SEED})`, { timeout: 180_000 }, async (t) => {
  t.diagnostic(`fuzz seed ${SEED}; replay with RUNBOX_FUZZ_SEED=${SEED}`);
  const d = await startDaemon(
    { defaultTimeoutMs: 300, maxTimeoutMs: 1000, maxRequestBytes: MAX_REQUEST_BYTES, maxCodeBytes: 16 * 1024, maxFileBytes: 64 * 1024, maxTotalFileBytes: 128 * 1024, maxOutputBytes: 64 * 1024, maxConcurrent: 4, maxQueued: 16, warmSandboxes: 1, pythonPreload: [], headersTimeoutMs: 3000, requestTimeoutMs: 5000 },
    { logs: true },
  );
  const findings = new Findings();
  const started = Date.now();
  // The daemon runs in this process: an unhandled rejection or exception here would crash it in production.
  const crash = (error: unknown) => findings.problem(`unhandled in the daemon's process: ${(error as Error)?.stack ?? String(error)}`);
  process.on('unhandledRejection', crash);
  process.on('uncaughtException', crash);
  try {
    const http = Math.round(COUNT / 2);
    const perWs = Math.round((COUNT - http) / 2);
    await Promise.all([
      fuzzHttp(d, new Rng(SEED), http, findings),
      fuzzWebSocket(d, new Rng(SEED + 1), perWs, findings, 'ws1'),
      fuzzWebSocket(d, new Rng(SEED + 2), COUNT - http - perWs, findings, 'ws2'),
    ]);
    t.diagnostic(`${COUNT} messages in ${Date.now() - started} ms: ${JSON.stringify(findings.counts)}`);
    assert.deepEqual(findings.problems, [], `seed ${SEED}`);
    // Each WebSocket stream began with one input of each kind: the two that end a connection each ended one.
    for (const what of ['ws closed 1007', 'ws closed 1009']) assert.ok(findings.counts[what] >= 2, `${what}: ${JSON.stringify(findings.counts)}`);

    assert.equal((await fetch(`${d.url}/healthz`)).status, 200);
    // With the longest timeout this daemon allows (its default, 300 ms, is short for a loaded machine).
    const python = await postExecution(d.url, { runtime: 'python', timeoutMs: 1000, code: 'print("after the storm")\nset_result(sum(range(10)))' });
    assert.equal(python.body.status, 'ok', JSON.stringify(python.body));
    assert.deepEqual([python.body.stdout, python.body.result], ['after the storm\n', 45]);
    const node = await postExecution(d.url, { runtime: 'node', timeoutMs: 1000, code: 'console.log("after the storm"); return [..."ab"]' });
    assert.equal(node.body.status, 'ok', JSON.stringify(node.body));
    assert.deepEqual([node.body.stdout, node.body.result], ['after the storm\n', ['a', 'b']]);

    const failures = d.logs.filter((line) => line.level >= 50 || /request failed|message failed|inside the daemon/.test(line.msg));
    assert.deepEqual(failures.map((line) => `${line.msg}: ${JSON.stringify(line.err ?? '')}`.slice(0, 300)), [], `seed ${SEED}`);

    // Only the warm sandboxes (one per runtime) remain once everything has settled.
    const deadline = Date.now() + 10_000;
    let dirs: string[] = [];
    while (Date.now() < deadline) {
      dirs = await executionDirs(d.workDir);
      if (dirs.length <= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(dirs.length <= 2, `execution directories left: ${dirs.join(', ')}`);
    const sandboxDirs = new Set((await Promise.all((await findProcesses(d.workDir)).map((pid) => fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')))).map((cmd) => /exec-[^/\0]+/.exec(cmd)?.[0]).filter(Boolean));
    assert.ok(sandboxDirs.size <= 2, `sandboxes still alive: ${[...sandboxDirs].join(', ')}`);
  } finally {
    process.off('unhandledRejection', crash);
    process.off('uncaughtException', crash);
    try {
      await d.close();
    } finally {
      // Whatever the daemon failed to clean up is still this test's: leave nothing running on the machine.
      for (const pid of await findProcesses(d.workDir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
});
