// Starts a real daemon on a free loopback port with its own work directory, for tests. Its configuration goes
// through loadConfig, parsing and cross-checks included, so a test cannot run a daemon the real one would refuse.
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { pino } from 'pino';
import { CONFIG_OPTIONS, loadConfig, type Config } from '../../daemon/config.js';
import { createDaemon, type Daemon, type DaemonDeps } from '../../daemon/server.js';
import { detectCgroupLayout, listSandboxGroups } from '../../daemon/sandbox/cgroups.js';
import { unmountWorkspace, tmpfsMountsUnder } from '../../daemon/sandbox/mounts.js';
import { EXECUTIONS_DIR } from '../../daemon/executions/work-dir.js';

/** Test daemons of this test process still open: sandbox cgroups are checked when the last one closes. */
const openDaemons = new Set<string>();

/** One parsed line of the daemon's log. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface TestDaemon {
  url: string;
  wsUrl: string;
  workDir: string;
  config: Config;
  daemon: Daemon;
  /** Every log line the daemon wrote, parsed (empty unless started with `logs: true`). */
  readonly logs: LogLine[];
  /** Closes the daemon and checks that it left no execution directory, workspace mount, sandbox process or
   * (once no other test daemon of this process is open) sandbox cgroup behind. */
  close(): Promise<void>;
}

/** A test daemon whose log is kept (started with `logs: true`). */
export type LoggedDaemon = TestDaemon;

export interface TestDaemonOptions {
  /** Keep the daemon's log lines in `logs` (at level info unless the overrides set logLevel). @default false */
  readonly logs?: boolean;
  /** PATH the daemon looks for bubblewrap on. @default process.env.PATH */
  readonly searchPath?: string;
}

// The option's value as its environment variable would spell it (lists comma-separated).
function asEnvText(value: unknown): string {
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

// The Config a daemon started with these overrides runs with: each override is written as its environment variable
// and read back through loadConfig (parsers and cross-checks), and must come back as given; throws ConfigError
// (every problem) when the real daemon would refuse it.
export function testConfig(overrides: Partial<Config>, defaults: Partial<Config> = {}): Config {
  const env: Record<string, string> = {};
  const wanted = { ...defaults, ...overrides } as Record<string, unknown>;
  for (const [name, value] of Object.entries(wanted)) {
    if (value === undefined) continue;
    const option = CONFIG_OPTIONS.find((candidate) => candidate.name === name);
    if (!option?.env) throw new Error(`test daemon override ${name}: no such configuration option (see daemon/config.ts)`);
    env[option.env] = asEnvText(value);
  }
  const config = loadConfig(env, []);
  for (const [name, value] of Object.entries(wanted)) {
    const read = (config as unknown as Record<string, unknown>)[name];
    if (value !== undefined && !isDeepStrictEqual(read, value)) {
      throw new Error(`test daemon override ${name}: ${JSON.stringify(value)} reads back as ${JSON.stringify(read)}; give it as the daemon would read it`);
    }
  }
  return config;
}

// A real daemon (real sandboxes, real interpreters) on 127.0.0.1 port 0, without the Python preload (a test about it
// asks for it); overrides change any option, options
// pass deps (connection limits) and keep the log.
export async function startDaemon(overrides: Partial<Config> = {}, options: TestDaemonOptions = {}): Promise<TestDaemon> {
  // A work directory the test names (to start on what a killed daemon left) stays the test's to remove.
  const ownWorkDir = overrides.workDir === undefined;
  const workDir = overrides.workDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'runbox-test-')));
  let config: Config;
  try {
    config = testConfig(overrides, { port: 0, logLevel: options.logs ? 'info' : 'silent', workDir, pythonPreload: [] });
  } catch (error) {
    if (ownWorkDir) await fs.rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      callback();
    },
  });
  const logger = options.logs ? pino({ level: config.logLevel }, sink) : pino({ level: config.logLevel });
  const deps: DaemonDeps = {
    logger,
    ...(options.searchPath !== undefined ? { searchPath: options.searchPath } : {}),
  };
  let daemon: Daemon;
  try {
    daemon = await createDaemon(config, deps);
  } catch (error) {
    if (ownWorkDir) await fs.rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const { port } = await daemon.listen();
  openDaemons.add(workDir);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    workDir: config.workDir,
    config,
    daemon,
    logs,
    close: async () => {
      await daemon.close();
      openDaemons.delete(workDir);
      const left = await executionDirs(config.workDir);
      const processes = await findProcesses(config.workDir);
      const mounts = await tmpfsMountsUnder(config.workDir);
      for (const mountPoint of mounts) await unmountWorkspace(mountPoint);
      const groups = openDaemons.size === 0 ? await cgroupsOfThisProcess() : [];
      if (ownWorkDir) await fs.rm(workDir, { recursive: true, force: true });
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

// A /proc file's text, or '' once its process is gone. Read synchronously: a scan of /proc is a few hundred tiny
// reads, which fs/promises makes cost 20-50 ms of CPU each time (tests poll these scans), against about 1 ms.
function readProcFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

// The execution directories (exec-*) in a work directory: in the executions tmpfs a root daemon mounts there
// (daemon/executions/work-dir.ts), else in the work directory itself; both are looked at.
export async function executionDirs(workDir: string): Promise<string[]> {
  const names = async (dir: string) => (await fs.readdir(dir).catch(() => [] as string[])).filter((name) => name.startsWith('exec-'));
  return [...(await names(workDir)), ...(await names(path.join(workDir, EXECUTIONS_DIR)))];
}

// The pids of live processes whose command line contains `needle` (to prove a sandbox left nothing behind).
export async function findProcesses(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    if (!readProcFile(`/proc/${entry}/cmdline`).replaceAll('\0', ' ').includes(needle)) continue;
    if (!/\) Z /.test(readProcFile(`/proc/${entry}/stat`))) pids.push(Number(entry));
  }
  return pids;
}

export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** Process group: a child inherits it at fork, before it execs anything (its command line is its parent's until then). */
  pgid: number;
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
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [stat, status, cmdline] = ['stat', 'status', 'cmdline'].map((file) => readProcFile(`/proc/${entry}/${file}`));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const uid = /^Uid:\s+(\d+)/m.exec(status);
    if (!fields[1] || !uid) continue;
    entries.push({ pid: Number(entry), ppid: Number(fields[1]), pgid: Number(fields[2]), state: fields[0], uid: Number(uid[1]), cmdline: cmdline.replaceAll('\0', ' ').trim() });
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

// Waits until no live process is in process group pgid (a killed daemon's helpers, such as a mount(8) it had
// just forked), or fails after timeoutMs naming them.
export async function waitForNoProcessGroup(pgid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const members = (await listProcesses()).filter((p) => p.pgid === pgid && p.state !== 'Z');
    if (members.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes of group ${pgid} still alive: ${members.map((p) => `${p.pid} ${p.cmdline}`).join('; ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Base64 of a UTF-8 string or bytes.
export function b64(content: string | Uint8Array): string {
  return Buffer.from(content).toString('base64');
}
