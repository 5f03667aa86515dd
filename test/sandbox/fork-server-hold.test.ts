// A fork server's child makes nothing until the daemon releases it: one process, still in the server's
// namespaces, until release(); only then does it unshare and fork its init. The daemon releases a child once it
// is in its cgroup, so every process of the sandbox is born inside (daemon/executions/sandbox-instance.ts,
// moveEarly). The fork server and its host are the real ones (prepareHost), with no daemon around them.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../daemon/config.js';
import { sweepLeftovers } from '../../daemon/executions/work-dir.js';
import { prepareHost, type PreparedHost } from '../../daemon/startup.js';
import { parseParentPid, readSync } from '../../daemon/sandbox/process-tree.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'the fork server needs a root daemon (it shares the work directory\'s mounts with the server)';
let host: PreparedHost;
let workDir: string;

before(async () => {
  if (skip) return;
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-hold-'));
  host = await prepareHost(loadConfig({ RUNBOX_WORK_DIR: workDir, RUNBOX_PYTHON_PRELOAD: 'json' }), { logger: pino({ level: 'silent' }) });
  const server = host.forkServer;
  assert.ok(server, 'a fork server on a root host with bubblewrap');
  if (!server.ready) await new Promise<void>((resolve) => server.onReady(resolve));
});

after(async () => {
  if (skip) return;
  await host.forkServer?.close();
  await host.plainForkServer?.close();
  await sweepLeftovers(workDir, host.mounter);
  await host.mounter?.close();
  await host.claim.release();
  await fs.rm(workDir, { recursive: true, force: true });
});

// Host pids whose parent is pid.
async function childrenOf(pid: number): Promise<number[]> {
  const buffer = Buffer.alloc(1024);
  const entries = (await fs.readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  return entries.map(Number).filter((each) => parseParentPid(readSync(`/proc/${each}/stat`, buffer)) === pid);
}

const netNamespaceOf = (pid: number) => fs.readlink(`/proc/${pid}/ns/net`);

describe('a fork server child', { skip }, () => {
  test('makes no process and no namespace until it is released, then goes on', async () => {
    const owner = host.facts.owner as { uid: number; gid: number };
    const rootDir = await fs.mkdtemp(path.join(workDir, 'exec-'));
    await fs.chmod(rootDir, 0o711);
    const workspaceDir = path.join(rootDir, 'workspace');
    const packagesDir = path.join(rootDir, 'packages');
    for (const dir of [workspaceDir, path.join(rootDir, 'tmp'), path.join(packagesDir, 'python'), path.join(packagesDir, 'node')]) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await fs.chown(dir, owner.uid, owner.gid);
    }
    // Something to connect to, so that the released child's prelude waits there (it gets no answer) instead of exiting.
    const bridge = net.createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => bridge.listen(path.join(rootDir, 'bridge.sock'), resolve));
    await fs.chown(path.join(rootDir, 'bridge.sock'), owner.uid, owner.gid);
    const child = await (host.forkServer as NonNullable<PreparedHost['forkServer']>).fork({ rootDir, workspaceDir, packagesDir, token: 'x'.repeat(48) });
    const pid = child.pid as number;
    child.stdout.resume(); // read, as a sandbox's are, or the streams never end
    child.stderr.resume();
    assert.equal(typeof child.release, 'function');
    const serverNet = await netNamespaceOf(Number(parseParentPid(readSync(`/proc/${pid}/stat`, Buffer.alloc(1024)))));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(await childrenOf(pid), [], 'held: it forked nothing');
    assert.equal(await netNamespaceOf(pid), serverNet, 'held: still in the server\'s network namespace');

    child.release?.();
    let forked: number[] = [];
    for (let i = 0; i < 250 && forked.length === 0; i++) {
      forked = await childrenOf(pid);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(forked.length, 1, 'released: it forked its init');
    assert.notEqual(await netNamespaceOf(forked[0]).catch(() => serverNet), serverNet, 'its init is in a network namespace of its own');
    child.kill();
    const exit = await child.exited;
    bridge.close();
    assert.ok(exit.signal !== null || exit.exitCode !== 0, `ended by the kill: ${JSON.stringify(exit)}`);
  });
});
