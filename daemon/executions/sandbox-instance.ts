// One started sandbox: its private directory (workspace, tmp, bridge socket), its bridge, its interpreter and
// its cgroup. It can start before its code is known (a warm pool keeps some ready); whatever it says before an
// execution attaches is kept and replayed. Once the prelude has connected, and before any code can arrive,
// every process of the sandbox is moved into its cgroup. Used for exactly one execution, then disposed of.
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { dir as makeTempDir } from 'tmp-promise';
import type { Config } from '../config.js';
import type { BridgeBudgetLimits } from '../bridge/budget.js';
import { Bridge } from '../bridge/server.js';
import { isOutOfDescriptors, OUT_OF_DESCRIPTORS, retryWhileOutOfDescriptors } from '../descriptors.js';
import type { BridgeInbound, BridgeOutbound } from '../bridge/messages.js';
import { MemoryInUseError, type SandboxCgroups, type CgroupCounters, type GroupLimits, type SandboxCgroup } from '../sandbox/cgroups.js';
import { buildLaunchSpec, type SandboxFacts } from '../sandbox/launch.js';
import type { Mounter } from '../sandbox/mounter.js';
import { mountWorkspace, unmountWorkspace, workspaceUsage, type WorkspaceUsage } from '../sandbox/mounts.js';
import type { RuntimeName } from '../sandbox/runtimes.js';
import { spawnProcess, type ExitInfo, type SpawnedProcess } from '../sandbox/spawn.js';
import { ForkServerUnavailable, type ForkServer } from '../sandbox/fork-server/server.js';
import { removeTree } from '../files/tree-removal.js';

/** What every sandbox of a daemon is started with. */
export interface SandboxContext {
  readonly config: Config;
  readonly facts: SandboxFacts;
  readonly logger: Logger;
  /** Kernel limits per sandbox, from setUpCgroups() at daemon start; null or left out runs without them. */
  readonly cgroups?: SandboxCgroups | null;
  /** The Python fork server (fork-server/server.ts); null or left out starts every sandbox on its own. */
  readonly forkServer?: ForkServer | null;
  /** A second fork server with nothing of pythonPreload imported, for code that uses none of it (its children
   * are a fraction of the size); null or left out forks every Python sandbox from forkServer. */
  readonly plainForkServer?: ForkServer | null;
  /** The mount helper (sandbox/mounter.ts) that mounts and unmounts workspaces; null or left out runs mount(8). */
  readonly mounter?: Mounter | null;
  /** Where execution directories are made (the executions tmpfs, executions/work-dir.ts). @default config.workDir */
  readonly executionsDir?: string;
}

/** How a fresh sandbox is started. */
export interface StartOptions {
  /** The code to come uses nothing of pythonPreload: it may be forked from the plain fork server. @default false */
  readonly plain?: boolean;
}

/** How applying an execution's limits went: `memory_in_use` means the sandbox already holds more than memoryBytes. */
export type LimitsApplied = 'applied' | 'memory_in_use' | 'failed';

/** Where an attached execution gets what its sandbox says. */
export interface SandboxSinks {
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  onMessage(message: BridgeInbound): void;
  onProtocolError(problem: string): void;
  /** The code went past a budget of its bridge; the bridge is closed already (the problem names the budget). */
  onBridgeLimit(problem: string): void;
}

/** The directories of a session a sandbox works in, instead of its own fresh ones. */
export interface SessionBinding {
  readonly workspaceDir: string;
  readonly packagesDir: string;
  /** True when the session's workspace is a tmpfs (the session owns it; the sandbox never unmounts it). */
  readonly workspaceMounted: boolean;
}

/** Messages a sandbox may send before an execution attaches (a prelude sends none before its code). */
const MAX_EARLY_MESSAGES = 16;

/** What a started sandbox is made of (SandboxInstance.start() makes them, in that order). */
interface SandboxParts {
  readonly runtime: RuntimeName;
  readonly workspaceDir: string;
  readonly packagesDir: string;
  readonly session: SessionBinding | null;
  /** The private directory (workspace, tmp, bridge socket), removed when the sandbox is disposed of. */
  readonly rootDir: string;
  readonly bridge: Bridge;
  readonly process: SpawnedProcess;
  /** Settles when the prelude has connected to its bridge. */
  readonly connected: Promise<void>;
  readonly log: Logger;
  readonly cgroup: SandboxCgroup | null;
  readonly workspaceMounted: boolean;
  /** What unmounts the workspace when the sandbox is disposed of (null: umount(8)). */
  readonly mounter: Mounter | null;
  /** Output kept from before an execution attaches, at most. */
  readonly maxEarlyOutputBytes: number;
  /** Forked from the fork server, which has the preload modules imported already. */
  readonly forked: boolean;
}

type Event = { kind: 'output'; stream: 'stdout' | 'stderr'; chunk: Buffer } | { kind: 'message'; message: BridgeInbound } | { kind: 'problem'; problem: string } | { kind: 'limit'; problem: string };

// What the code of one execution may send over its bridge (daemon options).
function bridgeBudgetOf(config: Config): BridgeBudgetLimits {
  return { maxInboundBytes: config.maxBridgeInboundBytes, maxMessages: config.maxBridgeMessages, maxRefusedConnections: config.maxBridgeRefusedConnections };
}

// The fork servers to try for a fresh Python sandbox, in order: the plain one first for code that uses nothing
// of the preload, then the one with the preload imported.
function forkServersFor(context: SandboxContext, options: StartOptions): ForkServer[] {
  const servers = options.plain ? [context.plainForkServer, context.forkServer] : [context.forkServer];
  return servers.filter((server): server is ForkServer => Boolean(server));
}

// A child of the first fork server that is ready and forks, for a sandbox without a session, or null when none
// does: the sandbox then starts on its own. A session's sandbox always does (its packages may shadow a module the
// server imported).
async function forkFrom(servers: readonly ForkServer[], request: Parameters<ForkServer['fork']>[0]): Promise<SpawnedProcess | null> {
  for (const server of servers) {
    if (!server.ready) continue;
    try {
      return await server.fork(request);
    } catch (error) {
      if (!(error instanceof ForkServerUnavailable)) throw error;
    }
  }
  return null;
}

// One sandbox, from start() to dispose(); it serves at most one execution.
export class SandboxInstance {
  /** Settles when the interpreter has exited and its pipes are closed. */
  readonly exited: Promise<ExitInfo>;
  /** True once the prelude has connected and every process is in the sandbox's cgroup; false if the interpreter
   * exited first, or could not be put in its cgroup (then startProblem says why and the sandbox is killed). */
  readonly ready: Promise<boolean>;
  private sinks: SandboxSinks | null = null;
  private readonly early: Event[] = [];
  private earlyBytes = 0;
  /** Both streams' maxOutputBytes: what the execution to come could keep of what was said before it. */
  private readonly maxEarlyOutputBytes: number;
  private earlyMessages = 0;
  private disposed = false;
  private killed = false;
  /** True once freeze() stopped its processes (dispose then kills them frozen and thaws them). */
  private frozen = false;
  /** The move of the sandbox's first process into its cgroup, started with the process. */
  private readonly earlyMove: Promise<void>;
  /** A freeze() under way, if one is. */
  private freezing: Promise<boolean> | null = null;
  private hasExitedFlag = false;
  /** Why the sandbox cannot run code (its processes could not be moved into their cgroup), if so. */
  startProblem: string | null = null;
  /** The counters when the execution's limits were applied: usage is measured from there. */
  private baseline: CgroupCounters = { cpuTimeMs: 0, oomKills: 0, forkFailures: 0 };

  readonly runtime: RuntimeName;
  readonly workspaceDir: string;
  /** The packages directory (python/, node/) the sandbox sees read-only, where installs for it go. */
  readonly packagesDir: string;
  /** True when the sandbox was forked from the fork server: its preload modules are imported already. */
  readonly forked: boolean;
  /** The session the sandbox works for, if any. */
  private readonly session: SessionBinding | null;
  private readonly rootDir: string;
  private readonly bridge: Bridge;
  private readonly process: SpawnedProcess;
  private readonly log: Logger;
  private readonly cgroup: SandboxCgroup | null;
  /** True when the workspace is a tmpfs this sandbox mounted (and unmounts when disposed of). */
  private readonly workspaceMounted: boolean;
  private readonly mounter: Mounter | null;

  private constructor(parts: SandboxParts) {
    const { process } = parts;
    this.runtime = parts.runtime;
    this.workspaceDir = parts.workspaceDir;
    this.packagesDir = parts.packagesDir;
    this.forked = parts.forked;
    this.session = parts.session;
    this.rootDir = parts.rootDir;
    this.bridge = parts.bridge;
    this.process = process;
    this.log = parts.log;
    this.cgroup = parts.cgroup;
    this.workspaceMounted = parts.workspaceMounted;
    this.mounter = parts.mounter;
    this.maxEarlyOutputBytes = parts.maxEarlyOutputBytes;
    this.exited = process.exited;
    void process.exited.then(() => (this.hasExitedFlag = true));
    this.earlyMove = this.moveEarly();
    this.ready = Promise.race([parts.connected.then(() => this.enterCgroup()), process.exited.then(() => false)]);
    for (const stream of ['stdout', 'stderr'] as const) {
      process[stream].on('data', (chunk: Buffer) => this.emit({ kind: 'output', stream, chunk }));
      process[stream].on('error', () => undefined);
    }
  }

  // Creates the private directory, opens the bridge and starts the interpreter (which then waits for its code).
  // With a session binding, the session's workspace and packages are used instead of fresh ones.
  static async start(runtime: RuntimeName, context: SandboxContext, session: SessionBinding | null = null, options: StartOptions = {}): Promise<SandboxInstance> {
    const { config, facts } = context;
    const cgroups = context.cgroups ?? null;
    const mounter = context.mounter ?? null;
    // The group is made while the directories are (it must exist before the spawn).
    const making = cgroups ? cgroups.create({ memoryBytes: config.memoryBytes, maxProcesses: config.maxProcesses }) : Promise.resolve(null);
    making.catch(() => undefined);
    let rootDir: string | null = null;
    let bridge: Bridge | null = null;
    let workspaceMounted = false;
    let mounting: Promise<unknown> | null = null;
    try {
      rootDir = (await makeTempDir({ tmpdir: context.executionsDir ?? config.workDir, prefix: 'exec-', mode: 0o711 })).path;
      const workspace = session?.workspaceDir ?? path.join(rootDir, 'workspace');
      const packagesDir = session?.packagesDir ?? path.join(rootDir, 'packages');
      const tmp = path.join(rootDir, 'tmp');
      const socketPath = path.join(rootDir, 'bridge.sock');
      // Synchronously: a handful of calls of some µs each, where each await of the thread pool costs about a
      // millisecond under load, on the path of every execution that finds no warm sandbox.
      for (const dir of session ? [tmp] : [workspace, tmp]) {
        mkdirSync(dir, { mode: 0o700 });
        if (facts.owner) chownSync(dir, facts.owner.uid, facts.owner.gid);
      }
      if (!session) for (const sub of ['python', 'node']) mkdirSync(path.join(packagesDir, sub), { recursive: true, mode: 0o755 });
      // Mounting (a request to the mount helper, or a mount(8) process) overlaps with opening the bridge: both
      // must be done before the spawn.
      mounting = facts.workspaceSize && !session ? mountWorkspace(workspace, facts.workspaceSize, facts.owner, mounter).then(() => (workspaceMounted = true)) : null;
      mounting?.catch(() => undefined);
      const token = randomBytes(24).toString('hex');
      let instance: SandboxInstance | null = null;
      let markConnected!: () => void;
      const connected = new Promise<void>((resolve) => (markConnected = resolve));
      bridge = await Bridge.open(
        { socketPath, token, maxMessageBytes: config.maxBridgeMessageBytes, budget: bridgeBudgetOf(config), owner: facts.owner },
        {
          onConnect: () => markConnected(),
          onMessage: (message) => instance?.emit({ kind: 'message', message }),
          onProtocolError: (problem) => instance?.emit({ kind: 'problem', problem }),
          onLimit: (problem) => instance?.emit({ kind: 'limit', problem }),
        },
      );
      await mounting;
      const cgroup = await making;
      const forked = runtime === 'python' && !session ? await forkFrom(forkServersFor(context, options), { rootDir, workspaceDir: workspace, packagesDir, token }) : null;
      const child = forked ?? spawnProcess(buildLaunchSpec(facts, { runtime, workspaceDir: workspace, privateTmpDir: tmp, socketPath, token, packagesDir }));
      instance = new SandboxInstance({
        runtime,
        workspaceDir: workspace,
        packagesDir,
        session,
        rootDir,
        bridge,
        process: child,
        connected,
        log: context.logger,
        cgroup,
        workspaceMounted,
        mounter,
        maxEarlyOutputBytes: 2 * config.maxOutputBytes,
        forked: forked !== null,
      });
      return instance;
    } catch (error) {
      await bridge?.close();
      await mounting?.catch(() => undefined);
      await (await making.catch(() => null))?.remove().catch(() => undefined);
      const mounted = rootDir && workspaceMounted ? path.join(rootDir, 'workspace') : null;
      if (mounted) await retryWhileOutOfDescriptors(() => unmountWorkspace(mounted, mounter)).catch((problem) => context.logger.error({ err: problem, dir: mounted }, 'could not unmount a workspace'));
      if (rootDir) await retryWhileOutOfDescriptors(() => removeTree(rootDir as string)).catch((problem) => context.logger.error({ err: problem, dir: rootDir }, 'could not remove an execution directory'));
      throw error;
    }
  }

  // Hands the sandbox to its execution; everything said so far is delivered first, in order.
  attach(sinks: SandboxSinks): void {
    this.sinks = sinks;
    for (const event of this.early.splice(0)) this.deliver(event);
  }

  send(message: BridgeOutbound): void {
    this.bridge.send(message);
  }

  /** Once the interpreter has exited: delivers what its bridge still holds (see Bridge.drain). */
  drainBridge(): Promise<void> {
    return this.bridge.drain();
  }

  // Lowers the cgroup's limits to this execution's, right before its code is sent, and notes the counters usage
  // is measured from. A warm sandbox that preloaded modules may already hold more than memoryBytes.
  async applyLimits(limits: GroupLimits): Promise<LimitsApplied> {
    if (!this.cgroup || !(await this.ready)) return 'applied';
    try {
      await this.cgroup.setLimits(limits);
      this.baseline = await this.cgroup.readCounters();
      return 'applied';
    } catch (error) {
      if (error instanceof MemoryInUseError) return 'memory_in_use';
      this.log.error({ err: error, cgroup: this.cgroup.name }, 'could not set the limits of a sandbox cgroup');
      return 'failed';
    }
  }

  /** What the kernel counted since applyLimits(); null when the sandbox has no cgroup. */
  async usage(): Promise<CgroupCounters | null> {
    if (!this.cgroup) return null;
    const now = await this.cgroup.readCounters();
    return {
      cpuTimeMs: Math.max(0, now.cpuTimeMs - this.baseline.cpuTimeMs),
      oomKills: now.oomKills - this.baseline.oomKills,
      forkFailures: now.forkFailures - this.baseline.forkFailures,
    };
  }

  /** How full the workspace tmpfs is; null when the workspace is not one. */
  async workspaceUsage(): Promise<WorkspaceUsage | null> {
    return this.workspaceMounted || this.session?.workspaceMounted ? workspaceUsage(this.workspaceDir) : null;
  }

  /** CPU time used since applyLimits(), in ms; null when the sandbox has no cgroup. */
  async cpuTimeMs(): Promise<number | null> {
    if (!this.cgroup) return null;
    return Math.max(0, (await this.cgroup.readCpuTimeMs()) - this.baseline.cpuTimeMs);
  }

  /** True once the interpreter has exited (a warm sandbox that died while it waited is of no use). */
  get hasExited(): boolean {
    return this.hasExitedFlag;
  }

  /** False once the sandbox was killed or its interpreter exited: it can run no code. */
  get usable(): boolean {
    return !this.killed && !this.hasExitedFlag;
  }

  /** True when the kernel limits this sandbox (it has a cgroup). */
  get limited(): boolean {
    return this.cgroup !== null;
  }

  /** CPU cores the sandbox may use at once (its quota), or null when unlimited or without a cgroup. */
  get cpuCores(): number | null {
    return this.cgroup?.cpuCores ?? null;
  }

  // Stops every process of the sandbox where it is (its cgroup's freezer), for an execution that reported its
  // end: its files are then collected with nothing running, and what its processes wrote before they stopped is
  // read. False when the sandbox has no cgroup with a freezer, or already exited, or its processes would not
  // all stop: the execution then waits for them to exit, as it always could.
  async freeze(): Promise<boolean> {
    const cgroup = this.cgroup;
    if (!cgroup || this.hasExitedFlag || this.killed || this.disposed) return false;
    // dispose() waits for a freeze under way, so that it never misses a group that is being frozen.
    this.freezing = cgroup.freeze().then((frozen) => (this.frozen = frozen));
    if (!(await this.freezing)) return false;
    // Nothing more can be written; the next turns of the event loop read what the pipes and sockets still hold
    // (libuv reads every ready descriptor, up to 32 chunks of 64 KiB each, before the immediates run).
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    return true;
  }

  // SIGKILL the interpreter and everything it started (spawn.ts makes this safe at any moment, even while
  // bubblewrap is still setting up).
  kill(): void {
    this.killed = true;
    this.process.kill();
  }

  // Kills what is left, closes the bridge and removes the private directory. Safe to call twice.
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.freezing?.catch(() => undefined);
    this.kill();
    // Frozen processes act on no signal: each is killed where it stopped, then thawed, so none runs code again.
    if (this.frozen) await this.cgroup?.killFrozen().catch((error) => this.log.error({ err: error, cgroup: this.cgroup?.name }, 'could not kill a frozen sandbox'));
    await this.process.exited;
    await this.bridge.close();
    await this.cgroup?.remove().catch((error) => this.log.error({ err: error, cgroup: this.cgroup?.name }, 'could not remove a sandbox cgroup'));
    if (this.workspaceMounted) {
      await retryWhileOutOfDescriptors(() => unmountWorkspace(this.workspaceDir, this.mounter)).catch((error) => this.log.error({ err: error, dir: this.workspaceDir }, 'could not unmount a workspace'));
    }
    await retryWhileOutOfDescriptors(() => removeTree(this.rootDir)).catch((error) => this.log.error({ err: error, dir: this.rootDir }, 'could not remove an execution directory'));
  }

  // Moves the sandbox's first process into its cgroup at once, while the interpreter starts (a move waits for an
  // RCU grace period, 5–25 ms here, and the processes forked after it are born inside). A process that waits for
  // its release (a fork server's child) is released only once it is inside, so its whole tree is; a bubblewrap
  // sandbox forks meanwhile, and enterCgroup moves what this missed. A held process that cannot be moved is
  // never released: enterCgroup's failure kills it.
  private moveEarly(): Promise<void> {
    const { cgroup, process } = this;
    const release = process.release;
    if (!cgroup || process.pid === undefined) {
      release?.();
      return Promise.resolve();
    }
    const moved = cgroup.addProcess(process.pid);
    if (!release) return moved.catch(() => undefined);
    // Held, it never connects: a failed move is reported here, and the kill ends its `ready` (false).
    void moved.then(release, (error: unknown) => this.cannotEnterCgroup(error));
    return moved;
  }

  // Makes sure bubblewrap and everything under it is in the sandbox's cgroup. The prelude is connected and
  // waiting for `run`, so no user code has run yet and nothing can have escaped. On failure the sandbox is
  // killed: it never runs code without its limits. A held process was moved before it made any other
  // (moveEarly), so its tree needs no walk.
  private async enterCgroup(): Promise<boolean> {
    if (!this.cgroup || this.process.pid === undefined) return true;
    try {
      await this.earlyMove;
      if (!this.process.release) await this.cgroup.adoptTree(this.process.pid);
      return true;
    } catch (error) {
      this.cannotEnterCgroup(error);
      return false;
    }
  }

  // The sandbox's processes could not be moved into its cgroup: it is killed, and startProblem says why.
  private cannotEnterCgroup(error: unknown): void {
    // Disposed of while it was being moved (a cancel during start-up): its group may be gone; nothing is wrong.
    if (this.disposed || this.killed) return;
    this.log.error({ err: error, cgroup: this.cgroup?.name }, 'could not move a sandbox into its cgroup');
    // The client sees the cause's code, never its path (the log has it).
    const code = (error as NodeJS.ErrnoException | null)?.code;
    this.startProblem = isOutOfDescriptors(error)
      ? OUT_OF_DESCRIPTORS
      : `its processes could not be moved into their cgroup (${code ?? 'the daemon\'s log has the details'})`;
    this.process.kill();
  }

  // Delivers an event, or keeps it for the execution to come. What is kept is bounded: a sandbox that says more
  // before its code arrives than a prelude ever does is killed (its pool replaces it), and what it said dropped.
  private emit(event: Event): void {
    if (this.sinks) return this.deliver(event);
    if (this.killed) return;
    if (event.kind === 'limit') {
      // Before any code: the prelude never floods its bridge, so this sandbox is of no use to anyone.
      this.log.warn({ runtime: this.runtime, problem: event.problem }, 'a sandbox went past its bridge budget before its code arrived; killing it');
      this.startProblem = event.problem;
      this.early.length = 0;
      return this.kill();
    }
    if (event.kind === 'output') this.earlyBytes += event.chunk.length;
    else this.earlyMessages += 1;
    // No execution keeps more output than maxOutputBytes a stream, so no more is kept for one (preload warnings).
    const maxBytes = this.maxEarlyOutputBytes;
    if (this.earlyBytes <= maxBytes && this.earlyMessages <= MAX_EARLY_MESSAGES) {
      this.early.push(event);
      return;
    }
    this.log.warn({ runtime: this.runtime, earlyBytes: this.earlyBytes, earlyMessages: this.earlyMessages }, 'a sandbox said too much before its code arrived; killing it');
    this.startProblem = `it wrote more than ${maxBytes} bytes of output (maxOutputBytes for each stream), or more than ${MAX_EARLY_MESSAGES} messages, before its code arrived`;
    this.early.length = 0;
    this.kill();
  }

  private deliver(event: Event): void {
    const sinks = this.sinks as SandboxSinks;
    if (event.kind === 'output') sinks.onOutput(event.stream, event.chunk);
    else if (event.kind === 'message') sinks.onMessage(event.message);
    else if (event.kind === 'limit') sinks.onBridgeLimit(event.problem);
    else sinks.onProtocolError(event.problem);
  }
}
