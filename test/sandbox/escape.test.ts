// Hostile code that tries to reach past its own execution: other workspaces, the daemon's secrets, setuid
// binaries, leaked descriptors, the bridge itself. Each attack runs for real; the host is checked afterwards.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { postExecution, startDaemon, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const TOKEN = `daemon-token-${process.pid}-${Date.now()}`;
const auth = { authorization: `Bearer ${TOKEN}` };
before(async () => {
  d = await startDaemon({ token: TOKEN, maxBridgeMessageBytes: 1024 * 1024 });
});
after(() => d.close());

const run = async (runtime: 'python' | 'node', code: string, extra: Record<string, unknown> = {}) => {
  const { status, body } = await postExecution(d.url, { runtime, code, ...extra }, auth);
  assert.equal(status, 200, JSON.stringify(body));
  return body;
};

describe('other executions and the daemon', () => {
  test('a running execution\'s workspace cannot be found from another one', async () => {
    const secret = `secret-${Math.random()}`;
    const holder = run('python', `open("mine.txt", "w").write("${secret}")\nimport time\ntime.sleep(2)`);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const seeker = await run('python', [
      'import os',
      'found = []',
      'for root, dirs, files in os.walk("/", onerror=lambda e: None):',
      '    if root.startswith(("/proc", "/sys", "/usr", "/dev")):',
      '        dirs[:] = []; continue',
      '    for f in files:',
      '        try:',
      `            if "${secret}" in open(os.path.join(root, f), errors="ignore").read(4096): found.append(os.path.join(root, f))`,
      '        except OSError: pass',
      'set_result(found)',
    ].join('\n'));
    assert.deepEqual(seeker.result, []);
    assert.equal((await holder).status, 'ok');
  });

  test('the daemon\'s token is nowhere in the sandbox: not in the environment, /proc, or the command lines', async () => {
    const body = await run('python', [
      'import glob',
      'hits = []',
      'for p in glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline"):',
      '    try:',
      `        if b"${TOKEN}" in open(p, "rb").read(): hits.append(p)`,
      '    except OSError: pass',
      'set_result(hits)',
    ].join('\n'));
    assert.deepEqual(body.result, []);
  });

  test('setuid binaries give no privilege', async () => {
    const body = await run('python', [
      'import subprocess, os',
      'out = {}',
      'for cmd in (["/usr/bin/mount", "-t", "tmpfs", "x", "/mnt"], ["/usr/bin/su", "-c", "id -u"], ["/usr/bin/nsenter", "-t", "1", "-m", "id"]):',
      '    try:',
      '        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)',
      '        out[cmd[0]] = [p.returncode, (p.stdout + p.stderr).strip()[:200]]',
      '    except OSError as e:',
      '        out[cmd[0]] = [None, str(e)]',
      'out["euid"] = os.geteuid()',
      'set_result(out)',
    ].join('\n'));
    assert.equal(body.status, 'ok', JSON.stringify(body));
    for (const binary of ['/usr/bin/mount', '/usr/bin/su', '/usr/bin/nsenter']) {
      assert.notEqual(body.result[binary][0], 0, `${binary} succeeded: ${body.result[binary][1]}`);
    }
    assert.notEqual(body.result.euid, 0);
  });
});

describe('signals and floods', () => {
  test('SIGSTOP to its own process group is cut off by the timeout; the next execution runs', async () => {
    const body = await run('python', 'import os, signal\nprint("stopping", flush=True)\nos.killpg(0, signal.SIGSTOP)', { timeoutMs: 1500 });
    assert.equal(body.status, 'timeout');
    assert.equal(body.stdout, 'stopping\n');
    assert.equal((await run('python', 'set_result("next")')).result, 'next');
  });

  test('kill -1 and killing its parent reach only the sandbox itself', async () => {
    const body = await run('python', [
      'import os, signal, subprocess',
      'subprocess.run(["/bin/kill", "-9", "-1"])',
      'os.kill(os.getppid(), signal.SIGKILL)',
      'print("still here", flush=True)',
    ].join('\n'), { timeoutMs: 10000 });
    assert.ok(['killed', 'error', 'ok'].includes(body.status), JSON.stringify(body));
    const health = await fetch(`${d.url}/healthz`, { headers: auth });
    assert.equal(health.status, 200);
    assert.equal((await run('node', 'return 1 + 1')).result, 2);
  });

  test('endless output without newlines is cut at the cap and stopped by the timeout', async () => {
    const body = await run('node', 'for (;;) process.stdout.write("x".repeat(65536))', { timeoutMs: 1500, limits: { maxOutputBytes: 100000 } });
    assert.equal(body.status, 'timeout');
    assert.match(body.stdout, /^x{100000}\n\[runbox: stdout truncated after 100000 bytes; \d+ more bytes dropped\]\n$/);
  });
});

describe('descriptors and the bridge', () => {
  test('only stdio and the bridge are open when the code starts (Python and Node)', async () => {
    const py = await run('python', [
      'import os',
      'fds = {}',
      'for fd in sorted(int(f) for f in os.listdir("/proc/self/fd")):',
      '    try: fds[fd] = os.readlink(f"/proc/self/fd/{fd}")',
      '    except OSError: pass',
      'set_result(fds)',
    ].join('\n'));
    const pyTargets = Object.entries(py.result as Record<string, string>).filter(([fd]) => Number(fd) > 2);
    // The bridge socket, and the descriptor os.listdir itself had open while listing.
    assert.ok(pyTargets.filter(([, t]) => t.startsWith('socket:')).length === 1, JSON.stringify(py.result));
    assert.ok(pyTargets.every(([, t]) => t.startsWith('socket:') || t.startsWith('/proc/')), JSON.stringify(py.result));
    const node = await run('node', 'const fs = require("fs"); return fs.readdirSync("/proc/self/fd").map((fd) => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { return null; } })');
    const files = (node.result as Array<string | null>).filter((t) => t && !t.startsWith('socket:') && !t.startsWith('pipe:') && !t.startsWith('anon_inode:') && !t.startsWith('/proc/') && !t.startsWith('/dev/'));
    assert.deepEqual(files, [], JSON.stringify(node.result));
  });

  test('a descriptor the daemon inherited without close-on-exec does not reach the sandbox', async () => {
    const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-fd-'));
    const bin = fileURLToPath(new URL('../../../bin/runbox.js', import.meta.url));
    // stdio[3] is a pipe the daemon process inherits as fd 3 without close-on-exec, as a careless parent would pass.
    const daemon = spawn(process.execPath, [bin, 'serve', '--port', '0', '--work-dir', workDir, '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        daemon.stdout!.on('data', (chunk) => {
          out += chunk;
          const match = /listening on (http:\/\/\S+)/.exec(out);
          if (match) resolve(match[1]);
        });
        daemon.once('exit', (code) => reject(new Error(`daemon exited ${code}`)));
      });
      const { body } = await postExecution(url, { runtime: 'python', code: 'import os\nset_result(sorted(int(f) for f in os.listdir("/proc/self/fd")))' });
      assert.equal(body.status, 'ok', JSON.stringify(body));
      // 0-2 stdio, the bridge, and the descriptor of the listing itself: nothing else.
      assert.deepEqual(body.result.slice(0, 3), [0, 1, 2]);
      assert.ok(body.result.length <= 5, `descriptors open in the sandbox: ${JSON.stringify(body.result)}`);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
      await fs.rm(workDir, { recursive: true, force: true });
    }
  });

  test('a result over maxBridgeMessageBytes is refused with a message naming the limit; the next execution is fine', async () => {
    const body = await run('python', 'set_result("x" * (2 * 1024 * 1024))');
    assert.equal(body.status, 'error');
    assert.match(body.error.message, /maxBridgeMessageBytes \(1048576 bytes\)/);
    const next = await run('node', 'return "fine"');
    assert.equal(next.result, 'fine');
  });

  test('garbage written straight onto the bridge socket is a protocol error, not a crash', async () => {
    const body = await run('python', [
      'import os, socket',
      'fd = next(int(f) for f in os.listdir("/proc/self/fd") if int(f) > 2 and os.readlink(f"/proc/self/fd/{f}").startswith("socket:"))',
      's = socket.socket(fileno=os.dup(fd))',
      'frame = b"\\x81\\x8c\\x00\\x00\\x00\\x00not json at"',
      'for _ in range(50): s.sendall(frame)',
      'print("sent")',
    ].join('\n'));
    assert.equal(body.stdout, 'sent\n');
    assert.ok(['error', 'ok'].includes(body.status));
    if (body.status === 'error') assert.match(body.error.message, /not valid JSON|bridge/i);
    assert.equal((await run('python', 'set_result(2)')).result, 2);
  });
});

describe('output files that try to leak the host', () => {
  test('symlinks to devices, huge sparse files, FIFOs and links through /proc are refused without being read', async () => {
    const body = await run('python', [
      'import os',
      'os.symlink("/dev/zero", "zero")',
      'with open("sparse", "wb") as f:\n    f.truncate(100 * 1024**2)',
      'os.mkfifo("pipe")',
      'os.symlink("/proc/self/environ", "env")',
      'set_result("planted", files=["zero", "sparse", "pipe", "env"])',
    ].join('\n'));
    assert.equal(body.status, 'error');
    const reasons = Object.fromEntries(body.fileErrors.map((f: any) => [f.path, f.message]));
    assert.match(reasons.zero, /symlink/);
    assert.match(reasons.sparse, /bytes, over maxFileBytes|fileSizeBytes|too large|File too large/);
    assert.match(reasons.pipe, /not a regular file/);
    assert.match(reasons.env, /symlink/);
    assert.deepEqual(body.files, []);
  });
});
