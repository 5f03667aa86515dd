// Hostile code against the kernel-facing defences, for real: the seccomp filter (namespaces, mounts, tracing,
// keyrings, io_uring, eBPF, sockets, other syscall ABIs), the rlimits, the size-limited /tmp and /dev/shm and
// the read-only root. After each attack the daemon must still run ordinary code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { detectHostLayout, resolveExecutable } from '../../daemon/sandbox/host.js';
import { buildLaunchSpec } from '../../daemon/sandbox/launch.js';
import { SYSCALL_NUMBERS } from '../../daemon/sandbox/seccomp.js';
import { spawnProcess } from '../../daemon/sandbox/spawn.js';
import { findProcesses, postExecution, startDaemon, waitForNoProcesses, type TestDaemon } from '../helpers/daemon.js';

const MiB = 1024 * 1024;
const LIMITS = { tmpBytes: 8 * MiB, fileSizeBytes: MiB, maxOpenFiles: 64, cpuTimeMs: 4000, workspaceBytes: 16 * MiB, workspaceFiles: 400, addressSpaceBytes: 16 * 1024 * MiB };
const cannotMount = process.getuid?.() === 0 ? false : 'workspace size limits need a daemon that may mount a tmpfs (root)';
const column = process.arch === 'arm64' ? 1 : 0;
const unsupportedArch = process.arch === 'x64' || process.arch === 'arm64' ? false : `no seccomp table for ${process.arch}`;
const nr = Object.fromEntries(Object.entries(SYSCALL_NUMBERS).map(([name, numbers]) => [name, numbers[column]]));

let d: TestDaemon;
before(async () => {
  d = await startDaemon(LIMITS);
});
after(() => d.close());

const run = async (runtime: 'python' | 'node', code: string) => {
  const { status, body } = await postExecution(d.url, { runtime, code, timeoutMs: 30_000 });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
};
const py = async (lines: string[]) => {
  const body = await run('python', lines.join('\n'));
  assert.equal(body.status, 'ok', JSON.stringify(body));
  return body.result;
};

// A Python preamble: `call(name, *args)` makes a raw system call and returns 'ok' or the errno's name.
const SYSCALL_HELPER = [
  'import ctypes, errno, os, subprocess, sys',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'libc.syscall.restype = ctypes.c_long',
  `NR = ${JSON.stringify(nr)}`,
  'def outcome(result):',
  '    return "ok" if result != -1 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))',
  'def call(name, *args):',
  '    ctypes.set_errno(0)',
  '    return outcome(libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) for a in args]))',
  'buf = ctypes.create_string_buffer(4096)',
  'addr = ctypes.addressof(buf)',
  'out = {}',
];

describe('the seccomp filter', { skip: unsupportedArch }, () => {
  test('no new namespaces, no mounts, no nested sandbox: each fails with EPERM (clone3 with ENOSYS)', async () => {
    const result = await py([
      ...SYSCALL_HELPER,
      'CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID, SIGCHLD = 0x20000, 0x10000000, 0x40000000, 0x20000000, 17',
      'for flag in ["CLONE_NEWUSER", "CLONE_NEWNS", "CLONE_NEWNET"]:',
      '    out["unshare " + flag] = outcome(libc.unshare(globals()[flag]))',
      'fd = os.open("/proc/self/ns/net", os.O_RDONLY)',
      'out["setns"] = outcome(libc.setns(fd, 0))',
      'out["mount"] = outcome(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))',
      'out["umount2"] = outcome(libc.umount2(b"/tmp", 2))',
      'out["pivot_root"] = call("pivot_root", addr, addr)',
      'out["fsopen"] = call("fsopen", ctypes.addressof(ctypes.create_string_buffer(b"tmpfs")), 0)',
      'out["open_tree"] = call("open_tree", -100, ctypes.addressof(ctypes.create_string_buffer(b"/tmp")), 1)',
      // if the filter let this through it would fork: the child must not run the rest
      'pid = libc.syscall(ctypes.c_long(NR["clone"]), ctypes.c_long(CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD), 0, 0, 0, 0)',
      'if pid == 0: os._exit(0)',
      'out["clone NEWUSER|NEWPID"] = outcome(pid)',
      'out["clone3"] = call("clone3", addr, 88)',
      'out["unshare -U"] = subprocess.run(["unshare", "-U", "true"], capture_output=True).returncode',
      'out["unshare -n"] = subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode',
      'out["bwrap"] = subprocess.run(["bwrap", "--ro-bind", "/", "/", "true"], capture_output=True).returncode',
      'set_result(out)',
    ]);
    const { 'unshare -U': unshareCmd, 'unshare -n': unshareNet, bwrap, clone3, ...denied } = result;
    for (const [what, outcome] of Object.entries(denied)) assert.equal(outcome, 'EPERM', what);
    assert.equal(clone3, 'ENOSYS');
    assert.notEqual(unshareCmd, 0, 'unshare -U true');
    assert.notEqual(unshareNet, 0, 'unshare -rn true');
    assert.notEqual(bwrap, 0, 'bwrap inside the sandbox');
  });

  test('no tracing, keyrings, io_uring, eBPF, perf, userfaultfd, file handles, TIOCSTI or odd personalities', async () => {
    const result = await py([
      ...SYSCALL_HELPER,
      'import fcntl, termios',
      'PTRACE_TRACEME, PTRACE_ATTACH = 0, 16',
      'out["ptrace attach 1"] = outcome(libc.ptrace(PTRACE_ATTACH, 1, None, None))',
      'out["ptrace traceme"] = outcome(libc.ptrace(PTRACE_TRACEME, 0, None, None))',
      'out["process_vm_readv"] = call("process_vm_readv", 1, addr, 1, addr, 1, 0)',
      'out["keyctl"] = call("keyctl", 0, -3, 0)',
      'out["add_key"] = call("add_key", ctypes.addressof(ctypes.create_string_buffer(b"user")), ctypes.addressof(ctypes.create_string_buffer(b"k")), addr, 1, -3)',
      'out["io_uring_setup"] = call("io_uring_setup", 1, addr)',
      'out["bpf"] = call("bpf", 0, addr, 64)',
      'out["perf_event_open"] = call("perf_event_open", addr, 0, -1, -1, 0)',
      'out["userfaultfd"] = call("userfaultfd", 0)',
      'out["open_by_handle_at"] = call("open_by_handle_at", -100, addr, 0)',
      'out["kexec_load"] = call("kexec_load", 0, 0, 0, 0)',
      'out["init_module"] = call("init_module", addr, 1, addr)',
      'out["personality ADDR_NO_RANDOMIZE"] = outcome(libc.personality(0x0040000))',
      'try:\n    fcntl.ioctl(1, termios.TIOCSTI, b"x"); out["TIOCSTI"] = "ok"',
      'except OSError as e:\n    out["TIOCSTI"] = errno.errorcode[e.errno]',
      // allowed neighbours of the denied calls keep working
      'allowed = {}',
      'allowed["personality query"] = libc.personality(0xffffffff)',
      'r, w = os.pipe(); os.write(w, b"abc")',
      'allowed["FIONREAD"] = int.from_bytes(fcntl.ioctl(r, termios.FIONREAD, b"\\0\\0\\0\\0"), "little")',
      'set_result({"denied": out, "allowed": allowed})',
    ]);
    for (const [what, outcome] of Object.entries(result.denied)) assert.equal(outcome, 'EPERM', what);
    assert.deepEqual(result.allowed, { 'personality query': 0, FIONREAD: 3 });
  });

  test('sockets: Unix sockets work, every other family fails with EPERM (Python)', async () => {
    const result = await py([
      'import socket, errno',
      'out = {}',
      'for name, family, kind in [("tcp", socket.AF_INET, socket.SOCK_STREAM), ("udp", socket.AF_INET, socket.SOCK_DGRAM),',
      '        ("tcp6", socket.AF_INET6, socket.SOCK_STREAM), ("netlink", socket.AF_NETLINK, socket.SOCK_RAW),',
      '        ("packet", socket.AF_PACKET, socket.SOCK_RAW), ("vsock", 40, socket.SOCK_STREAM), ("alg", 38, socket.SOCK_SEQPACKET)]:',
      '    try:\n        socket.socket(family, kind).close(); out[name] = "created"',
      '    except OSError as e:\n        out[name] = errno.errorcode.get(e.errno, str(e.errno))',
      'a, b = socket.socketpair()',
      'a.sendall(b"ping"); out["socketpair"] = b.recv(4).decode()',
      'u = socket.socket(socket.AF_UNIX); u.bind("/tmp/s.sock"); u.listen(); out["unix listen"] = "ok"',
      'set_result(out)',
    ]);
    const { socketpair, 'unix listen': unixListen, ...others } = result;
    for (const [family, outcome] of Object.entries(others)) assert.equal(outcome, 'EPERM', family);
    assert.equal(socketpair, 'ping');
    assert.equal(unixListen, 'ok');
  });

  test('the runtimes still work: threads, processes, multiprocessing, asyncio, shared memory, numpy and matplotlib', async () => {
    const result = await py([
      'import asyncio, multiprocessing, subprocess, threading',
      'from multiprocessing import shared_memory',
      'import numpy as np, matplotlib.pyplot as plt',
      'out = {}',
      't = threading.Thread(target=lambda: out.__setitem__("thread", "ok")); t.start(); t.join()',
      'out["subprocess"] = subprocess.run(["echo", "hi"], capture_output=True, text=True).stdout.strip()',
      'with multiprocessing.Pool(2) as pool: out["pool"] = pool.map(abs, [-1, -2])',
      'asyncio.run(asyncio.sleep(0)); out["asyncio"] = "ok"',
      'm = shared_memory.SharedMemory(create=True, size=4096); m.buf[0] = 7; out["shm"] = m.buf[0]; m.close(); m.unlink()',
      'out["numpy"] = int(np.arange(10).sum())',
      'plt.plot([1, 2]); plt.savefig("chart.png"); out["chart"] = "ok"',
      'set_result(out)',
    ]);
    assert.deepEqual(result, { thread: 'ok', subprocess: 'hi', pool: [1, 2], asyncio: 'ok', shm: 7, numpy: 45, chart: 'ok' });
  });

  test('Node: TCP and UDP fail with EPERM, Unix sockets, workers and child processes work', async () => {
    const body = await run('node', [
      "const net = require('node:net'), dgram = require('node:dgram'), cp = require('node:child_process');",
      "const { Worker } = require('node:worker_threads');",
      'const out = {};',
      "out.tcp = await new Promise((resolve) => { const s = net.createServer(); s.on('error', (e) => resolve(e.code)); s.listen(0, '127.0.0.1', () => { s.close(); resolve('listening'); }); });",
      "out.udp = await new Promise((resolve) => { const s = dgram.createSocket('udp4'); s.on('error', (e) => resolve(e.code)); s.bind(0, () => { s.close(); resolve('bound'); }); });",
      "out.unix = await new Promise((resolve) => { const s = net.createServer(); s.on('error', (e) => resolve(e.code)); s.listen('/tmp/n.sock', () => { s.close(); resolve('listening'); }); });",
      "out.worker = await new Promise((resolve) => { const w = new Worker('require(\"node:worker_threads\").parentPort.postMessage(6 * 7)', { eval: true }); w.on('message', resolve); w.on('error', (e) => resolve(String(e))); });",
      "out.child = cp.spawnSync('echo', ['hi']).stdout.toString().trim();",
      "out.unshare = cp.spawnSync('unshare', ['-U', 'true']).status;",
      'setResult(out);',
    ].join('\n'));
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.deepEqual(body.result, { tcp: 'EPERM', udp: 'EPERM', unix: 'listening', worker: 42, child: 'hi', unshare: 1 });
  });

  test('other system call ABIs: x32 calls fail with ENOSYS, the 32-bit int 0x80 entry kills the process', { skip: process.arch === 'x64' ? false : 'x86_64 only' }, async (t) => {
    const machineCode = [
      'import ctypes, mmap',
      'def run_code(hex_code):',
      '    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)',
      '    m.write(bytes.fromhex(hex_code))',
      '    return ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))()',
      'GETPID_X32 = "b827000040" "0f05" "c3"  # mov eax, 0x40000000|39; syscall; ret',
      'GETPID_INT80 = "b814000000" "cd80" "c3"  # mov eax, 20 (i386 getpid); int 0x80; ret',
    ];
    // Without the filter int 0x80 works on this kernel only if it has IA32 emulation; find out on the host.
    const host = spawnSync('/usr/bin/python3', ['-c', [...machineCode, 'print(run_code(GETPID_INT80))'].join('\n')], { encoding: 'utf8' });
    const hostHasInt80 = host.status === 0 && Number(host.stdout) > 0;
    const result = await py([
      ...machineCode,
      'import subprocess, sys',
      'child = subprocess.run([sys.executable, "-c", "\\n".join([' + machineCode.map((line) => JSON.stringify(line)).join(', ') + ', "print(run_code(GETPID_INT80))"])], capture_output=True)',
      'set_result({"x32": run_code(GETPID_X32), "int80": child.returncode})',
    ]);
    assert.equal(result.x32, -38, 'x32 getpid returns -ENOSYS');
    if (!hostHasInt80) t.diagnostic('this kernel has no IA32 emulation, so int 0x80 fails with or without the filter');
    else assert.equal(result.int80, -31, 'killed by SIGSYS');
  });

  test('after all that, the next executions run normally', async () => {
    assert.equal((await run('python', 'set_result(6 * 7)')).result, 42);
    assert.equal((await run('node', 'setResult(6 * 7)')).result, 42);
  });
});

describe('rlimits', () => {
  test('the limits are set: open files, file size, no core dumps, CPU time', async () => {
    const result = await py([
      'import resource',
      'set_result({n: resource.getrlimit(getattr(resource, "RLIMIT_" + n)) for n in ["NOFILE", "FSIZE", "CORE", "CPU"]})',
    ]);
    const cpu = Math.ceil(LIMITS.cpuTimeMs / 1000) + 1;
    assert.deepEqual(result, { NOFILE: [64, 64], FSIZE: [MiB, MiB], CORE: [0, 0], CPU: [cpu, cpu + 1] });
  });

  test('a file larger than fileSizeBytes fails with EFBIG, in Python and in Node', async () => {
    const result = await py([
      'import errno, os',
      'f = open("big.bin", "wb", buffering=0)',
      'try:\n    f.write(b"x" * (2 * 1024 * 1024)); f.write(b"x"); outcome = "written"',
      'except OSError as e:\n    outcome = errno.errorcode[e.errno]',
      'set_result({"outcome": outcome, "size": os.path.getsize("big.bin")})',
    ]);
    assert.deepEqual(result, { outcome: 'EFBIG', size: MiB });
    const node = await run('node', "const fs = require('node:fs');\ntry { fs.writeFileSync('big.bin', Buffer.alloc(2 * 1024 * 1024)); setResult('written'); } catch (e) { setResult(e.code); }");
    assert.equal(node.status, 'ok', JSON.stringify(node));
    assert.equal(node.result, 'EFBIG');
  });

  test('opening more than maxOpenFiles fails with EMFILE', async () => {
    const result = await py([
      'import errno, os',
      'held = []',
      'try:',
      '    while len(held) < 1000: held.append(os.open("/dev/null", os.O_RDONLY))',
      '    outcome = "no limit"',
      'except OSError as e:',
      '    outcome = errno.errorcode[e.errno]',
      'top = max(held)',
      'for fd in held: os.close(fd)',
      'set_result({"outcome": outcome, "highest": top})',
    ]);
    assert.equal(result.outcome, 'EMFILE');
    assert.equal(result.highest, LIMITS.maxOpenFiles - 1, 'descriptors 0 to maxOpenFiles - 1, then EMFILE');
  });
});

describe('size-limited /tmp and /dev/shm, read-only root', () => {
  // Fills a directory with 256 KiB files (each under fileSizeBytes) until the tmpfs is full.
  const fill = (dir: string) => [
    'import errno, os',
    'written, outcome = 0, "never full"',
    'chunk = b"x" * (256 * 1024)',
    'for i in range(1000):',
    '    try:',
    `        with open("${dir}/fill-%d" % i, "wb") as f: written += f.write(chunk)`,
    '    except OSError as e:',
    '        outcome = errno.errorcode[e.errno]; break',
    `set_result({"outcome": outcome, "written": written, "listing": len(os.listdir("${dir}"))})`,
  ];

  for (const dir of ['/tmp', '/dev/shm', '/var/tmp']) {
    test(`filling ${dir} stops with ENOSPC at about tmpBytes`, async () => {
      const result = await py(fill(dir));
      assert.equal(result.outcome, 'ENOSPC');
      assert.ok(result.written <= LIMITS.tmpBytes && result.written >= LIMITS.tmpBytes - MiB, `wrote ${result.written} bytes`);
    });
  }

  test('what one execution left in /tmp, /var/tmp and /dev/shm is gone for the next, which has the space again', async () => {
    await py(['for d in ["/tmp", "/var/tmp", "/dev/shm"]:', '    open(d + "/left-behind", "w").write("x")', 'set_result(True)']);
    const result = await py([
      'import os',
      'left = [d for d in ["/tmp", "/var/tmp", "/dev/shm"] if any(n.startswith(("left-behind", "fill-")) for n in os.listdir(d))]',
      'st = os.statvfs("/tmp")',
      'set_result({"left": left, "freeBytes": st.f_bavail * st.f_frsize, "varTmp": os.path.realpath("/var/tmp")})',
    ]);
    assert.deepEqual(result.left, []);
    assert.equal(result.varTmp, '/tmp', '/var/tmp is a link to /tmp, sharing its limit');
    assert.ok(result.freeBytes >= LIMITS.tmpBytes - MiB, `free: ${result.freeBytes}`);
  });

  test('outside the workspace, /tmp and /dev/shm nothing is writable: the root, /var, /run, /dev, /etc', async () => {
    const result = await py([
      'import errno',
      'out = {}',
      'for p in ["/evil", "/var/evil", "/run/evil", "/run/runbox/evil", "/dev/evil", "/etc/evil", "/runbox/evil"]:',
      '    try:\n        open(p, "w").write("x"); out[p] = "written"',
      '    except OSError as e:\n        out[p] = errno.errorcode[e.errno]',
      'open("/workspace/fine.txt", "w").write("x")',
      'open("/dev/null", "w").write("x")',
      'set_result(out)',
    ]);
    for (const [target, outcome] of Object.entries(result)) assert.equal(outcome, 'EROFS', target);
  });

  test('Node: /dev/shm fills up with ENOSPC too, and the daemon stays healthy', async () => {
    const body = await run('node', [
      "const fs = require('node:fs');",
      'let written = 0;',
      "try { for (let i = 0; i < 1000; i++) { fs.writeFileSync(`/dev/shm/f${i}`, Buffer.alloc(256 * 1024)); written += 256 * 1024; } setResult('never full'); }",
      'catch (e) { setResult({ code: e.code, written }); }',
    ].join('\n'));
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.equal(body.result.code, 'ENOSPC');
    const health = await fetch(`${d.url}/healthz`);
    assert.equal(health.status, 200, JSON.stringify(await health.json()));
    assert.equal((await run('python', 'set_result("fine")')).result, 'fine');
  });
});

describe('size-limited workspace (a tmpfs per execution)', { skip: cannotMount }, () => {
  test('filling the workspace stops with ENOSPC at about workspaceBytes; uncaught, the error names the limit', async () => {
    const caught = await py([
      'import errno',
      'written, outcome = 0, "never full"',
      'chunk = b"x" * (256 * 1024)',
      'try:',
      '    for i in range(1000):',
      '        with open("fill-%d" % i, "wb") as f: written += f.write(chunk)',
      'except OSError as e:',
      '    outcome = errno.errorcode[e.errno]',
      'set_result({"outcome": outcome, "written": written})',
    ]);
    assert.equal(caught.outcome, 'ENOSPC');
    assert.ok(caught.written <= LIMITS.workspaceBytes && caught.written >= LIMITS.workspaceBytes - MiB, `wrote ${caught.written} bytes`);
    const uncaught = await run('python', 'for i in range(1000):\n    open("fill-%d" % i, "wb").write(b"x" * (256 * 1024))');
    assert.equal(uncaught.status, 'error');
    assert.equal(uncaught.error.type, 'WorkspaceLimit');
    assert.match(uncaught.error.message, new RegExp(`workspaceBytes \\(${LIMITS.workspaceBytes} bytes\\).*OSError.*No space left`));
  });

  test('a million small files stop at workspaceFiles, quickly, with an error naming it', async () => {
    const started = Date.now();
    const body = await run('python', ['import os', 'for i in range(1_000_000):', '    open(f"f{i}", "w").close()'].join('\n'));
    assert.equal(body.status, 'error', JSON.stringify(body.error));
    assert.equal(body.error.type, 'WorkspaceLimit');
    assert.match(body.error.message, new RegExp(`workspaceFiles \\(${LIMITS.workspaceFiles} files and directories\\)`));
    assert.ok(Date.now() - started < 20_000, 'cut off by the inode limit, not by the timeout');
  });

  test('Node: the workspace fills up with ENOSPC too', async () => {
    const body = await run('node', [
      "const fs = require('node:fs');",
      'let written = 0;',
      "try { for (let i = 0; i < 1000; i++) { fs.writeFileSync(`w${i}`, Buffer.alloc(256 * 1024)); written += 256 * 1024; } setResult('never full'); }",
      'catch (e) { setResult({ code: e.code, written }); }',
    ].join('\n'));
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.equal(body.result.code, 'ENOSPC');
  });

  test('the next execution gets an empty workspace with all its space, and no workspace stays mounted', async () => {
    await py(['open("left-behind", "w").write("x" * 1000)', 'set_result(True)']);
    const result = await py(['import os', 'st = os.statvfs(".")', 'set_result({"files": os.listdir("."), "free": st.f_bavail * st.f_frsize, "inodes": st.f_files})']);
    assert.deepEqual(result.files, []);
    assert.ok(result.free >= LIMITS.workspaceBytes - MiB, `free: ${result.free}`);
    assert.equal(result.inodes, LIMITS.workspaceFiles);
    // Cleanup runs after the answer: give it a moment, then only the warm sandboxes (one per runtime) hold a mount.
    const mounted = async () => (await fs.readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((line) => line.includes(d.workDir) && line.includes('runbox-workspace')).length;
    // One reading decides: a second one may catch the warm pool mounting the used sandbox's replacement.
    let count = await mounted();
    for (let i = 0; i < 200 && count > 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      count = await mounted();
    }
    assert.ok(count <= 2, `only the warm sandboxes' workspaces are mounted: ${count}`);
  });
});

describe('RLIMIT_AS, a backstop above the memory cgroup', () => {
  test('Python cannot reserve more address space than addressSpaceBytes, even untouched', async () => {
    const result = await py([
      'import mmap',
      'try:',
      `    m = mmap.mmap(-1, ${LIMITS.addressSpaceBytes + 1024 * MiB}); outcome = "mapped"`,
      'except OSError as e:',
      '    outcome = type(e).__name__ + ": " + str(e)',
      'small = mmap.mmap(-1, 64 * 1024 * 1024)',
      'set_result(outcome)',
    ]);
    assert.match(result, /Cannot allocate memory|ENOMEM/);
  });

  test('Node still starts and can create a WebAssembly memory under it', async () => {
    const body = await run('node', 'const memory = new WebAssembly.Memory({ initial: 16 }); setResult(memory.buffer.byteLength)');
    assert.equal(body.status, 'ok', JSON.stringify(body));
    assert.equal(body.result, 16 * 65536);
  });
});

describe('killing a sandbox while bubblewrap is still setting it up', () => {
  // bubblewrap's child binds itself to bubblewrap's life only at the end of its set-up: killed alone in the first
  // milliseconds, bubblewrap would leave that child behind, holding the output pipes so the exit never settles.
  test('every one dies and settles, whenever the kill comes; nothing is left behind', async () => {
    const bwrapPath = await resolveExecutable('bwrap', process.env.PATH);
    assert.ok(bwrapPath, 'bubblewrap is installed');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-early-kill-'));
    try {
      await fs.chmod(dir, 0o755);
      for (const sub of ['rt/python', 'rt/node', 'rt/etc', 'ws']) await fs.mkdir(path.join(dir, sub), { recursive: true });
      for (const name of ['passwd', 'group', 'hosts', 'empty']) await fs.writeFile(path.join(dir, 'rt/etc', name), '');
      await fs.writeFile(path.join(dir, 'b.sock'), '');
      const owner = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
      if (owner) await fs.chown(path.join(dir, 'ws'), owner.uid, owner.gid);
      const facts = {
        bwrapPath, layout: await detectHostLayout(), runtimeDir: path.join(dir, 'rt'), pythonEnv: d.config.pythonEnv, nodePath: process.execPath,
        matplotlibCache: [], ...(owner ? { owner } : {}), limits: { ...LIMITS, cpuTimeMs: d.config.cpuTimeMs },
      };
      const input = { runtime: 'python' as const, workspaceDir: path.join(dir, 'ws'), privateTmpDir: dir, socketPath: path.join(dir, 'b.sock'), token: '', command: ['/bin/sleep', '600'] };
      const stuck: number[] = [];
      for (let batch = 0; batch < 8; batch++) {
        await Promise.all(Array.from({ length: 25 }, async (_, i) => {
          const child = spawnProcess(buildLaunchSpec(facts, input));
          child.stdout.resume();
          child.stderr.resume();
          const delayMs = (batch * 25 + i) % 15;
          if (delayMs === 0) child.kill();
          else setTimeout(() => child.kill(), delayMs);
          let timer: NodeJS.Timeout | undefined;
          const settled = await Promise.race([child.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 10_000)))]);
          clearTimeout(timer);
          if (!settled) stuck.push(delayMs);
        }));
      }
      assert.deepEqual(stuck, [], 'kills after these delays (ms) never settled');
      await waitForNoProcesses(dir);
    } finally {
      for (const pid of await findProcesses(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
