// The Python fork server of a daemon: starts it (launch.ts), hands it its configuration, forks one child per
// execution on request and tells each child's end. A server that dies takes its children with it (each child
// dies with its parent, docs/security.md "Fork server") and is started again after a backoff; meanwhile, and
// whenever it is not ready, fork() refuses and the caller starts a sandbox of its own.
import { chownSync, closeSync, openSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { SandboxFacts } from '../launch.js';
import { spawnProcess, type ExitInfo, type SpawnedProcess } from '../spawn.js';
import { buildForkedEnv, buildForkServerConfig, buildForkServerSpec } from './launch.js';
import { findChildByNamespacePid, findServerProcess, namespaceDepth } from './host-pid.js';
import { encodeCommand, parseEvent, relativeToWorkDir, type ForkServerCommand, type ForkServerEvent } from './messages.js';
import { OutputSocket } from './output-socket.js';

/** How long a server may take to import its modules before it counts as failed. */
const READY_TIMEOUT_MS = 60_000;
/** How long a fork may take to be answered. */
const FORK_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;
/** How long a killed child may take to be reported gone before the server counts as hung and is killed itself. */
const KILL_TIMEOUT_MS = 5_000;
/** Longest line of the server's log passed on to the daemon's. */
const MAX_LOG_LINE = 2000;
const SERVER_MARKER = '/runbox/python/zygote.py';

export interface ForkServerOptions {
  readonly facts: SandboxFacts;
  readonly workDir: string;
  readonly preload: readonly string[];
  readonly logger: Logger;
  /** The second server, with nothing of pythonPreload imported (startup.ts); its log lines say so. @default false */
  readonly plain?: boolean;
}

/** What one execution's child is forked with: its private directories, all inside the work directory. */
export interface ForkRequest {
  /** The execution's private directory (the bridge socket and the output sockets are made in it). */
  readonly rootDir: string;
  readonly workspaceDir: string;
  readonly packagesDir: string;
  readonly token: string;
}

/** The file in an execution's private directory that its child reads its bridge token from (see fork()). */
export const TOKEN_FILE = 'bridge.token';

/** The fork server cannot fork now (starting, restarting, closed): start a sandbox of its own instead. */
export class ForkServerUnavailable extends Error {}

interface Child {
  settle(exit: ExitInfo): void;
  outputs: OutputSocket[];
}

export class ForkServer {
  private process: SpawnedProcess | null = null;
  private hostPid: number | null = null;
  /** How many pid namespaces the server's interpreter is in: its children's pids are read at that depth. */
  private hostDepth = 0;
  private state: 'starting' | 'ready' | 'down' | 'closed' = 'down';
  private failures = 0;
  private count = 0;
  private readonly pending = new Map<string, (event: ForkServerEvent) => void>();
  private readonly children = new Map<string, Child>();
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly readyListeners: Array<() => void> = [];

  private constructor(private readonly options: ForkServerOptions) {}

  // Starts the server; it becomes ready once its modules are imported (onReady()).
  static start(options: ForkServerOptions): ForkServer {
    const server = new ForkServer(options);
    server.launch();
    return server;
  }

  /** True when fork() can be called. */
  get ready(): boolean {
    return this.state === 'ready';
  }

  // Calls listener each time the server gets ready (at start, and after each restart).
  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  // Forks the child of one execution; its process ends with the code's interpreter. Throws
  // ForkServerUnavailable when the server is not ready, or when this fork failed.
  async fork(request: ForkRequest): Promise<SpawnedProcess> {
    if (this.state !== 'ready' || !this.process?.stdin || this.hostPid === null) throw new ForkServerUnavailable('the fork server is not ready');
    const { workDir, facts, logger } = this.options;
    const id = `f${++this.count}`;
    const command: ForkServerCommand = {
      type: 'fork',
      id,
      dir: relativeToWorkDir(workDir, request.rootDir),
      workspace: relativeToWorkDir(workDir, request.workspaceDir),
      packages: relativeToWorkDir(workDir, request.packagesDir),
      env: withoutToken(buildForkedEnv(facts, '')),
    };
    // The token goes to the child through a file of its own directory, never through the server: what the server
    // held would be in the memory of every child forked after (docs/security.md, "Fork server").
    const tokenFile = path.join(request.rootDir, TOKEN_FILE);
    writeFileSync(tokenFile, request.token, { mode: 0o600 });
    if (facts.owner) chownSync(tokenFile, facts.owner.uid, facts.owner.gid);
    // Out of descriptors, one socket may open and the other not: the one that did is closed, the error thrown.
    const opened = await Promise.allSettled(['stdout', 'stderr', 'status'].map((name) => OutputSocket.listen(path.join(request.rootDir, `${name}.sock`), facts.owner)));
    const failed = opened.find((result) => result.status === 'rejected');
    if (failed) {
      for (const result of opened) if (result.status === 'fulfilled') result.value.close();
      throw failed.reason;
    }
    const [stdout, stderr, status] = opened.map((result) => (result as PromiseFulfilledResult<OutputSocket>).value);
    const outputs = [stdout, stderr, status];
    let settleExit!: (exit: ExitInfo) => void;
    const exitReported = new Promise<ExitInfo>((resolve) => (settleExit = resolve));
    this.children.set(id, { settle: settleExit, outputs });
    const answer = await this.request(id, command);
    if (answer.type !== 'forked') {
      this.children.delete(id);
      for (const output of outputs) output.close();
      throw new ForkServerUnavailable(answer.type === 'fork_failed' ? `the fork server could not fork: ${answer.message}` : 'the fork server did not answer');
    }
    const pid = await findChildByNamespacePid(this.hostPid, this.hostDepth, answer.pid).catch((error: unknown) => {
      logger.error({ err: error }, 'could not look for the host pid of a forked child');
      return null;
    });
    if (pid === null) {
      this.send({ type: 'kill', id });
      for (const output of outputs) output.close();
      logger.error({ nsPid: answer.pid }, 'could not find the host pid of a forked child; killed it');
      throw new ForkServerUnavailable('the forked child could not be found');
    }
    const ended = [stdout, stderr].map((output) => new Promise<void>((resolve) => output.stream.once('close', resolve).once('end', resolve)));
    // The code's init writes the code's wait status to status.sock as soon as it has reaped it; the server's
    // `exited` comes only after the init (the server's child) has torn its copy of the server's memory down.
    const statusReported = readWaitStatus(status.stream);
    void exitReported.then(() => {
      for (const output of outputs) output.childExited();
    });
    const exited = Promise.race([statusReported.then((exit) => exit ?? exitReported), exitReported]).then(async (exit) => {
      await Promise.all(ended);
      return exit;
    });
    return {
      pid,
      stdout: stdout.stream,
      stderr: stderr.stream,
      exited,
      // The server is the child's parent: only it knows whether the pid is still its child, so it signals it.
      kill: () => this.killChild(id, exitReported),
      // The child waits on status.sock for this byte before it makes any other namespace or process (child.py,
      // _wait_for_release).
      release: () => status.write('g'),
    };
  }

  // Asks the server to kill a child; a server that does not report it gone in time is killed, and its children
  // with it (so a disposal never waits forever on a hung server).
  private killChild(id: string, exitReported: Promise<ExitInfo>): void {
    const server = this.process;
    if (!server || !this.children.has(id)) return;
    this.send({ type: 'kill', id });
    const timer = setTimeout(() => {
      if (this.process !== server || !this.children.has(id)) return;
      this.options.logger.error({ timeoutMs: KILL_TIMEOUT_MS }, 'the fork server did not report a killed child gone; killing the server');
      server.kill();
    }, KILL_TIMEOUT_MS);
    timer.unref();
    void exitReported.then(() => clearTimeout(timer));
  }

  // Stops the server; its children die with it.
  async close(): Promise<void> {
    this.state = 'closed';
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const process = this.process;
    if (!process) return;
    process.stdin?.end();
    process.kill();
    await process.exited;
  }

  private launch(): void {
    const { facts, workDir, preload, logger } = this.options;
    this.state = 'starting';
    let workDirFd: number;
    try {
      workDirFd = openSync(workDir, 'r');
    } catch (error) {
      // Out of descriptors, say: this start fails like any other, with a backoff.
      return this.restartLater(false, { exitCode: null, signal: null, spawnError: `could not open ${workDir}: ${(error as Error).message}` });
    }
    let child: SpawnedProcess;
    try {
      child = spawnProcess(buildForkServerSpec(facts, workDir, workDirFd));
    } finally {
      closeSync(workDirFd);
    }
    this.process = child;
    child.stdin?.write(`${JSON.stringify(buildForkServerConfig(facts, preload, workDir))}\n`);
    readLines(child.stdout, (line) => this.onLine(line));
    readLines(child.stderr, (line) => logger.warn({ forkServer: line.slice(0, MAX_LOG_LINE) }, 'fork server says'));
    const timer = setTimeout(() => {
      if (this.process !== child || this.state !== 'starting') return;
      logger.error({ timeoutMs: READY_TIMEOUT_MS }, 'the fork server did not get ready in time; killing it');
      child.kill();
    }, READY_TIMEOUT_MS);
    timer.unref();
    void child.exited.then((exit) => {
      clearTimeout(timer);
      this.onExit(child, exit);
    });
  }

  private onLine(line: string): void {
    const event = parseEvent(line);
    if (typeof event === 'string') return this.options.logger.error({ problem: event }, 'the fork server said something unexpected');
    if (event.type === 'ready') {
      return void this.becomeReady().catch((error: unknown) => {
        // Out of descriptors while reading /proc, say: this start fails, and the server is started again later.
        this.options.logger.error({ err: error }, 'the fork server is up but could not be checked; killing it');
        this.process?.kill();
      });
    }
    if (event.type === 'failed') return this.options.logger.error({ problem: event.message }, 'the fork server could not start');
    if (event.type === 'exited') {
      const child = this.children.get(event.id);
      this.children.delete(event.id);
      child?.settle({ exitCode: event.code, signal: event.signal });
      return;
    }
    this.pending.get(event.id)?.(event);
  }

  private async becomeReady(): Promise<void> {
    const spawned = this.process?.pid;
    const hostPid = spawned === undefined ? null : await findServerProcess(spawned, SERVER_MARKER);
    if (hostPid === null) {
      this.options.logger.error('the fork server is up but its process could not be found; killing it');
      return this.process?.kill();
    }
    this.hostPid = hostPid;
    this.hostDepth = namespaceDepth(hostPid);
    this.state = 'ready';
    this.failures = 0;
    this.options.logger.info({ pid: hostPid }, this.options.plain ? 'plain Python fork server ready' : 'Python fork server ready');
    for (const listener of this.readyListeners) listener();
  }

  // Its children died with it: each one's exit is a kill. Started again after a backoff, unless closed.
  private onExit(child: SpawnedProcess, exit: ExitInfo): void {
    if (this.process !== child) return;
    this.process = null;
    this.hostPid = null;
    for (const [id, answer] of this.pending) answer({ type: 'fork_failed', id, message: 'the fork server exited' });
    for (const each of this.children.values()) each.settle({ exitCode: null, signal: 'SIGKILL' });
    this.children.clear();
    if (this.state === 'closed') return;
    this.restartLater(this.state === 'ready', exit);
  }

  // Starts the server again after a backoff that doubles with each start in a row that never got ready.
  private restartLater(wasReady: boolean, exit: ExitInfo): void {
    this.state = 'down';
    this.failures = wasReady ? 1 : this.failures + 1;
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.failures);
    this.options.logger.error({ exit, restartInMs: delay }, 'the fork server exited; Python executions start sandboxes of their own until it is back');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.state !== 'closed') this.launch();
    }, delay);
    this.restartTimer.unref();
  }

  // Sends a command and waits for its answer (or a timeout, which counts as a failed fork).
  private request(id: string, command: ForkServerCommand): Promise<ForkServerEvent> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.send({ type: 'kill', id }); // a fork that is answered later must not live on
        finish({ type: 'fork_failed', id, message: `no answer in ${FORK_TIMEOUT_MS} ms` });
      }, FORK_TIMEOUT_MS);
      const finish = (event: ForkServerEvent) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(event);
      };
      this.pending.set(id, finish);
      this.send(command);
    });
  }

  private send(command: ForkServerCommand): void {
    this.process?.stdin?.write(encodeCommand(command));
  }
}

// The wait status a stream carries as decimal text, as an ExitInfo; null when it ends without one.
function readWaitStatus(stream: NodeJS.ReadableStream): Promise<ExitInfo | null> {
  return new Promise((resolve) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text = (text + chunk).slice(0, 32)));
    stream.on('error', () => resolve(null));
    stream.once('end', () => resolve(parseWaitStatus(text)));
    stream.once('close', () => resolve(parseWaitStatus(text)));
  });
}

// Pure: a wait(2) status as an exit code or a signal name; null for anything but a status.
export function parseWaitStatus(text: string): ExitInfo | null {
  if (!/^\d+$/.test(text.trim())) return null;
  const status = Number(text.trim());
  const signal = status & 0x7f;
  if (signal === 0) return { exitCode: (status >> 8) & 0xff, signal: null };
  const name = Object.entries(constants.signals).find(([, number]) => number === signal)?.[0] ?? `SIG${signal}`;
  return { exitCode: null, signal: name };
}

// An environment without the bridge token, which the child reads from TOKEN_FILE instead.
function withoutToken(env: Record<string, string>): Record<string, string> {
  const { RUNBOX_BRIDGE_TOKEN: _token, ...rest } = env;
  return rest;
}

// Calls onLine for each complete line of a stream.
function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) onLine(line);
    }
  });
  stream.on('error', () => undefined);
}
