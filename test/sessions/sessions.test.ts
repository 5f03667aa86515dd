// Sessions against a real daemon: files persist across executions (HTTP and WebSocket), executions of one
// session run one at a time while sessions run in parallel, strict ids, TTL expiry, DELETE, quotas, and the file
// API with its path rules (symlinks planted by the code are never followed).
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { descendantsOf, findProcesses, listProcesses, postExecution, startDaemon, waitForNoProcesses, type TestDaemon } from '../helpers/daemon.js';
import { startSwapper } from '../helpers/swapper.js';
import { RawClient } from '../helpers/ws-client.js';
import { sessionDirName } from '../../daemon/sessions/ids.js';

const MiB = 1024 * 1024;
const cannotMount = process.getuid?.() === 0 ? false : 'session quotas are tmpfs limits, which need a daemon that may mount (root)';

let d: TestDaemon;
before(async () => {
  d = await startDaemon({ workspaceBytes: 8 * MiB, workspaceFiles: 200, maxSessions: 5, maxFileBytes: 4 * MiB });
});
after(() => d.close());

// A request sent with node:http, which (unlike fetch) sends the target as written: `%2e%2e` and `..` reach the
// daemon instead of being resolved by the client.
async function api(method: string, route: string, body?: unknown): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const { port } = new URL(d.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: route, headers: payload ? { 'content-length': payload.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const json = (res.headers['content-type'] ?? '').startsWith('application/json');
        resolve({ status: res.statusCode ?? 0, body: json ? JSON.parse(raw.toString('utf8')) : raw, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

// Runs Python lines in a session and expects them to succeed.
async function runPython(sessionId: string, lines: string[]): Promise<void> {
  const run = await postExecution(d.url, { runtime: 'python', sessionId, code: lines.join('\n') });
  assert.equal(run.body.status, 'ok', JSON.stringify(run.body));
}

// The start time (clock ticks since boot, field 22 of /proc/<pid>/stat) of the interpreter that waits in the
// session's warm sandbox (a process under the bubblewrap that names the session's directory), once it runs; not
// the one that started at `other`.
async function warmInterpreterStart(sessionDir: string, other?: number): Promise<number> {
  for (let i = 0; ; i++) {
    const table = await listProcesses();
    for (const root of table.filter((p) => p.cmdline.includes(sessionDir))) {
      for (const interpreter of descendantsOf(root.pid, table).filter((p) => p.cmdline.includes('prelude.py') && !p.cmdline.includes(sessionDir))) {
        const stat = await fs.readFile(`/proc/${interpreter.pid}/stat`, 'utf8').catch(() => '');
        const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
        if (stat && start !== other) return start;
      }
    }
    assert.ok(i < 400, 'no warm sandbox started for the session');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function createSession(options: object = {}): Promise<string> {
  const created = await api('POST', '/v1/sessions', options);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.match(created.body.id, /^ses_[a-z2-7]{26}$/);
  return created.body.id;
}

describe('sessions', () => {
  test('a file written by one execution is there for the next, over HTTP and WebSocket; each gets a fresh sandbox', async () => {
    const id = await createSession({ runtime: 'python' });
    try {
      const first = await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'import os\nopen("data.csv", "w").write("a,b\\n1,2\\n")\nset_result(os.getpid())' });
      assert.equal(first.body.status, 'ok', JSON.stringify(first.body));
      const second = await postExecution(d.url, { runtime: 'node', sessionId: id, code: "const fs = require('node:fs'); return fs.readFileSync('data.csv', 'utf8')" });
      assert.equal(second.body.result, 'a,b\n1,2\n');
      const client = await RawClient.connect(d.wsUrl);
      try {
        const third = await client.execute({ id: 'w', runtime: 'python', sessionId: id, code: 'import os\nset_result({"files": sorted(os.listdir(".")), "tmp": os.listdir("/tmp")})' });
        assert.deepEqual(third.result.files, ['data.csv']);
      } finally {
        client.close();
      }
      // Outside a session, nothing of it is visible.
      const other = await postExecution(d.url, { runtime: 'python', code: 'import os\nset_result(os.listdir("."))' });
      assert.deepEqual(other.body.result, []);
    } finally {
      await api('DELETE', `/v1/sessions/${id}`);
    }
  });

  test('executions of one session run one at a time, in order; two sessions run in parallel', { timeout: 60_000 }, async () => {
    const [a, b] = [await createSession(), await createSession()];
    try {
      const code = (label: string) => `import time, json\nstart = time.time()\ntime.sleep(0.6)\nopen("log", "a").write("${label}\\n")\nset_result({"start": start, "end": time.time()})`;
      const runs = await Promise.all([
        postExecution(d.url, { runtime: 'python', sessionId: a, code: code('a1') }),
        postExecution(d.url, { runtime: 'python', sessionId: a, code: code('a2') }),
        postExecution(d.url, { runtime: 'python', sessionId: a, code: code('a3') }),
        postExecution(d.url, { runtime: 'python', sessionId: b, code: code('b1') }),
      ]);
      for (const run of runs) assert.equal(run.body.status, 'ok', JSON.stringify(run.body));
      const [a1, a2, a3, b1] = runs.map((run) => run.body.result);
      assert.ok(a2.start >= a1.end && a3.start >= a2.end, 'one at a time, in the order they came');
      assert.ok(b1.start < a1.end || b1.start < a2.end, 'another session does not wait for this one');
      const log = await postExecution(d.url, { runtime: 'python', sessionId: a, code: 'set_result(open("log").read())' });
      assert.equal(log.body.result, 'a1\na2\na3\n');
    } finally {
      await Promise.all([api('DELETE', `/v1/sessions/${a}`), api('DELETE', `/v1/sessions/${b}`)]);
    }
  });

  test('a session keeps a warm sandbox for its next execution; DELETE disposes of it', { timeout: 60_000 }, async () => {
    // When the interpreter that runs the code started: the very one seen waiting in the session's warm sandbox
    // before the request was sent.
    const start = 'start = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])';
    const id = await createSession({ runtime: 'python' });
    const sessionDir = path.join(d.workDir, 'sessions', sessionDirName(id));
    const waiting = await warmInterpreterStart(sessionDir);
    const first = await postExecution(d.url, { runtime: 'python', sessionId: id, code: `${start}\nopen("mark", "w").write("1")\nset_result(start)` });
    assert.equal(first.body.result, waiting, `the runtime hint started a sandbox for the first execution (${JSON.stringify(first.body)})`);
    const next = await warmInterpreterStart(sessionDir, waiting);
    const second = await postExecution(d.url, { runtime: 'python', sessionId: id, code: `${start}\nset_result([start, open("mark").read()])` });
    assert.equal(second.body.result[0], next, `the next one found a warm sandbox (${JSON.stringify(second.body)})`);
    assert.equal(second.body.result[1], '1', 'bound to the same workspace');
    for (let i = 0; i < 100 && (await findProcesses(sessionDir)).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok((await findProcesses(sessionDir)).length > 0, 'a warm sandbox waits for the next execution');
    assert.equal((await api('DELETE', `/v1/sessions/${id}`)).status, 200);
    await waitForNoProcesses(sessionDir);
  });

  test("a session's code does not learn its id (the key to its file API) from its mounts", async () => {
    const id = await createSession();
    try {
      const run = await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'set_result(open("/proc/self/mountinfo").read())' });
      assert.equal(run.body.status, 'ok', JSON.stringify(run.body));
      assert.match(run.body.result, /\/workspace /, 'the listing is real');
      assert.ok(!run.body.result.includes(id), 'no mount names the session id');
      assert.ok(!run.body.result.includes(id.slice(4)), 'not even its random part');
    } finally {
      await api('DELETE', `/v1/sessions/${id}`);
    }
  });

  test('unknown, malformed and deleted ids are 404 session_not_found, never paths', async () => {
    const id = await createSession();
    assert.equal((await api('DELETE', `/v1/sessions/${id}`)).status, 200);
    for (const bad of [id, 'ses_aaaaaaaaaaaaaaaaaaaaaaaaaa', '..', '%2e%2e', 'x'.repeat(500)]) {
      const info = await api('GET', `/v1/sessions/${bad}`);
      assert.equal(info.status, 404, `${bad}: ${JSON.stringify(info.body)}`);
      assert.equal(info.body.error.code, 'session_not_found');
    }
    const traversal = await api('GET', '/v1/sessions/ses_../../etc/files');
    assert.equal(traversal.status, 404, 'no route, and nothing looked up on disk');
    const run = await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'pass' });
    assert.equal(run.status, 404);
    assert.equal(run.body.error.code, 'session_not_found');
    assert.match(run.body.error.message, /expired, or was deleted/);
    const wrongType = await postExecution(d.url, { runtime: 'python', sessionId: 42, code: 'pass' });
    assert.equal(wrongType.status, 400);
  });

  test('a session expires after its idle TTL and everything it owned is removed', { timeout: 30_000 }, async () => {
    const id = await createSession({ ttlMs: 1500 });
    await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'open("keep", "w").write("x")' });
    const dir = path.join(d.workDir, 'sessions', sessionDirName(id));
    await fs.access(dir);
    // Waits for its expiry, then for the removal of its directory, instead of a fixed 2.5 s.
    for (let i = 0; (await api('GET', `/v1/sessions/${id}`)).status !== 404; i++) {
      assert.ok(i < 200, 'the session is still there 10 s after its TTL');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (let i = 0; await fs.access(dir).then(() => true, () => false); i++) {
      assert.ok(i < 100, 'its directory is still there 5 s after the session expired');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await assert.rejects(fs.access(dir), 'its directory is gone');
  });

  test('a busy session does not expire under its execution; DELETE cancels what runs and removes it', { timeout: 30_000 }, async () => {
    const id = await createSession({ ttlMs: 1000 });
    const long = await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'import time\ntime.sleep(2)\nset_result("survived")' });
    assert.equal(long.body.result, 'survived', 'still alive past its TTL while busy');
    const running = postExecution(d.url, { runtime: 'python', sessionId: id, code: 'import time\ntime.sleep(30)' });
    await new Promise((resolve) => setTimeout(resolve, 800));
    const deleted = await api('DELETE', `/v1/sessions/${id}`);
    assert.equal(deleted.status, 200);
    const cancelled = (await running).body;
    assert.equal(cancelled.status, 'cancelled');
    assert.match(cancelled.error.message, /its session was deleted/);
    assert.equal((await api('GET', `/v1/sessions/${id}`)).status, 404);
  });

  test('bad session options are refused naming the field; past maxSessions, session_limit', async () => {
    assert.equal((await api('POST', '/v1/sessions', { ttlMs: -1 })).body.error.code, 'invalid_request');
    assert.equal((await api('POST', '/v1/sessions', { runtime: 'ruby' })).body.error.code, 'invalid_request');
    assert.equal((await api('POST', '/v1/sessions', { ttl: 5 })).body.error.code, 'invalid_request');
    assert.equal((await api('POST', '/v1/sessions', { ttlMs: 10 ** 12 })).body.error.code, 'limit_exceeded');
    const made: string[] = [];
    try {
      for (let i = 0; i < 5; i++) made.push(await createSession());
      const refused = await api('POST', '/v1/sessions');
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, 'session_limit');
    } finally {
      for (const id of made) await api('DELETE', `/v1/sessions/${id}`);
    }
  });
});

describe('the session file API', () => {
  let id: string;
  before(async () => {
    id = await createSession();
  });
  after(() => api('DELETE', `/v1/sessions/${id}`));

  test('PUT, then the code reads it; the code writes, then GET downloads it with its MIME type; list and DELETE', async () => {
    const put = await api('PUT', `/v1/sessions/${id}/files/in/data.csv`, 'x,y\n1,2\n');
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const run = await postExecution(d.url, {
      runtime: 'python', sessionId: id,
      code: 'import os\nos.makedirs("out/a", exist_ok=True)\nopen("out/a/chart.png", "wb").write(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(100))\nset_result(open("in/data.csv").read())',
    });
    assert.equal(run.body.result, 'x,y\n1,2\n');
    const got = await api('GET', `/v1/sessions/${id}/files/out/a/chart.png`);
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], 'image/png');
    assert.match(String(got.headers['content-disposition']), /filename="chart.png"/);
    assert.equal((got.body as Buffer).length, 108);
    const listing = await api('GET', `/v1/sessions/${id}/files`);
    assert.deepEqual(listing.body.files.map((f: any) => [f.path, f.size, f.mimeType]), [['in/data.csv', 8, 'text/csv'], ['out/a/chart.png', 108, 'image/png']]);
    assert.ok(!Number.isNaN(Date.parse(listing.body.files[0].modified)));
    assert.equal((await api('DELETE', `/v1/sessions/${id}/files/out`)).status, 200);
    assert.deepEqual((await api('GET', `/v1/sessions/${id}/files`)).body.files.map((f: any) => f.path), ['in/data.csv']);
    assert.equal((await api('GET', `/v1/sessions/${id}/files/out/a/chart.png`)).body.error.code, 'file_not_found');
    // A PUT replaces a file, and the sandbox user can still change it afterwards.
    await api('PUT', `/v1/sessions/${id}/files/in/data.csv`, 'new');
    const after = await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'open("in/data.csv", "a").write("!")\nset_result(open("in/data.csv").read())' });
    assert.equal(after.body.result, 'new!', JSON.stringify(after.body));
  });

  test('paths are checked like execution files: 400 naming the rule', async () => {
    const cases: Array<[string, RegExp]> = [
      ['%2e%2e/escape', /\.\./],
      ['a/%2e%2e/%2e%2e/escape', /\.\./],
      ['%2Fetc%2Fpasswd', /absolute/],
      ['/etc/passwd', /absolute/],
      ['bad%00name', /NUL/],
      ['back%5Cslash', /backslash/],
      [`${'n'.repeat(300)}`, /longer than 255/],
      ['%E0%A4%A', /percent-encoding/],
    ];
    for (const [raw, rule] of cases) {
      const answer = await api('PUT', `/v1/sessions/${id}/files/${raw}`, 'x');
      assert.equal(answer.status, 400, `${raw}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.code, 'invalid_path');
      assert.match(answer.body.error.message, rule, raw);
    }
  });

  test('links the code plants are never followed by the file API or by input files', async () => {
    const plant = await postExecution(d.url, {
      runtime: 'python', sessionId: id,
      code: 'import os\nos.symlink("/etc/passwd", "passwd")\nos.symlink("/etc", "etc")\nos.link("in/data.csv", "hard") if os.path.exists("in/data.csv") else None\nset_result(True)',
    });
    assert.equal(plant.body.status, 'ok', JSON.stringify(plant.body));
    const read = await api('GET', `/v1/sessions/${id}/files/passwd`);
    assert.equal(read.status, 400);
    assert.match(read.body.error.message, /symlink/);
    const through = await api('GET', `/v1/sessions/${id}/files/etc/hostname`);
    assert.equal(through.status, 400);
    assert.match(through.body.error.message, /etc is a symlink/);
    const write = await api('PUT', `/v1/sessions/${id}/files/etc/evil`, 'x');
    assert.equal(write.status, 400);
    assert.match(write.body.error.message, /etc is a symlink/);
    // Replacing the link itself is fine: the link goes, a file takes its place; /etc/passwd is untouched.
    const before = await fs.readFile('/etc/passwd', 'utf8');
    assert.equal((await api('PUT', `/v1/sessions/${id}/files/passwd`, 'mine')).status, 201);
    assert.equal(await fs.readFile('/etc/passwd', 'utf8'), before);
    const input = await postExecution(d.url, { runtime: 'python', sessionId: id, files: [{ path: 'etc/x', content: Buffer.from('x').toString('base64') }], code: 'pass' });
    assert.equal(input.status, 400, JSON.stringify(input.body));
    assert.equal(input.body.error.code, 'invalid_path');
    const listing = await api('GET', `/v1/sessions/${id}/files`);
    assert.ok(!listing.body.files.some((f: any) => f.path.startsWith('etc/')), 'listings do not descend into links');
    assert.equal((await api('DELETE', `/v1/sessions/${id}/files/etc`)).status, 200, 'deleting a link removes the link');
    await fs.access('/etc/hostname');
  });

  test('downloads are streamed whatever their size; listings and downloads agree on the MIME type', async () => {
    const big = d.config.maxFileBytes + 1024 * 1024;
    const made = await postExecution(d.url, { runtime: 'python', sessionId: id, code: `open("big.bin", "wb").write(b"z" * ${big})\nopen("noext", "wb").write(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(10))` });
    assert.equal(made.body.status, 'ok', JSON.stringify(made.body));
    const got = await api('GET', `/v1/sessions/${id}/files/big.bin`);
    assert.equal(got.status, 200);
    assert.equal((got.body as Buffer).length, big);
    const listing = (await api('GET', `/v1/sessions/${id}/files`)).body.files;
    assert.equal(listing.find((f: any) => f.path === 'noext').mimeType, 'image/png');
    assert.equal((await api('GET', `/v1/sessions/${id}/files/noext`)).headers['content-type'], 'image/png');
    assert.deepEqual(listing.map((f: any) => f.path), [...listing.map((f: any) => f.path)].sort(), 'sorted by full path');
    await api('DELETE', `/v1/sessions/${id}/files/big.bin`);
    const through = await api('DELETE', `/v1/sessions/${id}/files/noext/x`);
    assert.equal(through.body.error.code, 'invalid_path', 'a path through a file is refused the same way by every method');
  });

  test('nothing the code can make breaks a listing: an mtime of 10^13 s, names that are not UTF-8, a FIFO, a socket, a link; each is listed and deleted', async () => {
    await runPython(id, [
      'import os, socket',
      'open(b"\\xff.txt", "wb").write(b"not utf-8")',
      'open("far.txt", "w").write("x")',
      'os.utime("far.txt", (1e13, 1e13))',
      'os.makedirs(b"d\\xfe", exist_ok=True)',
      'open(b"d\\xfe/in.csv", "w").write("1,2")',
      'os.mkfifo("pipe")',
      'socket.socket(socket.AF_UNIX).bind("sock")',
      'os.symlink("/etc/passwd", "pw")',
    ]);
    const listing = await api('GET', `/v1/sessions/${id}/files`);
    assert.equal(listing.status, 200, JSON.stringify(listing.body));
    const byPath = new Map<string, any>(listing.body.files.map((f: any) => [f.path, f]));
    assert.deepEqual(byPath.get('%FF.txt'), { ...byPath.get('%FF.txt'), pathEncoding: 'percent', type: 'file', size: 9 });
    assert.equal(byPath.get('d%FE/in.csv')?.mimeType, 'text/csv');
    assert.deepEqual(['pipe', 'sock', 'pw'].map((name) => byPath.get(name)?.type), ['fifo', 'socket', 'symlink']);
    const far = byPath.get('far.txt').modified;
    if (cannotMount) assert.ok(!Number.isNaN(Date.parse(far)), far);
    else assert.equal(far, '+275760-09-13T00:00:00.000Z', 'clamped to the last time a Date can hold');
    const got = await api('GET', `/v1/sessions/${id}/files/%FF.txt`);
    assert.equal(got.status, 200);
    assert.equal(String(got.body), 'not utf-8');
    assert.match(String(got.headers['content-disposition']), /^attachment; filename="_.txt"/);
    const deleted = await api('DELETE', `/v1/sessions/${id}/files/%FF.txt`);
    assert.deepEqual(deleted.body, { path: '%FF.txt', pathEncoding: 'percent', deleted: true });
    for (const name of ['d%FE', 'far.txt', 'pipe', 'sock', 'pw']) assert.equal((await api('DELETE', `/v1/sessions/${id}/files/${name}`)).status, 200, name);
    const after = (await api('GET', `/v1/sessions/${id}/files`)).body.files.map((f: any) => f.path);
    assert.ok(!after.some((p: string) => ['%FF.txt', 'd%FE/in.csv', 'far.txt', 'pipe', 'sock', 'pw'].includes(p)), after.join(' '));
    await fs.access('/etc/passwd');
  });

  test('a file operation starts only once every process of the execution before it is dead', async () => {
    await runPython(id, [
      'import subprocess, sys, time',
      'writer = "import time\\nwhile True:\\n    open(\'counter\', \'w\').write(repr(time.time()))"',
      'subprocess.Popen([sys.executable, "-c", writer], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)',
      'time.sleep(0.5)',
    ]);
    const first = await api('GET', `/v1/sessions/${id}/files/counter`);
    assert.equal(first.status, 200, 'the background writer had written');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await api('GET', `/v1/sessions/${id}/files/counter`);
    assert.equal(String(second.body), String(first.body), 'nothing of the execution wrote after its turn ended');
    await api('DELETE', `/v1/sessions/${id}/files/counter`);
  });

  test('uploads over maxFileBytes are 413; missing files 404', async () => {
    assert.equal((await api('GET', `/v1/sessions/${id}/files/nothing-here`)).body.error.code, 'file_not_found');
    assert.equal((await api('DELETE', `/v1/sessions/${id}/files/nothing-here`)).body.error.code, 'file_not_found');
    const big = await api('PUT', `/v1/sessions/${id}/files/big.bin`, Buffer.alloc(d.config.maxFileBytes + 1));
    assert.equal(big.status, 413);
  });
});

describe('the session file API while its workspace is being swapped', () => {
  test('a directory swapped with a link to a root-only host directory: nothing outside is read, listed, written or removed', { timeout: 120_000 }, async () => {
    const host = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-host-'));
    const id = await createSession();
    try {
      await fs.mkdir(path.join(host, 'victim', 'inner'), { recursive: true });
      for (const name of ['secret', 'marker-only-on-host', 'victim/inner/keep']) await fs.writeFile(path.join(host, name), 'HOST SECRET');
      const before = await fs.readdir(host, { recursive: true });
      for (const name of ['swap/secret', 'swap/victim/inner/keep']) assert.equal((await api('PUT', `/v1/sessions/${id}/files/${name}`, 'workspace')).status, 201);
      // What code of the session could do, done from here (as root on the host) since no code outlives its execution.
      const workspace = path.join(d.workDir, 'sessions', sessionDirName(id), 'workspace');
      await fs.symlink(host, path.join(workspace, 'link'));
      const swapper = await startSwapper(path.join(workspace, 'swap'), path.join(workspace, 'link'));
      const statuses = new Map<string, number>();
      try {
        for (let i = 0; i < 60; i++) {
          for (const name of ['swap', 'link']) {
            const read = await api('GET', `/v1/sessions/${id}/files/${name}/secret`);
            assert.notEqual(String(read.body), 'HOST SECRET', 'a host file was read');
            const wrote = await api('PUT', `/v1/sessions/${id}/files/${name}/new-${i}`, 'x');
            const removed = await api('DELETE', `/v1/sessions/${id}/files/${name}/victim`);
            if (removed.status === 200) await api('PUT', `/v1/sessions/${id}/files/${name}/victim/inner/keep`, 'workspace');
            for (const [what, answer] of [['GET', read], ['PUT', wrote], ['DELETE', removed]] as const) {
              assert.ok([200, 201, 400, 404, 409].includes(answer.status), `${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
              statuses.set(`${what} ${answer.status}`, (statuses.get(`${what} ${answer.status}`) ?? 0) + 1);
            }
          }
          if (i % 10 === 0) {
            const listing = await api('GET', `/v1/sessions/${id}/files`);
            assert.equal(listing.status, 200);
            assert.ok(!listing.body.files.some((f: any) => f.path.includes('marker-only-on-host')), 'a host directory was listed');
          }
        }
      } finally {
        const swaps = await swapper.stop();
        assert.ok(swaps > 100, `the swapper really raced (${swaps} swaps)`);
      }
      assert.deepEqual(await fs.readdir(host, { recursive: true }), before, `the host directory is unchanged (${JSON.stringify([...statuses])})`);
      assert.equal(await fs.readFile(path.join(host, 'victim/inner/keep'), 'utf8'), 'HOST SECRET');
      assert.ok((statuses.get('GET 200') ?? 0) > 0, 'some downloads went through while the real directory was in place');
    } finally {
      await api('DELETE', `/v1/sessions/${id}`);
      await fs.rm(host, { recursive: true, force: true });
    }
  });
});

describe('session quotas', { skip: cannotMount }, () => {
  test('uploads past workspaceBytes get 507 quota_exceeded; code past it gets WorkspaceLimit; the session lives on', async () => {
    const id = await createSession();
    try {
      for (let i = 0; i < 3; i++) assert.equal((await api('PUT', `/v1/sessions/${id}/files/f${i}.bin`, Buffer.alloc(2 * MiB))).status, 201);
      const full = await api('PUT', `/v1/sessions/${id}/files/f3.bin`, Buffer.alloc(3 * MiB));
      assert.equal(full.status, 507, JSON.stringify(full.body));
      assert.equal(full.body.error.code, 'quota_exceeded');
      assert.ok(!(await api('GET', `/v1/sessions/${id}/files`)).body.files.some((f: any) => f.path === 'f3.bin'), 'no partial file is left');
      const run = await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'open("more.bin", "wb").write(bytes(4 * 1024 * 1024))' });
      assert.equal(run.body.status, 'error');
      assert.equal(run.body.error.type, 'WorkspaceLimit');
      const info = await api('GET', `/v1/sessions/${id}`);
      assert.equal(info.body.workspace.maxBytes, 8 * MiB);
      assert.ok(info.body.workspace.usedBytes >= 6 * MiB, JSON.stringify(info.body));
      const files = await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'import os\nfor i in range(1000):\n    open(f"n{i}", "w").close()' });
      assert.equal(files.body.error.type, 'WorkspaceLimit');
      assert.match(files.body.error.message, /workspaceFiles \(200/);
      await api('DELETE', `/v1/sessions/${id}/files/f0.bin`);
      assert.equal((await postExecution(d.url, { runtime: 'python', sessionId: id, code: 'set_result("fine")' })).body.result, 'fine');
    } finally {
      await api('DELETE', `/v1/sessions/${id}`);
    }
  });
});
