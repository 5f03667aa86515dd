// The lifecycle of one execution: a sandbox (warm or freshly started) with this execution's kernel limits, its
// input files, its code, the time and CPU-time limits, output capture, tool-call routing, output files, and
// cleanup that always runs.
import os from 'node:os';
import { MAX_INSTALLS_PER_EXECUTION } from '../config.js';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { BridgeInbound, DoneReport } from '../bridge/messages.js';
import { ToolCallError, type ToolHost } from '../bridge/tools.js';
import { writeInputFiles } from '../files/inputs.js';
import { collectOutputFiles, type OutputFile } from '../files/outputs.js';
import type { FileError } from '../wire-types.js';
import type { ExitInfo } from '../sandbox/spawn.js';
import { InstallError } from '../packages/errors.js';
import { describeInstallFailure, INSTALL_TOOL, type PackageService } from '../packages/service.js';
import { OutputCapture } from './output.js';
import type { ExecutionRequest } from './request.js';
import { decideOutcome, describeStartFailure, encodeFiles, notStartedResult, type ExecutionResult, type KillReason } from './result.js';
import { SandboxInstance, type SandboxContext, type SessionBinding } from './sandbox-instance.js';

export interface ExecutionContext extends SandboxContext {
  /** Installs packages for install_package/installPackage; null or left out refuses them. */
  readonly packages?: PackageService | null;
}


/** The CPU-time check runs at least this often while code runs, and at most this often. */
const MAX_CPU_CHECK_MS = 250;
const MIN_CPU_CHECK_MS = 20;

export interface ExecutionHooks {
  readonly toolHost: ToolHost;
  /** Output as it happens (only what is kept within maxOutputBytes). */
  readonly onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** The logger of the request or connection that asked for it (with its requestId); the daemon's by default. */
  readonly logger?: Logger;
}

/** Hands out a ready sandbox for a runtime, or null (the execution then starts its own). */
export type TakeWarmSandbox = (runtime: ExecutionRequest['runtime']) => Promise<SandboxInstance | null>;

export class Execution {
  private killReason: KillReason | null = null;
  private sandbox: SandboxInstance | null = null;
  /** Why the sandbox could not run the code, if it could not. */
  private sandboxProblem: string | null = null;
  /** Warm sandboxes taken but not used (they held more memory than this execution may); disposed of with it. */
  private readonly discarded: Array<Promise<void>> = [];
  private cpuTimer: NodeJS.Timeout | undefined;
  /** The code went to the sandbox; it runs until the sandbox exits. */
  private codeSent = false;
  private codeRunning = false;
  private done: DoneReport | null = null;
  private bridgeProblem: string | null = null;
  /** The bridge budget the code went past, if it did (the execution was then cut off). */
  private bridgeLimit: string | null = null;
  private toolCalls = 0;
  private installs = 0;
  /** Aborted when the execution stops or ends, whatever its status: an install still running is killed. */
  private readonly stopped = new AbortController();
  /** Installs not answered yet; the result waits until they (and their processes) are gone. */
  private readonly installing = new Set<Promise<void>>();
  /** Milliseconds from the start to each phase, for the log. */
  private readonly phases: Record<string, number> = {};
  private startedAt = 0;
  /** Settles when the sandbox is gone and its directory removed (after run() has returned). */
  cleanedUp: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(
    readonly id: string,
    private readonly request: ExecutionRequest,
    private readonly context: ExecutionContext,
    private readonly hooks: ExecutionHooks,
    private readonly takeWarm: TakeWarmSandbox = async () => null,
    /** The session whose workspace and packages the execution uses, if any (takeWarm then hands out its sandbox). */
    private readonly session: SessionBinding | null = null,
  ) {
    this.log = (hooks.logger ?? context.logger).child({ executionId: id, runtime: request.runtime });
  }

  // Stops the execution: the whole process tree is killed and the result says `cancelled`.
  cancel(): void {
    this.stop('cancelled');
  }

  // Runs the code to its end and returns the result; never throws for anything the code does.
  async run(): Promise<ExecutionResult> {
    const startedAt = (this.startedAt = performance.now());
    const { config, facts } = this.context;
    const { limits } = this.request;
    const stdout = new OutputCapture('stdout', limits.maxOutputBytes);
    const stderr = new OutputCapture('stderr', limits.maxOutputBytes);
    let timer: NodeJS.Timeout | undefined;
    try {
      let startFailure: unknown = null;
      const sandbox = await this.acquireSandbox().catch((error: unknown) => {
        startFailure = error;
        return null;
      });
      if (!sandbox) {
        // Its directory, bridge or workspace mount could not be made (the daemon out of descriptors, a full
        // disk): an error of this execution alone, with the details in the log only.
        this.log.error({ err: startFailure }, 'could not start a sandbox');
        return notStartedResult('error', describeStartFailure(startFailure), performance.now() - startedAt);
      }
      this.mark('sandbox');
      const captures = { stdout, stderr };
      sandbox.attach({
        onOutput: (stream, chunk) => {
          const text = captures[stream].push(chunk);
          if (text) this.hooks.onOutput?.(stream, text);
        },
        onMessage: (message) => this.onBridgeMessage(sandbox, message),
        onProtocolError: (problem) => this.onBridgeProblem(problem),
        onBridgeLimit: (problem) => {
          this.log.warn({ problem }, 'execution cut off at a bridge budget');
          this.bridgeLimit ??= problem;
          this.stop('bridge_limit');
        },
      });
      let exit: ExitInfo = { exitCode: null, signal: 'SIGKILL' };
      if (this.killReason === null && this.sandboxProblem === null) {
        await writeInputFiles(sandbox.workspaceDir, this.request.files, facts.owner);
        sandbox.send({ type: 'run', code: this.request.code, tools: this.request.tools });
        this.codeSent = true;
        this.mark('run');
        timer = setTimeout(() => this.stop('timeout'), this.request.timeoutMs);
        this.codeRunning = true;
        this.watchCpuTime(sandbox);
        exit = await sandbox.exited;
        this.codeRunning = false;
        this.mark('exit');
        clearTimeout(timer);
        clearTimeout(this.cpuTimer);
      } else if (this.sandboxProblem !== null) {
        exit = await sandbox.exited;
      }
      await this.endInstalls();
      const declared = this.killReason === null ? this.done?.files : undefined;
      const [collected, kernel, workspaceUsage] = await Promise.all([
        declared ? collectOutputFiles(sandbox.workspaceDir, declared, { ...config, maxFiles: config.maxOutputFiles }) : { files: [] as OutputFile[], errors: [] as FileError[] },
        this.codeSent ? sandbox.usage() : null,
        this.codeSent ? sandbox.workspaceUsage() : null,
      ]);
      const outcome = decideOutcome({
        killReason: this.killReason,
        timeoutMs: this.request.timeoutMs,
        exit,
        done: this.done,
        bridgeProblem: this.bridgeProblem,
        bridgeLimit: this.bridgeLimit,
        fileErrors: collected.errors,
        sandboxed: facts.bwrapPath !== null,
        limits,
        kernel,
        sandboxProblem: this.sandboxProblem,
        workspace: workspaceUsage && facts.workspaceSize ? { usage: workspaceUsage, size: facts.workspaceSize } : null,
      });
      this.mark('collected');
      this.log.info({ status: outcome.status, exitCode: exit.exitCode, signal: exit.signal, toolCalls: this.toolCalls, kernel, phasesMs: this.phases }, 'execution finished');
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
      clearTimeout(this.cpuTimer);
      await this.endInstalls();
      this.hooks.toolHost.dispose();
      // Removing the sandbox's directory and cgroup is not on the client's clock: the result goes out first.
      this.cleanedUp = Promise.all([this.sandbox?.dispose(), ...this.discarded]).then(() => undefined);
    }
  }

  // A sandbox whose processes are in their cgroup, with this execution's limits applied: a warm one when the
  // pool has one, else a fresh one. A warm sandbox already holding more memory than this execution may (the
  // modules it preloaded) is put aside for a fresh one.
  private async acquireSandbox(): Promise<SandboxInstance> {
    const { runtime, limits } = this.request;
    const warm = await this.takeWarm(runtime);
    if (warm) {
      this.sandbox = warm;
      // One killed while it waited (it said too much before its code) is of no use either.
      const applied = warm.usable ? await warm.applyLimits(limits) : 'failed';
      if (applied === 'applied') return warm;
      this.log.info({ applied }, 'a warm sandbox could not take this execution\'s limits; starting a fresh one');
      this.discarded.push(warm.dispose());
      this.sandbox = null;
    }
    const sandbox = await SandboxInstance.start(runtime, this.context, this.session);
    this.sandbox = sandbox;
    if (this.killReason !== null) sandbox.kill();
    // Code is sent only once the sandbox is in its cgroup: ready says so (or that it died first).
    const ready = await sandbox.ready;
    if (!ready && sandbox.startProblem) this.sandboxProblem = sandbox.startProblem;
    if (!ready) return sandbox;
    const applied = await sandbox.applyLimits(limits);
    if (applied === 'memory_in_use') this.sandboxProblem = `memoryBytes (${limits.memoryBytes} bytes) is less than the interpreter holds before any code runs`;
    if (applied === 'failed') this.sandboxProblem = 'the limits of its cgroup could not be set';
    if (this.sandboxProblem !== null) sandbox.kill();
    return sandbox;
  }

  // Checks the CPU time of the whole sandbox (every process, every thread) against cpuTimeMs while the code runs,
  // more often as the remainder shrinks, and kills the sandbox when it is over. Without cgroups it never starts.
  private watchCpuTime(sandbox: SandboxInstance): void {
    const { cpuTimeMs } = this.request.limits;
    const cores = sandbox.cpuCores ?? os.availableParallelism();
    const schedule = (usedMs: number) => {
      // At most `cores` ms of CPU time pass per ms of wall time: check again before the remainder can run out.
      const delayMs = Math.min(MAX_CPU_CHECK_MS, Math.max(MIN_CPU_CHECK_MS, (cpuTimeMs - usedMs) / cores));
      this.cpuTimer = setTimeout(check, delayMs);
    };
    const check = async () => {
      const usedMs = await sandbox.cpuTimeMs();
      if (usedMs === null || this.killReason !== null || !this.codeRunning) return;
      if (usedMs > cpuTimeMs) {
        this.log.info({ usedMs, cpuTimeMs }, 'execution over its CPU time');
        this.stop('cpu_time');
      } else schedule(usedMs);
    };
    if (sandbox.limited) schedule(0);
  }

  // Kills the installs still running or queued (the code that asked is gone) and waits until they are over:
  // their processes gone, their staging trees and temporary directories removed.
  private async endInstalls(): Promise<void> {
    if (!this.stopped.signal.aborted) this.stopped.abort(new Error('the execution ended'));
    while (this.installing.size > 0) await Promise.all([...this.installing]);
  }

  private mark(phase: string): void {
    this.phases[phase] = Math.round((performance.now() - this.startedAt) * 100) / 100;
  }

  private stop(reason: KillReason): void {
    if (this.killReason !== null) return;
    this.killReason = reason;
    this.stopped.abort(new Error(`the execution was stopped (${reason})`));
    this.log.info({ reason }, 'stopping execution');
    this.sandbox?.kill();
  }

  private onBridgeMessage(sandbox: SandboxInstance, message: BridgeInbound): void {
    if (message.type === 'done') {
      // Only the first report is read (parsed): a second one costs nothing.
      const report = this.done ? null : message.read();
      if (report === null) this.onBridgeProblem('the code reported its result twice');
      else if ('problem' in report) this.onBridgeProblem(report.problem);
      else this.done = report.value;
      this.mark('done');
      return;
    }
    if (message.name === INSTALL_TOOL && message.refusal === undefined) return this.install(sandbox, message);
    this.toolCalls += 1;
    const { callId, name } = message;
    const refusal = this.refuseToolCall(message) ?? null;
    // The arguments are parsed only for a call that goes to a client (a refused one, or one nobody can answer,
    // needs none of them).
    const args = refusal === null && this.hooks.toolHost.canAnswer ? message.readArgs() : { value: null };
    const answer = refusal
      ? Promise.reject(refusal)
      : 'problem' in args
        ? Promise.reject(new ToolCallError('tool_error', `the call was refused: ${args.problem}`))
        : this.hooks.toolHost.call(name, args.value);
    answer.then(
      (result) => sandbox.send({ type: 'tool_result', callId, result: result ?? null }),
      (error: unknown) => {
        const failure = error instanceof ToolCallError ? error : new ToolCallError('tool_error', 'the tool failed');
        if (!(error instanceof ToolCallError)) this.log.error({ err: error }, 'tool call failed unexpectedly');
        sandbox.send({ type: 'tool_result', callId, error: { code: failure.code, message: failure.message } });
      },
    ).catch((error: unknown) => this.log.error({ err: error }, 'could not answer a tool call'));
  }

  // Installs packages for the code (outside the sandbox, into its session's or its own packages directory) and
  // answers the call; a refusal or failure goes back as the call's error, which the code raises.
  private install(sandbox: SandboxInstance, call: Extract<BridgeInbound, { type: 'tool_call' }>): void {
    this.installs += 1;
    const { packages } = this.context;
    const refuse = (code: string, message: string) => sandbox.send({ type: 'tool_result', callId: call.callId, error: { code, message } });
    if (!packages) return refuse('install_failed', 'this daemon does not install packages');
    if (this.installs > MAX_INSTALLS_PER_EXECUTION) {
      return refuse('limit_exceeded', `install limit reached: an execution may ask for ${MAX_INSTALLS_PER_EXECUTION} installs (each of up to 32 packages)`);
    }
    if (this.stopped.signal.aborted) return refuse('install_failed', 'the execution has ended; nothing was installed');
    const started = performance.now();
    const args = call.readArgs();
    if ('problem' in args) return refuse('invalid_package', `the install request was refused: ${args.problem}`);
    const answered = packages.install(sandbox.runtime, sandbox.packagesDir, args.value, this.stopped.signal).then(
      (answer) => {
        this.log.info({ installed: answer.installed, installer: answer.installer, durationMs: answer.durationMs }, 'packages installed');
        sandbox.send({ type: 'tool_result', callId: call.callId, result: answer });
      },
      (error: unknown) => {
        const ms = Math.round(performance.now() - started);
        if (this.stopped.signal.aborted && !(error instanceof InstallError)) {
          this.log.info({ ms }, 'package install stopped: the execution ended');
          return;
        }
        const failure = describeInstallFailure(error);
        if (failure.unexpected) this.log.error({ err: error }, 'package install failed unexpectedly');
        else this.log.info({ code: failure.code, ms }, 'package install refused or failed');
        refuse(failure.code, failure.message);
      },
    ).catch((error: unknown) => this.log.error({ err: error }, 'could not answer an install'));
    this.installing.add(answered);
    void answered.finally(() => this.installing.delete(answered));
  }

  // Why a tool call may not go to the client (a limit, an undeclared tool), or null when it may.
  private refuseToolCall(call: Extract<BridgeInbound, { type: 'tool_call' }>): ToolCallError | null {
    const { maxToolCalls } = this.request.limits;
    const { maxToolCallBytes } = this.context.config;
    if (call.refusal !== undefined) return new ToolCallError('limit_exceeded', call.refusal);
    if (this.toolCalls > maxToolCalls) {
      return new ToolCallError('limit_exceeded', `tool call limit reached: this execution may make ${maxToolCalls} tool calls (maxToolCalls)`);
    }
    if (call.bytes > maxToolCallBytes) {
      return new ToolCallError('limit_exceeded', `the arguments of ${call.name} are ${call.bytes} bytes, over maxToolCallBytes ${maxToolCallBytes}`);
    }
    if (this.hooks.toolHost.canAnswer && !this.request.tools.some((tool) => tool.name === call.name)) {
      const declared = this.request.tools.length ? this.request.tools.map((t) => t.name).join(', ') : 'no tools';
      return new ToolCallError('unknown_tool', `unknown tool ${JSON.stringify(call.name)}; this execution declared ${declared}`);
    }
    return null;
  }

  private onBridgeProblem(problem: string): void {
    this.log.warn({ problem }, 'bridge protocol problem');
    this.bridgeProblem ??= problem;
  }
}
