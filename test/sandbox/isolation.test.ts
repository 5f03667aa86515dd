// The sandbox for real: what code inside can and cannot see or do. Each check runs hostile code and looks
// at both the answer and the host.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../daemon/config.js';
import { createDaemon } from '../../daemon/server.js';
import { findProcesses, postExecution, startDaemon, waitForNoProcesses, type TestDaemon } from '../helpers/daemon.js';

const isRoot = process.getuid?.() === 0;
let d: TestDaemon;
const CANARY = `canary-${process.pid}-${Date.now()}`;

before(async () => {
  process.env.RUNBOX_TEST_CANARY = CANARY;
  d = await startDaemon();
});
after(() => d.close());

const py = async (code: string, extra: Record<string, unknown> = {}) => {
  const { body } = await postExecution(d.url, { runtime: 'python', code, ...extra });
  assert.notEqual(body.status, undefined, JSON.stringify(body));
  return body;
};

describe('what sandboxed code sees', () => {
  test('an environment built from scratch: no daemon variable, not even through /proc/1/environ', async () => {
    const body = await py([
      'import os, glob',
      'seen = dict(os.environ)',
      'procs = ""',
      'for p in glob.glob("/proc/[0-9]*/environ"):',
      '    try: procs += open(p, "rb").read().decode("latin-1")',
      '    except OSError: pass',
      'set_result({"env": sorted(seen), "canary": ' + JSON.stringify(CANARY) + ' in procs or ' + JSON.stringify(CANARY) + ' in str(seen), "token_gone": "RUNBOX_BRIDGE_TOKEN" not in seen})',
    ].join('\n'));
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.equal(body.result.canary, false);
    assert.equal(body.result.token_gone, true);
    assert.ok(!body.result.env.some((k: string) => k.startsWith('npm_') || k === 'RUNBOX_TEST_CANARY'), body.result.env.join(','));
  });

  test('a private root: no host home directories, the daemon\'s work dir, or other workspaces', async () => {
    const body = await py(`import os\nset_result({"root": sorted(os.listdir("/")), "cwd": os.getcwd(), "host": os.uname().nodename, "uid": os.getuid()})`);
    assert.equal(body.result.cwd, '/workspace');
    assert.equal(body.result.host, 'runbox');
    assert.notEqual(body.result.uid, 0);
    for (const absent of ['root', 'home', 'work', 'srv', 'opt-runbox-work']) assert.ok(!body.result.root.includes(absent), `/${absent} is visible`);
    assert.ok(!body.result.root.includes(path.basename(d.workDir)));
  });

  test('no host boot line, kernel configuration, symbols, timers, keys or boot id in /proc', async () => {
    const hostBootLine = (await fs.readFile('/proc/cmdline', 'utf8')).trim();
    assert.ok(hostBootLine.length > 0, 'the host has a boot line to hide');
    const body = await py([
      'import os',
      'names = ["cmdline", "config.gz", "kallsyms", "modules", "sched_debug", "timer_list", "keys", "key-users", "bootconfig", "sys/kernel/random/boot_id"]',
      'def read(name):',
      '    try: return open("/proc/" + name, "rb").read().decode("latin-1")',
      '    except OSError as e: return type(e).__name__',
      'seen = {name: read(name) for name in names if os.path.exists("/proc/" + name)}',
      'set_result({"seen": seen, "mountinfo": read("self/mountinfo")})',
    ].join('\n'));
    assert.equal(body.status, 'ok', JSON.stringify(body));
    for (const [name, text] of Object.entries(body.result.seen as Record<string, string>)) assert.equal(text, '', `/proc/${name} is empty`);
    assert.ok('cmdline' in body.result.seen, '/proc/cmdline is there, empty');
    assert.ok(!body.result.mountinfo.includes(hostBootLine));
    const hostBootId = await fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '');
    if (hostBootId) assert.ok(!JSON.stringify(body.result).includes(hostBootId.trim()), 'the host\'s boot id');
  });

  test('system directories and the prelude are read-only', async () => {
    const body = await py([
      'out = {}',
      'for p in ["/usr/evil", "/etc/hosts", "/runbox/python/prelude.py", "/bin/sh"]:',
      '    try:\n        open(p, "a").write("x")\n        out[p] = "written"',
      '    except OSError as e:\n        out[p] = type(e).__name__',
      'set_result(out)',
    ].join('\n'));
    for (const [target, outcome] of Object.entries(body.result)) assert.notEqual(outcome, 'written', target);
  });

  test('no network: neither the internet nor the daemon\'s own port', async () => {
    const port = new URL(d.url).port;
    const body = await py([
      'import socket',
      'out = {}',
      `for host, port in [("1.1.1.1", 53), ("127.0.0.1", ${port}), ("169.254.169.254", 80)]:`,
      '    try:\n        s = socket.socket(); s.settimeout(2)\n        s.connect((host, port)); out[host] = "connected"',
      '    except OSError as e:\n        out[host] = type(e).__name__',
      'try:\n    socket.getaddrinfo("example.com", 80); out["dns"] = "resolved"',
      'except OSError as e:\n    out["dns"] = type(e).__name__',
      'import os\nout["ifaces"] = sorted(os.listdir("/sys/class/net")) if os.path.exists("/sys/class/net") else []',
      'set_result(out)',
    ].join('\n'));
    for (const [target, outcome] of Object.entries(body.result)) {
      if (target !== 'ifaces') assert.ok(outcome !== 'connected' && outcome !== 'resolved', `${target}: ${outcome}`);
    }
  });

  test('/tmp is private to each execution', async () => {
    const marker = `left-${Date.now()}`;
    await py(`open("/tmp/${marker}", "w").write("x")\nopen("/var/tmp/${marker}", "w").write("x")`);
    const body = await py(`import os\nset_result([os.path.exists("/tmp/${marker}"), os.path.exists("/var/tmp/${marker}")])`);
    assert.deepEqual(body.result, [false, false]);
  });

  test('the code never runs as host root, and cannot read a file only the daemon\'s user may read', { skip: isRoot ? false : 'the daemon is not root here, so the sandbox runs as the same user and there is no separate sandbox user to check' }, async () => {
    const secret = path.join(d.workDir, 'runtimes', 'python', 'daemon-only.txt');
    await fs.writeFile(secret, 'top secret', { mode: 0o600 });
    const marker = `sleep ${600000 + Math.floor(Math.random() * 90000)}`;
    const pending = py(`import subprocess, time\np = subprocess.Popen("${marker}".split())\ntry:\n    open("/runbox/python/daemon-only.txt").read(); r = "read"\nexcept PermissionError:\n    r = "denied"\ntime.sleep(1.5)\np.kill()\nset_result(r)`);
    let pids: number[] = [];
    for (let i = 0; i < 100 && pids.length === 0; i++) {
      pids = await findProcesses(marker);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(pids.length > 0, 'found the sandboxed process');
    const status = await fs.readFile(`/proc/${pids[0]}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    assert.equal(uid, d.config.sandboxUid);
    const body = await pending;
    assert.equal(body.result, 'denied');
    await waitForNoProcesses(marker);
  });

  test('the bridge is private: only its own socket is there, and a second connection is refused even with the token', async () => {
    const body = await py([
      'import os, socket',
      // The token, as hostile code finds it: in the prelude's frames below its own (its environment no longer has it).
        'import sys\nf = sys._getframe()\nwhile "token" not in f.f_locals: f = f.f_back\ntoken = f.f_locals["token"]',
      's = socket.socket(socket.AF_UNIX)',
      's.connect("/run/runbox/bridge.sock")',
      'key = "dGhlIHNhbXBsZSBub25jZQ=="',
      's.sendall(("GET /bridge HTTP/1.1\\r\\nHost: runbox\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"',
      '           "Sec-WebSocket-Key: " + key + "\\r\\nSec-WebSocket-Version: 13\\r\\nAuthorization: Bearer " + token + "\\r\\n\\r\\n").encode())',
      'answer = s.recv(200).decode(errors="replace").split("\\r\\n")[0]',
      'set_result({"run": sorted(os.listdir("/run/runbox")), "answer": answer})',
    ].join('\n'));
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.deepEqual(body.result.run, ['bridge.sock']);
    assert.match(body.result.answer, /^HTTP\/1\.1 401/);
  });

  test('children that outlive the code are killed with it', async () => {
    const marker = `sleep ${500000 + Math.floor(Math.random() * 90000)}`;
    const body = await py(`import subprocess, os\nif os.fork() == 0:\n    os.setsid()\n    subprocess.Popen("${marker}".split())\n    os._exit(0)\nos.wait()\nset_result("parent done")`);
    assert.equal(body.result, 'parent done');
    await waitForNoProcesses(marker);
  });
});

describe('start-up', () => {
  test('without bubblewrap the daemon refuses to run code and says how to install it', async () => {
    const config = { ...loadConfig({}, []), bwrapPath: 'bwrap-not-installed', workDir: d.workDir, port: 0 };
    await assert.rejects(createDaemon(config, { logger: pino({ level: 'silent' }) }), (error: Error) => {
      assert.equal(error.name, 'StartupError');
      assert.match(error.message, /apt-get install bubblewrap/);
      assert.match(error.message, /--unsafe-no-sandbox/);
      return true;
    });
  });

  test('--unsafe-no-sandbox runs code without a sandbox and says so', async () => {
    const unsafe = await startDaemon({ unsafeNoSandbox: true });
    try {
      const health = await (await fetch(`${unsafe.url}/healthz`)).json();
      assert.equal(health.sandboxed, false);
      const { body } = await postExecution(unsafe.url, { runtime: 'python', code: 'import os\nset_result(os.uname().nodename != "runbox")' });
      assert.equal(body.status, 'ok', JSON.stringify(body));
      assert.equal(body.result, true);
    } finally {
      await unsafe.close();
    }
  });

  test('with a token every HTTP and WebSocket request needs it', async () => {
    const guarded = await startDaemon({ token: 's3cret-token' });
    try {
      assert.equal((await fetch(`${guarded.url}/healthz`)).status, 401);
      assert.equal((await postExecution(guarded.url, { runtime: 'python', code: '' }, { authorization: 'Bearer wrong' })).status, 401);
      const ok = await postExecution(guarded.url, { runtime: 'python', code: 'set_result(1)' }, { authorization: 'Bearer s3cret-token' });
      assert.equal(ok.body.result, 1);
      const { WebSocket } = await import('ws');
      const refused = await new Promise((resolve) => {
        const ws = new WebSocket(guarded.wsUrl);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
        ws.on('open', () => resolve('open'));
        ws.on('error', () => undefined);
      });
      assert.equal(refused, 401);
    } finally {
      await guarded.close();
    }
  });
});
