// The lifecycle of one execution: a private directory, input files, the bridge, the sandboxed interpreter,
// the time limit, output capture, tool-call routing, output files, and cleanup that always runs.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { dir as makeTempDir } from 'tmp-promise';
import type { Config } from '../config.js';
import { Bridge } from '../bridge/server.js';
import type { BridgeInbound } from '../bridge/messages.js';
import { ToolCallError, type ToolHost } from '../bridge/tools.js';
import { writeInputFiles } from '../files/inputs.js';
import { collectOutputFiles, type FileError, type OutputFile } from '../files/outputs.js';
import { buildLaunchSpec, type SandboxFacts } from '../sandbox/launch.js';
import { spawnProcess, type ExitInfo, type SpawnedProcess } from '../sandbox/spawn.js';
import { OutputCapture } from './output.js';
import type { ExecutionRequest } from './request.js';
import { decideOutcome, encodeFiles, type ExecutionResult } from './result.js';

export interface ExecutionContext {
  readonly config: Config;
  readonly facts: SandboxFacts;
  readonly logger: Logger;
}

export interface ExecutionHooks {
  readonly toolHost: ToolHost;
  /** Output as it happens (only what is kept within maxOutputBytes). */
  readonly onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
}

export class Execution {
  private killReason: 'timeout' | 'cancelled' | null = null;
  private process: SpawnedProcess | null = null;
  private done: Extract<BridgeInbound, { type: 'done' }> | null = null;
  private bridgeProblem: string | null = null;
  private toolCalls = 0;
  private readonly log: Logger;

  constructor(
    readonly id: string,
    private readonly request: ExecutionRequest,
    private readonly context: ExecutionContext,
    private readonly hooks: ExecutionHooks,
  ) {
    this.log = context.logger.child({ executionId: id, runtime: request.runtime });
  }

  // Stops the execution: the whole process tree is killed and the result says `cancelled`.
  cancel(): void {
    this.stop('cancelled');
  }

  // Runs the code to its end and returns the result; never throws for anything the code does.
  async run(): Promise<ExecutionResult> {
    const startedAt = performance.now();
    const { config, facts } = this.context;
    const stdout = new OutputCapture('stdout', config.maxOutputBytes);
    const stderr = new OutputCapture('stderr', config.maxOutputBytes);
    const root = await makeTempDir({ tmpdir: config.workDir, prefix: 'exec-', mode: 0o711 });
    let bridge: Bridge | null = null;
    let timer: NodeJS.Timeout | undefined;
    try {
      const dirs = await this.makeDirs(root.path);
      await writeInputFiles(dirs.workspace, this.request.files, facts.owner);
      const token = randomBytes(24).toString('hex');
      bridge = await Bridge.open(
        { socketPath: dirs.socket, token, maxMessageBytes: config.maxBridgeMessageBytes, owner: facts.owner },
        { onMessage: (message) => this.onBridgeMessage(bridge as Bridge, message), onProtocolError: (problem) => this.onBridgeProblem(problem) },
      );
      bridge.send({ type: 'run', code: this.request.code, tools: this.request.tools });
      let exit: ExitInfo = { exitCode: null, signal: 'SIGKILL' };
      if (this.killReason === null) {
        const spec = buildLaunchSpec(facts, { runtime: this.request.runtime, workspaceDir: dirs.workspace, privateTmpDir: dirs.tmp, socketPath: dirs.socket, token });
        this.process = spawnProcess(spec);
        timer = setTimeout(() => this.stop('timeout'), this.request.timeoutMs);
        this.pipe(this.process, 'stdout', stdout);
        this.pipe(this.process, 'stderr', stderr);
        exit = await this.process.exited;
        clearTimeout(timer);
      }
      const declared = this.killReason === null ? this.done?.files : undefined;
      const collected = declared ? await collectOutputFiles(dirs.workspace, declared, config) : { files: [] as OutputFile[], errors: [] as FileError[] };
      const outcome = decideOutcome({
        killReason: this.killReason,
        timeoutMs: this.request.timeoutMs,
        exit,
        done: this.done,
        bridgeProblem: this.bridgeProblem,
        fileErrors: collected.errors,
        sandboxed: facts.bwrapPath !== null,
      });
      this.log.info({ status: outcome.status, exitCode: exit.exitCode, signal: exit.signal, toolCalls: this.toolCalls }, 'execution finished');
      return {
        status: outcome.status,
        result: this.killReason === null ? (this.done?.result ?? null) : null,
        stdout: stdout.text(),
        stderr: stderr.text(),
        files: encodeFiles(collected.files),
        fileErrors: collected.errors,
        error: outcome.error,
        exitCode: exit.exitCode,
        durationMs: Math.round((performance.now() - startedAt) * 100) / 100,
        toolCalls: this.toolCalls,
      };
    } finally {
      clearTimeout(timer);
      this.process?.kill();
      this.hooks.toolHost.dispose();
      await bridge?.close();
      await removeTree(root.path).catch((error) => this.log.error({ err: error, dir: root.path }, 'could not remove an execution directory'));
    }
  }

  // The execution's private directory: the workspace (owned by the sandbox user), a private tmp, the socket.
  private async makeDirs(root: string): Promise<{ workspace: string; tmp: string; socket: string }> {
    const owner = this.context.facts.owner;
    const workspace = path.join(root, 'workspace');
    const tmp = path.join(root, 'tmp');
    for (const dir of [workspace, tmp]) {
      await fs.mkdir(dir, { mode: 0o700 });
      if (owner) await fs.chown(dir, owner.uid, owner.gid);
    }
    return { workspace, tmp, socket: path.join(root, 'bridge.sock') };
  }

  private pipe(process: SpawnedProcess, name: 'stdout' | 'stderr', capture: OutputCapture): void {
    process[name].on('data', (chunk: Buffer) => {
      const text = capture.push(chunk);
      if (text) this.hooks.onOutput?.(name, text);
    });
    process[name].on('error', () => undefined);
  }

  private stop(reason: 'timeout' | 'cancelled'): void {
    if (this.killReason !== null || (this.process === null && reason === 'timeout')) return;
    this.killReason = reason;
    this.log.info({ reason }, 'stopping execution');
    this.process?.kill();
  }

  private onBridgeMessage(bridge: Bridge, message: BridgeInbound): void {
    if (message.type === 'done') {
      if (this.done) this.onBridgeProblem('the code reported its result twice');
      else this.done = message;
      return;
    }
    this.toolCalls += 1;
    const { callId, name, args } = message;
    const declared = this.request.tools.some((tool) => tool.name === name);
    const answer = declared || !this.hooks.toolHost.canAnswer
      ? this.hooks.toolHost.call(name, args)
      : Promise.reject(new ToolCallError('unknown_tool', `unknown tool ${JSON.stringify(name)}; this execution declared ${this.request.tools.length ? this.request.tools.map((t) => t.name).join(', ') : 'no tools'}`));
    answer.then(
      (result) => bridge.send({ type: 'tool_result', callId, result: result ?? null }),
      (error: unknown) => {
        const failure = error instanceof ToolCallError ? error : new ToolCallError('tool_error', 'the tool failed');
        if (!(error instanceof ToolCallError)) this.log.error({ err: error }, 'tool call failed unexpectedly');
        bridge.send({ type: 'tool_result', callId, error: { code: failure.code, message: failure.message } });
      },
    );
  }

  private onBridgeProblem(problem: string): void {
    this.log.warn({ problem }, 'bridge protocol problem');
    this.bridgeProblem ??= problem;
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
