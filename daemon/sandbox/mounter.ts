// The daemon's mount helper: one long-lived process (runtimes/host/mounter.py) that calls mount(2) and umount2(2)
// for the daemon, so that mounting and unmounting each execution's workspace tmpfs spawns no process (each spawn
// of mount(8) or umount(8) forks the whole daemon, two per execution). Requests go down its standard input, one
// JSON line each with an id, and are answered in order on its standard output. A request not answered within
// requestTimeoutMs fails, and the helper is killed; a helper that dies fails what it had not answered, and the
// next request starts a new one. docs/security.md ("The mount helper", under Limits) says why it runs as it does.
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { findRuntimeSources } from './host.js';
import { buildWorkspaceMountOptions, EXECUTIONS_FS_NAME, EXECUTIONS_MOUNT_OPTIONS, MountError, type WorkspaceOwner, type WorkspaceSize } from './mounts.js';
import { spawnProcess, type SpawnSpec, type SpawnedProcess } from './spawn.js';

/** How long one request may wait for its answer (a tmpfs mount takes microseconds). */
export const DEFAULT_MOUNT_REQUEST_TIMEOUT_MS = 10_000;
/** How long close() waits for the helper to exit after its input closed, before it is killed. */
const CLOSE_TIMEOUT_MS = 2_000;
/** The interpreter used when the runtime environment has none fit to run as root. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
/** Longest line of the helper's standard error passed on to the daemon's log. */
const MAX_LOG_LINE = 2000;

export interface MounterOptions {
  /** The Python interpreter that runs the helper (chooseMounterPython). */
  readonly python: string;
  /** The helper script (findMounterScript: runtimes/host/mounter.py). */
  readonly script: string;
  readonly logger: Logger;
  /** How long one request may take to be answered; then it fails and the helper is killed. @default 10000 */
  readonly requestTimeoutMs?: number;
}

/** One command to the helper, without its id (runtimes/host/mounter.py lists them). */
type MounterCommand =
  | { readonly op: 'ping' }
  | { readonly op: 'release_on_exit'; readonly dir: string; readonly prefix: string }
  | { readonly op: 'mount_tmpfs'; readonly dir: string; readonly options: string; readonly name?: string }
  | { readonly op: 'umount'; readonly dir: string; readonly lazy: boolean }
  | { readonly op: 'bind'; readonly source: string; readonly dir: string }
  | { readonly op: 'make_shared'; readonly dir: string };

interface Pending {
  /** What the request does, for its error message ("mount a tmpfs on /w/exec-1/workspace"). */
  readonly what: string;
  readonly helper: SpawnedProcess;
  readonly timer: NodeJS.Timeout;
  resolve(): void;
  reject(error: MountError): void;
}

// Pure: the helper's command line. -I (isolated: no PYTHON* variables, no user site directory, not even the
// script's own directory on sys.path) and -S (no site module, so no site-packages and no .pth file is read):
// the helper runs as root, so it imports nothing but the standard library of its interpreter, whatever the
// environment or a package install put where. -B writes no bytecode next to anything. The daemon's pid is its
// argument: it checks that the daemon is still its parent once it has asked to die with it (PR_SET_PDEATHSIG).
export function buildMounterSpec(python: string, script: string, daemonPid: number): SpawnSpec {
  // In the daemon's process group, so that whoever waits for a killed daemon's group to be gone waits for it too
  // (as for a mount(8) it forked); it ignores the SIGINT and SIGTERM sent to the group, and ends with its pipe.
  return { file: python, args: ['-I', '-S', '-B', script, String(daemonPid)], env: {}, cwd: '/', processGroup: false, input: true };
}

// The interpreter to run the helper with: the runtime environment's python3 (made by scripts/setup.sh as root;
// sandboxes see it read-only and never write it), else the system's. Only a file owned by root that no one else
// may write runs as root; null when there is none.
export async function chooseMounterPython(pythonEnv: string): Promise<string | null> {
  for (const candidate of [path.join(pythonEnv, 'bin', 'python3'), SYSTEM_PYTHON]) {
    try {
      await fs.access(candidate, constants.X_OK);
      const stat = await fs.stat(candidate);
      if (stat.isFile() && stat.uid === 0 && (stat.mode & 0o022) === 0) return candidate;
    } catch {
      // try the next one
    }
  }
  return null;
}

// The helper script of this package: runtimes/host/mounter.py, beside the preludes (prepareRuntimeDir copies only
// runtimes/python and runtimes/node for sandboxes, so this one is never bound into any).
export async function findMounterScript(): Promise<string> {
  return path.join(await findRuntimeSources(), 'host', 'mounter.py');
}

// The daemon's mount helper, from start() to close().
export class Mounter {
  private helper: SpawnedProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private launches = 0;
  private closed = false;
  /** What releaseOnExit() named, told again to each helper started after. */
  private release: { readonly dir: string; readonly prefix: string } | null = null;

  private constructor(private readonly options: MounterOptions) {}

  // Starts the helper and waits for its first answer; throws MountError when it cannot start (no Python, a
  // broken script), with nothing left running.
  static async start(options: MounterOptions): Promise<Mounter> {
    const mounter = new Mounter(options);
    try {
      await mounter.request({ op: 'ping' }, 'start the mount helper');
    } catch (error) {
      await mounter.close();
      throw error;
    }
    return mounter;
  }

  /** The helper's pid while one runs (a test kills it). */
  get pid(): number | undefined {
    return this.helper?.pid;
  }

  // Mounts a workspace tmpfs on dir, an absolute path: nosuid and nodev (the helper always sets those flags),
  // with buildWorkspaceMountOptions as its data.
  mountTmpfs(dir: string, size: WorkspaceSize, owner?: WorkspaceOwner): Promise<void> {
    return this.request({ op: 'mount_tmpfs', dir, options: buildWorkspaceMountOptions(size, owner) }, `mount a tmpfs on ${dir}`);
  }

  // Mounts the tmpfs that holds the execution directories on dir (work-dir.ts, mountExecutionsDir).
  mountExecutions(dir: string): Promise<void> {
    return this.request({ op: 'mount_tmpfs', dir, options: EXECUTIONS_MOUNT_OPTIONS, name: EXECUTIONS_FS_NAME }, `mount the executions tmpfs on ${dir}`);
  }

  // Names the freezer parent of the daemon's cgroups and the prefix of their names: when the daemon dies (or
  // closes the helper's pipe), the helper kills every process of those groups and thaws them, so that a sandbox
  // frozen at its report does not stay frozen, unkillable, after a SIGKILLed daemon (runtimes/host/mounter.py).
  releaseOnExit(dir: string, prefix: string): Promise<void> {
    this.release = { dir, prefix };
    return this.request({ op: 'release_on_exit', dir, prefix }, `tell the mount helper where the frozen sandboxes are (${dir})`);
  }

  // Unmounts what is mounted at dir (never following a symbolic link there); lazily: detached at once, freed
  // once nothing holds it.
  unmount(dir: string, { lazy = false }: { lazy?: boolean } = {}): Promise<void> {
    return this.request({ op: 'umount', dir, lazy }, `${lazy ? 'lazily unmount' : 'unmount'} ${dir}`);
  }

  // Binds source onto dir (both absolute), not recursively, like mount --bind.
  bind(source: string, dir: string): Promise<void> {
    return this.request({ op: 'bind', source, dir }, `bind ${source} onto ${dir}`);
  }

  // Makes the mount at dir shared, like mount --make-shared.
  makeShared(dir: string): Promise<void> {
    return this.request({ op: 'make_shared', dir }, `make the mount at ${dir} shared`);
  }

  // Ends the helper: its input closes and it exits (killed if it has not within a moment). Requests still
  // unanswered fail; later ones are refused. Never rejects; safe to call twice.
  async close(): Promise<void> {
    this.closed = true;
    const helper = this.helper;
    if (!helper) return;
    helper.stdin?.end();
    const timer = setTimeout(() => helper.kill(), CLOSE_TIMEOUT_MS);
    await helper.exited;
    clearTimeout(timer);
  }

  // Sends one command and settles with its answer; a refusal, a timeout or the helper's death is a MountError.
  private request(command: MounterCommand, what: string): Promise<void> {
    if (this.closed) return Promise.reject(new MountError(`${what} failed: the mount helper is closed`, ''));
    const helper = this.helper ?? this.launch();
    const id = this.nextId++;
    const timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_MOUNT_REQUEST_TIMEOUT_MS;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.timedOut(id, timeoutMs), timeoutMs);
      this.pending.set(id, { what, helper, timer, resolve, reject });
      helper.stdin?.write(`${JSON.stringify({ id, ...command })}\n`);
    });
  }

  private launch(): SpawnedProcess {
    const { python, script, logger } = this.options;
    if (this.launches++ > 0) logger.warn('starting the mount helper again');
    const helper = spawnProcess(buildMounterSpec(python, script, process.pid));
    this.helper = helper;
    readLines(helper.stdout, (line) => this.onAnswer(line));
    readLines(helper.stderr, (line) => logger.warn({ mounter: line.slice(0, MAX_LOG_LINE) }, 'the mount helper says'));
    void helper.exited.then((exit) => {
      if (this.helper === helper) this.helper = null;
      if (exit.spawnError) return this.failAll(helper, `the mount helper could not start: ${exit.spawnError}`);
      const unanswered = this.failAll(helper, `the mount helper exited (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`})`);
      if (!this.closed) logger.warn({ exit, unanswered }, 'the mount helper exited; the next mount starts it again');
    });
    // A new helper is told first what the one before knew.
    const release = this.release;
    if (release) {
      this.request({ op: 'release_on_exit', ...release }, 'tell the mount helper where the frozen sandboxes are').catch((error: unknown) => logger.error({ err: error }, 'the mount helper could not be told where the frozen sandboxes are'));
    }
    return helper;
  }

  private onAnswer(line: string): void {
    let answer: { id?: unknown; ok?: unknown; errno?: unknown; message?: unknown };
    try {
      answer = JSON.parse(line) as typeof answer;
    } catch {
      return this.options.logger.error({ line: line.slice(0, MAX_LOG_LINE) }, 'the mount helper wrote a line that is not JSON');
    }
    const pending = typeof answer.id === 'number' ? this.pending.get(answer.id) : undefined;
    if (!pending) return this.options.logger.error({ answer }, 'the mount helper answered a request that is not waiting');
    this.pending.delete(answer.id as number);
    clearTimeout(pending.timer);
    if (answer.ok === true) return pending.resolve();
    const errno = typeof answer.errno === 'string' ? answer.errno : 'EIO';
    const message = typeof answer.message === 'string' ? answer.message : 'no reason given';
    pending.reject(new MountError(`${pending.what} failed: ${errno} (${message})`, '', errno));
  }

  // A request unanswered in time: it fails, and the helper (stuck, or gone without its pipes closing) is killed,
  // which fails the rest of its requests; the next request starts a new one.
  private timedOut(id: number, timeoutMs: number): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    pending.reject(new MountError(`${pending.what} failed: the mount helper did not answer within ${timeoutMs} ms`, ''));
    this.options.logger.error({ timeoutMs }, 'the mount helper did not answer in time; killing it');
    if (this.helper === pending.helper) this.helper = null;
    this.failAll(pending.helper, 'the mount helper was killed: it did not answer in time');
    pending.helper.kill();
  }

  // Fails every request sent to this helper that is still unanswered; returns how many there were.
  private failAll(helper: SpawnedProcess, why: string): number {
    let count = 0;
    for (const [id, pending] of this.pending) {
      if (pending.helper !== helper) continue;
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(new MountError(`${pending.what} failed: ${why}`, ''));
      count++;
    }
    return count;
  }
}

function readLines(stream: Readable, onLine: (line: string) => void): void {
  stream.on('error', () => undefined);
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}
