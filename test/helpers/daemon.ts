// Starts a real daemon on a free loopback port with its own work directory, for tests.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../daemon/config.js';
import { createDaemon, type Daemon } from '../../daemon/server.js';
import { detectCgroupLayout, listSandboxGroups } from '../../daemon/sandbox/cgroups.js';
import { unmountWorkspace, workspaceMountsUnder } from '../../daemon/sandbox/mounts.js';

/** Test daemons of this test process still open: sandbox cgroups are checked when the last one closes. */
const openDaemons = new Set<string>();

export interface TestDaemon {
  url: string;
  wsUrl: string;
  workDir: string;
  config: Config;
  daemon: Daemon;
  /** Closes the daemon and checks that it left no execution directory, workspace mount, sandbox process or
   * (once no other test daemon of this process is open) sandbox cgroup behind. */
  close(): Promise<void>;
}

// A real daemon (real sandboxes, real interpreters) on 127.0.0.1 port 0; overrides change any option.
export async function startDaemon(overrides: Partial<Config> = {}): Promise<TestDaemon> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-test-'));
  const config = loadConfig({}, [], { port: 0, logLevel: 'silent', workDir, ...overrides });
  const logger = pino({ level: config.logLevel });
  const daemon = await createDaemon(config, { logger });
  const { port } = await daemon.listen();
  openDaemons.add(workDir);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    workDir: config.workDir,
    config,
    daemon,
    close: async () => {
      await daemon.close();
      openDaemons.delete(workDir);
      const left = (await fs.readdir(config.workDir)).filter((name) => name.startsWith('exec-'));
      const processes = await findProcesses(config.workDir);
      const mounts = await workspaceMountsUnder(config.workDir);
      for (const mountPoint of mounts) await unmountWorkspace(mountPoint);
      const groups = openDaemons.size === 0 ? await cgroupsOfThisProcess() : [];
      await fs.rm(workDir, { recursive: true, force: true });
      if (left.length > 0) throw new Error(`execution directories left behind: ${left.join(', ')}`);
      if (mounts.length > 0) throw new Error(`workspace mounts left behind: ${mounts.join(', ')}`);
      if (processes.length > 0) throw new Error(`sandbox processes left behind: ${processes.join(', ')}`);
      if (groups.length > 0) throw new Error(`sandbox cgroups left behind: ${groups.join(', ')}`);
    },
  };
}

// The sandbox cgroups that daemons of this test process made and that still exist (none without cgroups).
async function cgroupsOfThisProcess(): Promise<string[]> {
  const layout = await detectCgroupLayout();
  if (typeof layout === 'string') return [];
  return (await listSandboxGroups(layout)).filter((name) => name.startsWith(`${process.pid}-`));
}

// POSTs an execution and returns the status and parsed body.
export async function postExecution(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/v1/executions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

// The pids of live processes whose command line contains `needle` (to prove a sandbox left nothing behind).
export async function findProcesses(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const state = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (cmdline.replaceAll('\0', ' ').includes(needle) && !/\) Z /.test(state)) pids.push(Number(entry));
  }
  return pids;
}

export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** One letter from /proc/<pid>/stat: R, S, D, Z (a zombie: exited, not yet reaped by its parent)... */
  state: string;
  /** Real uid. */
  uid: number;
  /** The command line, arguments joined by spaces. */
  cmdline: string;
}

// Every process this /proc shows (processes that exit meanwhile are left out).
export async function listProcesses(): Promise<ProcessEntry[]> {
  const entries: ProcessEntry[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [stat, status, cmdline] = await Promise.all(['stat', 'status', 'cmdline'].map((file) => fs.readFile(`/proc/${entry}/${file}`, 'utf8').catch(() => '')));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const uid = /^Uid:\s+(\d+)/m.exec(status);
    if (!fields[1] || !uid) continue;
    entries.push({ pid: Number(entry), ppid: Number(fields[1]), state: fields[0], uid: Number(uid[1]), cmdline: cmdline.replaceAll('\0', ' ').trim() });
  }
  return entries;
}

// rootPid's descendants (not rootPid itself) in a process table, found through the parent pids.
export function descendantsOf(rootPid: number, table: readonly ProcessEntry[]): ProcessEntry[] {
  const found: ProcessEntry[] = [];
  const parents = [rootPid];
  for (let i = 0; i < parents.length; i++) {
    for (const entry of table.filter((candidate) => candidate.ppid === parents[i])) {
      found.push(entry);
      parents.push(entry.pid);
    }
  }
  return found;
}

// Waits until no live process matches `needle`, or fails after timeoutMs with what is still there.
export async function waitForNoProcesses(needle: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await findProcesses(needle);
    if (pids.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes matching ${JSON.stringify(needle)} still alive: ${pids.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Base64 of a UTF-8 string or bytes.
export function b64(content: string | Uint8Array): string {
  return Buffer.from(content).toString('base64');
}
