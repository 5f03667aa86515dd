// RunboxSession against a real daemon with real sandboxes: files shared by executions of both runtimes, the
// file API both ways with MIME types, info, close (twice, after expiry, cancelling what runs), the errors a
// caller can meet (session_not_found, invalid_path, file_not_found, limits), and two sessions in parallel.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunboxAbortError, RunboxAPIError, RunboxClient, RunboxError, RunboxSession } from 'runbox/sdk';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';

const MiB = 1024 * 1024;
const MAX_SESSIONS = 6;
const canMount = process.getuid?.() === 0;
const cannotMount = canMount ? false : 'session quotas are tmpfs limits, which need a daemon that may mount (root)';

// Asserts that a promise rejects with a RunboxAPIError of that code and HTTP status (undefined: no HTTP exchange).
async function rejectsWith(promise: Promise<unknown>, code: string, status: number | undefined, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RunboxAPIError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, status, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('RunboxSession against a real daemon', () => {
  let daemon: TestDaemon;
  let client: RunboxClient;
  const strayErrors: RunboxError[] = [];

  before(async () => {
    daemon = await startDaemon({ workspaceBytes: 8 * MiB, workspaceFiles: 200, maxSessions: MAX_SESSIONS, maxFileBytes: 4 * MiB });
    client = new RunboxClient({ url: daemon.url, onError: (error) => strayErrors.push(error) });
  });

  after(async () => {
    await client?.close();
    await daemon?.close();
    assert.deepEqual(strayErrors, [], 'no daemon error went unrouted');
  });

  it('shares a workspace between executions: Python writes a CSV, Node reads it', async () => {
    const session = await client.createSession({ runtime: 'python' });
    try {
      assert.ok(session instanceof RunboxSession);
      assert.match(session.id, /^ses_[a-z2-7]{26}$/);
      const write = await session.execute({ runtime: 'python', code: 'import csv\nwith open("sales.csv", "w", newline="") as f:\n    csv.writer(f).writerows([["region", "total"], ["north", 12], ["south", 30]])' });
      assert.equal(write.status, 'ok', JSON.stringify(write.error));
      const read = await session.execute<number>({
        runtime: 'node',
        code: "const rows = require('node:fs').readFileSync('sales.csv', 'utf8').trim().split(/\\r?\\n/).slice(1);\nreturn rows.reduce((sum, row) => sum + Number(row.split(',')[1]), 0);",
      });
      assert.equal(read.status, 'ok', JSON.stringify(read.error));
      assert.equal(read.result, 42);
      // An execution outside the session sees none of it.
      const outside = await client.execute({ runtime: 'python', code: 'import os\nset_result(os.listdir("."))' });
      assert.deepEqual(outside.result, []);
    } finally {
      await session.close();
    }
  });

  it('uploads strings, bytes and ArrayBuffers that the code then reads', async () => {
    const session = await client.createSession();
    try {
      const bytes = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);
      assert.deepEqual(await session.files.upload('in/notes.txt', 'héllo ✓'), { path: 'in/notes.txt', size: Buffer.byteLength('héllo ✓') });
      assert.deepEqual(await session.files.upload('./in//blob.bin', bytes), { path: 'in/blob.bin', size: 7 });
      assert.deepEqual(await session.files.upload('in/buffer.bin', bytes.slice(0, 3).buffer), { path: 'in/buffer.bin', size: 3 });
      const out = await session.execute({
        runtime: 'python',
        code: 'set_result({"text": open("in/notes.txt", encoding="utf-8").read(), "blob": list(open("in/blob.bin", "rb").read()), "buffer": list(open("in/buffer.bin", "rb").read())})',
      });
      assert.equal(out.status, 'ok', JSON.stringify(out.error));
      assert.deepEqual(out.result, { text: 'héllo ✓', blob: [...bytes], buffer: [0, 1, 2] });
    } finally {
      await session.close();
    }
  });

  it('downloads what the code wrote with its MIME type; lists, deletes files and directory trees', async () => {
    const session = await client.createSession();
    try {
      const chart = await session.execute({
        runtime: 'python',
        code: 'import os\nimport matplotlib.pyplot as plt\nos.makedirs("out", exist_ok=True)\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.savefig("out/chart.png")\nopen("out/data.json", "w").write("{}")\nopen("notes.txt", "w").write("keep")',
      });
      assert.equal(chart.status, 'ok', JSON.stringify(chart.error));
      const png = await session.files.download('out/chart.png');
      assert.equal(png.path, 'out/chart.png');
      assert.equal(png.mimeType, 'image/png');
      assert.ok(Buffer.isBuffer(png.content));
      assert.deepEqual([...png.content.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
      assert.equal(png.size, png.content.byteLength);
      assert.ok(png.size > 1000, `a real chart (${png.size} bytes)`);
      const text = await session.files.download('notes.txt');
      assert.equal(text.content.toString('utf8'), 'keep');
      assert.match(text.mimeType, /^text\/plain/);

      const listing = await session.files.list();
      assert.equal(listing.truncated, false);
      assert.deepEqual(listing.files.map((file) => file.path), ['notes.txt', 'out/chart.png', 'out/data.json']);
      const listedPng = listing.files.find((file) => file.path === 'out/chart.png');
      assert.equal(listedPng?.size, png.size);
      assert.equal(listedPng?.mimeType, 'image/png');
      for (const file of listing.files) assert.ok(!Number.isNaN(Date.parse(file.modified)), file.modified);

      await session.files.delete('out/data.json');
      assert.deepEqual((await session.files.list()).files.map((file) => file.path), ['notes.txt', 'out/chart.png']);
      await session.files.delete('out');
      assert.deepEqual((await session.files.list()).files.map((file) => file.path), ['notes.txt']);
      const seen = await session.execute({ runtime: 'node', code: "return require('node:fs').readdirSync('.')" });
      assert.deepEqual(seen.result, ['notes.txt'], 'the code sees the deletion');

      // A name that is not UTF-8 is listed percent-encoded; the entry itself downloads and deletes it.
      await session.execute({ runtime: 'python', code: 'open(b"caf\\xe9 100%.txt", "wb").write(b"latin-1")' });
      const odd = (await session.files.list()).files.find((file) => file.pathEncoding === 'percent');
      assert.deepEqual([odd?.path, odd?.type], ['caf%E9%20100%25.txt', 'file']);
      assert.equal((await session.files.download(odd!)).content.toString(), 'latin-1');
      await session.files.delete(odd!);
      assert.deepEqual((await session.files.list()).files.map((file) => file.path), ['notes.txt']);
    } finally {
      await session.close();
    }
  });

  it('reports session info with its workspace usage', async () => {
    const session = await client.createSession({ ttlMs: 120_000, runtime: 'node' });
    try {
      await session.files.upload('one-mib.bin', new Uint8Array(MiB));
      const info = await session.info();
      assert.equal(info.id, session.id);
      assert.equal(info.runtime, 'node');
      assert.equal(info.ttlMs, 120_000);
      const created = Date.parse(info.createdAt);
      assert.ok(Date.parse(info.expiresAt) - created >= 120_000, JSON.stringify(info));
      if (canMount) {
        assert.equal(info.workspace.maxBytes, 8 * MiB);
        assert.equal(info.workspace.maxFiles, 200);
        assert.ok((info.workspace.usedBytes ?? 0) >= MiB, JSON.stringify(info.workspace));
        assert.equal(info.workspace.usedFiles, 1);
      } else {
        assert.deepEqual(info.workspace, { usedBytes: null, maxBytes: null, usedFiles: null, maxFiles: null });
      }
    } finally {
      await session.close();
    }
  });

  it('closes twice without error; afterwards execute, info and files reject with session_not_found', async () => {
    const session = await client.createSession();
    await session.files.upload('x.txt', 'x');
    await Promise.all([session.close(), session.close()]);
    await session.close();
    // Over the WebSocket the daemon answers with an `error` message: the code, but no HTTP status.
    await rejectsWith(session.execute({ runtime: 'python', code: 'pass' }), 'session_not_found', undefined, /expired, or was deleted/);
    await rejectsWith(session.info(), 'session_not_found', 404);
    await rejectsWith(session.files.list(), 'session_not_found', 404);
    await rejectsWith(session.files.download('x.txt'), 'session_not_found', 404);
    // Another handle on the same id (no request until used) closes quietly too.
    await client.session(session.id).close();
  });

  it('close() resolves for a session that expired; client.session(id) attaches to a live one', { timeout: 30_000 }, async () => {
    const made = await client.createSession({ ttlMs: 1000 });
    await made.files.upload('kept.txt', 'still here');
    const attached = client.session(made.id);
    assert.equal((await attached.files.download('kept.txt')).content.toString(), 'still here');
    await sleep(2000);
    await rejectsWith(attached.info(), 'session_not_found', 404);
    await made.close();
    await attached.close();
  });

  it('closing a session cancels its running execution', { timeout: 30_000 }, async () => {
    const session = await client.createSession();
    let closing: Promise<void> | undefined;
    const ended = await session.execute({ runtime: 'python', code: 'print("up", flush=True)\nimport time\ntime.sleep(60)', onStdout: () => { closing ??= session.close(); } });
    await closing;
    assert.equal(ended.status, 'cancelled');
    assert.match(ended.stdout, /^up/);
    await rejectsWith(session.info(), 'session_not_found', 404);
  });

  it('await using closes the session at the end of the block', async () => {
    let id = '';
    {
      await using session = await client.createSession();
      id = session.id;
      await session.files.upload('a.txt', 'a');
    }
    await rejectsWith(client.session(id).info(), 'session_not_found', 404);
  });

  it('refuses bad paths with invalid_path and missing files with file_not_found', async () => {
    const session = await client.createSession();
    try {
      // `..` and a path naming no file cannot travel in a URL: the SDK refuses them itself, with the daemon's code.
      for (const path of ['../x', 'a/../../x', '..', '.', '', 'a/..']) {
        await rejectsWith(session.files.upload(path, 'x'), 'invalid_path', undefined);
        await rejectsWith(session.files.download(path), 'invalid_path', undefined);
        await rejectsWith(session.files.delete(path), 'invalid_path', undefined);
      }
      // Everything else goes to the daemon, which names the rule.
      await rejectsWith(session.files.upload('/etc/passwd', 'x'), 'invalid_path', 400, /absolute/);
      await rejectsWith(session.files.upload('back\\slash', 'x'), 'invalid_path', 400, /backslash/);
      await rejectsWith(session.files.upload('nul\0name', 'x'), 'invalid_path', 400, /NUL/);
      await rejectsWith(session.files.download('n'.repeat(300)), 'invalid_path', 400, /longer than 255/);
      await rejectsWith(session.files.download('missing.txt'), 'file_not_found', 404);
      await rejectsWith(session.files.delete('missing/dir'), 'file_not_found', 404);
      // Names that need percent-encoding arrive intact.
      const odd = 'dir with space/ünï?#%25&+.txt';
      assert.equal((await session.files.upload(odd, 'odd')).path, odd);
      assert.equal((await session.files.download(odd)).content.toString(), 'odd');
      const listed = await session.execute({ runtime: 'python', code: 'import os\nset_result(os.listdir("dir with space"))' });
      assert.deepEqual(listed.result, ['ünï?#%25&+.txt']);
      assert.deepEqual((await session.files.list()).files.map((file) => file.path), [odd]);
    } finally {
      await session.close();
    }
  });

  it('rejects bad arguments at the boundary, naming them', async () => {
    const session = client.session('ses_aaaaaaaaaaaaaaaaaaaaaaaaaa');
    await assert.rejects(session.execute({ runtime: 'python', code: 'pass', sessionId: 'ses_other' } as never), {
      name: 'TypeError',
      message: 'Runbox: options.sessionId: expected nothing (session.execute() fills in its own session id), received "ses_other"',
    });
    await assert.rejects(session.files.upload('a.txt', 42 as never), { name: 'TypeError', message: /files\.upload\(path, content\): expected a string, a Uint8Array or an ArrayBuffer, received 42/ });
    await assert.rejects(session.files.download(7 as never), { name: 'TypeError', message: /files\.download\(path\): expected a string, received 7/ });
    assert.throws(() => client.session('..'), { name: 'TypeError', message: /session\(id\)/ });
    await assert.rejects(client.createSession({ signal: 'no' as never }), { name: 'TypeError', message: /options\.signal/ });
    // Options the daemon judges come back as its own errors.
    await rejectsWith(client.createSession({ ttlMs: -5 }), 'invalid_request', 400, /ttlMs/);
    await rejectsWith(client.createSession({ runtime: 'ruby' as never }), 'invalid_request', 400, /runtime/);
    await rejectsWith(session.info(), 'session_not_found', 404);
    await assert.rejects(session.files.list({ signal: AbortSignal.abort() }), RunboxAbortError);
  });

  it('refuses uploads past maxFileBytes (413) and past the session count (429)', async () => {
    const session = await client.createSession();
    const extra: RunboxSession[] = [];
    try {
      await rejectsWith(session.files.upload('big.bin', new Uint8Array(4 * MiB + 1)), 'payload_too_large', 413);
      let refused: unknown;
      for (let i = 0; i < MAX_SESSIONS && refused === undefined; i++) {
        await client.createSession().then((made) => extra.push(made), (error: unknown) => { refused = error; });
      }
      await rejectsWith(Promise.reject(refused), 'session_limit', 429);
    } finally {
      await Promise.all([session, ...extra].map((made) => made.close()));
    }
  });

  it('refuses uploads past the workspace quota with quota_exceeded (507)', { skip: cannotMount }, async () => {
    const session = await client.createSession();
    try {
      await session.files.upload('a.bin', new Uint8Array(3 * MiB));
      await session.files.upload('b.bin', new Uint8Array(3 * MiB));
      await rejectsWith(session.files.upload('c.bin', new Uint8Array(3 * MiB)), 'quota_exceeded', 507);
      assert.deepEqual((await session.files.list()).files.map((file) => file.path), ['a.bin', 'b.bin']);
    } finally {
      await session.close();
    }
  });

  it('runs the executions of two sessions in parallel, each session one at a time in order', { timeout: 60_000 }, async () => {
    const [a, b] = await Promise.all([client.createSession(), client.createSession()]);
    try {
      const code = (label: string) => `import time\nstart = time.time()\ntime.sleep(0.6)\nopen("log", "a").write("${label}\\n")\nset_result({"start": start, "end": time.time()})`;
      const runs = await Promise.all([
        a.execute<{ start: number; end: number }>({ runtime: 'python', code: code('a1') }),
        a.execute<{ start: number; end: number }>({ runtime: 'python', code: code('a2') }),
        b.execute<{ start: number; end: number }>({ runtime: 'python', code: code('b1') }),
        b.execute<{ start: number; end: number }>({ runtime: 'python', code: code('b2') }),
      ]);
      for (const run of runs) assert.equal(run.status, 'ok', JSON.stringify(run.error));
      const [a1, a2, b1, b2] = runs.map((run) => run.result!);
      assert.ok(a2.start >= a1.end && b2.start >= b1.end, 'one at a time within a session, in order');
      const overlap = (x: { start: number; end: number }, y: { start: number; end: number }) => x.start < y.end && y.start < x.end;
      assert.ok([a1, a2].some((x) => [b1, b2].some((y) => overlap(x, y))), 'the two sessions ran at the same time');
      assert.equal((await a.files.download('log')).content.toString(), 'a1\na2\n');
      assert.equal((await b.files.download('log')).content.toString(), 'b1\nb2\n');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('RunboxSession with a token', () => {
  it('sends the bearer token on every session request; without it, 401 unauthorized', async () => {
    const daemon = await startDaemon({ token: 'sesame' });
    const anonymous = new RunboxClient({ url: daemon.url, token: '' });
    const authorized = new RunboxClient({ url: daemon.url, token: 'sesame' });
    try {
      await rejectsWith(anonymous.createSession(), 'unauthorized', 401);
      const session = await authorized.createSession();
      try {
        await session.files.upload('t.txt', 'token');
        assert.equal((await session.files.download('t.txt')).content.toString(), 'token');
        assert.equal((await session.execute({ runtime: 'node', code: "return require('node:fs').readFileSync('t.txt', 'utf8')" })).result, 'token');
        await rejectsWith(anonymous.session(session.id).files.list(), 'unauthorized', 401);
      } finally {
        await session.close();
      }
    } finally {
      await anonymous.close();
      await authorized.close();
      await daemon.close();
    }
  });
});
