// One started sandbox: its private directory (workspace, tmp, bridge socket), its bridge and its interpreter.
// It can start before its code is known (a warm pool keeps some ready); whatever it says before an execution
// attaches is kept and replayed. Used for exactly one execution, then disposed of.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { dir as makeTempDir } from 'tmp-promise';
import type { Config } from '../config.js';
import { Bridge } from '../bridge/server.js';
import type { BridgeInbound, BridgeOutbound } from '../bridge/messages.js';
import { buildLaunchSpec, type SandboxFacts } from '../sandbox/launch.js';
import type { RuntimeName } from '../sandbox/runtimes.js';
import { spawnProcess, type ExitInfo, type SpawnedProcess } from '../sandbox/spawn.js';

export interface SandboxContext {
  readonly config: Config;
  readonly facts: SandboxFacts;
  readonly logger: Logger;
}

export interface SandboxSinks {
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  onMessage(message: BridgeInbound): void;
  onProtocolError(problem: string): void;
}

type Event = { kind: 'output'; stream: 'stdout' | 'stderr'; chunk: Buffer } | { kind: 'message'; message: BridgeInbound } | { kind: 'problem'; problem: string };

export class SandboxInstance {
  /** Settles when the interpreter has exited and its pipes are closed. */
  readonly exited: Promise<ExitInfo>;
  /** True once the prelude has connected; false if the interpreter exited first. */
  readonly ready: Promise<boolean>;
  private sinks: SandboxSinks | null = null;
  private readonly early: Event[] = [];
  private disposed = false;

  private constructor(
    readonly runtime: RuntimeName,
    readonly workspaceDir: string,
    private readonly rootDir: string,
    private readonly bridge: Bridge,
    private readonly process: SpawnedProcess,
    connected: Promise<void>,
    private readonly log: Logger,
  ) {
    this.exited = process.exited;
    this.ready = Promise.race([connected.then(() => true), process.exited.then(() => false)]);
    for (const stream of ['stdout', 'stderr'] as const) {
      process[stream].on('data', (chunk: Buffer) => this.emit({ kind: 'output', stream, chunk }));
      process[stream].on('error', () => undefined);
    }
  }

  // Creates the private directory, opens the bridge and starts the interpreter (which then waits for its code).
  static async start(runtime: RuntimeName, context: SandboxContext): Promise<SandboxInstance> {
    const { config, facts } = context;
    const root = await makeTempDir({ tmpdir: config.workDir, prefix: 'exec-', mode: 0o711 });
    const workspace = path.join(root.path, 'workspace');
    const tmp = path.join(root.path, 'tmp');
    const socketPath = path.join(root.path, 'bridge.sock');
    let bridge: Bridge | null = null;
    try {
      for (const dir of [workspace, tmp]) {
        await fs.mkdir(dir, { mode: 0o700 });
        if (facts.owner) await fs.chown(dir, facts.owner.uid, facts.owner.gid);
      }
      const token = randomBytes(24).toString('hex');
      let instance: SandboxInstance | null = null;
      let markConnected!: () => void;
      const connected = new Promise<void>((resolve) => (markConnected = resolve));
      bridge = await Bridge.open(
        { socketPath, token, maxMessageBytes: config.maxBridgeMessageBytes, owner: facts.owner },
        {
          onConnect: () => markConnected(),
          onMessage: (message) => instance?.emit({ kind: 'message', message }),
          onProtocolError: (problem) => instance?.emit({ kind: 'problem', problem }),
        },
      );
      const child = spawnProcess(buildLaunchSpec(facts, { runtime, workspaceDir: workspace, privateTmpDir: tmp, socketPath, token }));
      instance = new SandboxInstance(runtime, workspace, root.path, bridge, child, connected, context.logger);
      return instance;
    } catch (error) {
      await bridge?.close();
      await removeTree(root.path);
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

  // SIGKILL the interpreter and everything it started.
  kill(): void {
    this.process.kill();
  }

  // Kills what is left, closes the bridge and removes the private directory. Safe to call twice.
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.process.kill();
    await this.process.exited;
    await this.bridge.close();
    await removeTree(this.rootDir).catch((error) => this.log.error({ err: error, dir: this.rootDir }, 'could not remove an execution directory'));
  }

  private emit(event: Event): void {
    if (this.sinks) this.deliver(event);
    else this.early.push(event);
  }

  private deliver(event: Event): void {
    const sinks = this.sinks as SandboxSinks;
    if (event.kind === 'output') sinks.onOutput(event.stream, event.chunk);
    else if (event.kind === 'message') sinks.onMessage(event.message);
    else sinks.onProtocolError(event.problem);
  }
}

// Removes a directory tree even when sandboxed code took the permissions off its own subdirectories.
async function removeTree(dir: string): Promise<void> {
  try {
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    await restorePermissions(dir);
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 2 });
  }
}

async function restorePermissions(dir: string): Promise<void> {
  await fs.chmod(dir, 0o700).catch(() => undefined);
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) await restorePermissions(path.join(dir, entry.name));
  }
}
