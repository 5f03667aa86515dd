// The lifecycle of one execution, start to collected result: it takes a sandbox, writes the input files, sends
// the code, keeps its time limits (timeoutMs here, cpuTimeMs in a CpuWatch), captures its output, hands its tool
// calls to a ToolRouter, collects its output files and always cleans up. Each of those has its own module.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { BridgeInbound, DoneReport } from '../bridge/messages.js';
import type { ToolRouter } from '../bridge/tool-router.js';
import type { ToolHost } from '../bridge/tools.js';
import { writeInputFiles } from '../files/inputs.js';
import { collectOutputFiles } from '../files/outputs.js';
import type { PackageService } from '../packages/service.js';
import type { ExitInfo } from '../sandbox/spawn.js';
import { acquireSandbox, type TakeWarmSandbox } from './acquire-sandbox.js';
import { CpuWatch } from './cpu-watch.js';
import { routerFor } from './execution-tools.js';
import { installsForRun } from './install-tool.js';
import { OutputCapture } from './output.js';
import type { ExecutionRequest } from './request.js';
import { findResultExpression, type ResultExpression } from './result-expression.js';
import { buildResult, startFailedResult, type CancelReason, type ExecutionResult, type KillReason } from './result.js';
import type { SandboxContext, SandboxInstance, SessionBinding } from './sandbox-instance.js';

/** What every execution of a daemon shares: its configuration, sandbox facts, logger, cgroups and installer. */
export interface ExecutionContext extends SandboxContext {
  /** Installs packages for install_package/installPackage; null or left out refuses them. */
  readonly packages?: PackageService | null;
}

/** How an execution reaches its client: tool calls and output as it happens. */
export interface ExecutionHooks {
  readonly toolHost: ToolHost;
  /** Output as it happens (only what is kept within maxOutputBytes). */
  readonly onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** The logger of the request or connection that asked for it (with its requestId); the daemon's by default. */
  readonly logger?: Logger;
}

/** One execution: what to run, with what, and since when it counts. */
export interface ExecutionOptions {
  /** The daemon's id of the execution (in the log as executionId). */
  readonly id: string;
  readonly request: ExecutionRequest;
  readonly context: ExecutionContext;
  readonly hooks: ExecutionHooks;
  /** When the execution was accepted (performance.now()): its durationMs counts from there, its wait included. */
  readonly acceptedAt: number;
  /** Hands out a warm sandbox (the session's, with one). @default none: every execution starts its own */
  readonly takeWarm?: TakeWarmSandbox;
  /** The session whose workspace and packages the execution uses. @default null */
  readonly session?: SessionBinding | null;
}

// One running execution; run() once, cancel() at any time.
export class Execution {
  readonly id: string;
  private readonly options: ExecutionOptions;
  private readonly log: Logger;
  private killReason: KillReason | null = null;
  private cancelReason: CancelReason | null = null;
  /** Aborted when the execution stops or ends, whatever its status: a daemon tool still running gives up. */
  private readonly stopped = new AbortController();
  /** The sandbox the execution holds (killed by stop()). */
  private sandbox: SandboxInstance | null = null;
  /** Warm sandboxes taken but not used (they held more memory than this execution may); disposed of with it. */
  private readonly discarded: Array<Promise<void>> = [];
  private tools: ToolRouter | null = null;
  private cpuWatch: CpuWatch | null = null;
  private done: DoneReport | null = null;
  /** Settles when the code's `done` was read (it never settles for code that ends without one). */
  private readonly reported: Promise<void>;
  private markReported!: () => void;
  /** True when the execution ended at its `done`, its processes frozen (the log's `ended`). */
  private endedAtDone = false;
  /** True once the code has exited without a report read: what its bridge still holds is read, calls are not run. */
  private codeGone = false;
  private bridgeProblem: string | null = null;
  /** The bridge budget the code went past, if it did (the execution was then cut off). */
  private bridgeLimit: string | null = null;
  /** Milliseconds from the start of run() to each phase, for the log. */
  private readonly phases: Record<string, number> = {};
  private startedAt = 0;
  /** Settles when the sandbox is gone and its directory removed (after run() has returned). */
  cleanedUp: Promise<void> = Promise.resolve();

  constructor(options: ExecutionOptions) {
    this.reported = new Promise((resolve) => (this.markReported = resolve));
    this.options = options;
    this.id = options.id;
    this.log = (options.hooks.logger ?? options.context.logger).child({ executionId: options.id, runtime: options.request.runtime });
  }

  // Stops the execution: the whole process tree is killed and the result says `cancelled`, and who cancelled.
  cancel(reason: CancelReason): void {
    if (this.killReason === null) this.cancelReason = reason;
    this.stop('cancelled');
  }

  // Runs the code to its end and returns the result; never throws for anything the code does.
  async run(): Promise<ExecutionResult> {
    this.startedAt = performance.now();
    const { request, context, hooks } = this.options;
    const { maxOutputBytes } = request.limits;
    const captures = { stdout: new OutputCapture('stdout', maxOutputBytes), stderr: new OutputCapture('stderr', maxOutputBytes) };
    try {
      let startFailure: unknown = null;
      const { session = null, takeWarm = async () => null } = this.options;
      const acquired = await acquireSandbox({
        request, context, session, takeWarm, signal: this.stopped.signal, log: this.log,
        hold: (sandbox) => (this.sandbox = sandbox),
        discard: (disposal) => this.discarded.push(disposal),
      }).catch((error: unknown) => ((startFailure = error), null));
      if (!acquired) {
        // Its directory, bridge or workspace mount could not be made (the daemon out of descriptors, a full
        // disk): an error of this execution alone, with the details in the log only.
        this.log.error({ err: startFailure }, 'could not start a sandbox');
        return startFailedResult(startFailure, performance.now() - this.options.acceptedAt);
      }
      const { sandbox, problem } = acquired;
      this.mark('sandbox');
      const tools = (this.tools = routerFor({ request, config: context.config, packages: context.packages ?? null, sandbox, toolHost: hooks.toolHost, signal: this.stopped.signal, log: this.log }));
      sandbox.attach({
        onOutput: (stream, chunk) => {
          const text = captures[stream].push(chunk);
          if (text) hooks.onOutput?.(stream, text);
        },
        onMessage: (message) => this.onBridgeMessage(tools, message),
        onProtocolError: (found) => this.onBridgeProblem(found),
        onBridgeLimit: (found) => {
          this.log.warn({ problem: found }, 'execution cut off at a bridge budget');
          this.bridgeLimit ??= found;
          this.stop('bridge_limit');
        },
      });
      const codeSent = this.killReason === null && problem === null;
      const exit: ExitInfo = codeSent ? await this.runCode(sandbox) : problem !== null ? await sandbox.exited : { exitCode: null, signal: 'SIGKILL' };
      await this.endTools();
      return await this.collect(sandbox, { exit, codeSent, problem, ...captures });
    } finally {
      this.cpuWatch?.stop();
      await this.endTools();
      hooks.toolHost.dispose();
      // Removing the sandbox's directory and cgroup is not on the client's clock: the result goes out first.
      this.cleanedUp = Promise.all([this.sandbox?.dispose(), ...this.discarded]).then(() => undefined);
    }
  }

  // Sends the code and waits for the sandbox to exit, within timeoutMs and cpuTimeMs.
  private async runCode(sandbox: SandboxInstance): Promise<ExitInfo> {
    const { request, context } = this.options;
    await writeInputFiles(sandbox.workspaceDir, request.files, context.facts.owner);
    sandbox.send({
      type: 'run', code: request.code, tools: request.tools, inputs: request.inputs,
      installs: installsForRun(context.config, context.packages ?? null), ...runEndings(request),
    });
    this.mark('run');
    const timer = setTimeout(() => this.stop('timeout'), request.timeoutMs);
    // Without cgroups there is nothing to watch (RLIMIT_CPU is the backstop).
    if (sandbox.limited && this.killReason === null) {
      this.cpuWatch = new CpuWatch({
        cpuTimeMs: request.limits.cpuTimeMs,
        cores: sandbox.cpuCores ?? os.availableParallelism(),
        readCpuTimeMs: () => sandbox.cpuTimeMs(),
        onOver: (usedMs) => {
          this.log.info({ usedMs, cpuTimeMs: request.limits.cpuTimeMs }, 'execution over its CPU time');
          this.stop('cpu_time');
        },
      });
      this.cpuWatch.start();
    }
    try {
      // Once the report is read, its ending decides (an exit it causes, a kill without a freezer, is not the
      // code's outcome); an exit before any report is.
      let ending: Promise<ExitInfo> | null = null;
      const endedByReport = this.reported.then(() => (ending = this.endAtDone(sandbox)));
      const exit = await Promise.race([sandbox.exited.then((exited) => ending ?? exited), endedByReport]);
      // Exited without a report read: it may still be in the bridge (read later while the bridge rests), and the
      // result with it. Tool calls read now find the code gone and are not run.
      if (this.done === null && this.killReason === null) {
        this.codeGone = true;
        await sandbox.drainBridge();
      }
      return exit;
    } finally {
      this.mark('exit');
      clearTimeout(timer);
      this.cpuWatch?.stop();
    }
  }

  // The code reported its end with the status it exits with, and waits (the prelude does, docs/protocol.md): rather
  // than let its processes exit (tearing down an interpreter's memory takes 5–12 ms, a forked Python's the most,
  // and no freezer stops a process doing that), they are frozen where they are and what they wrote is read; they
  // die with the sandbox, after the result. Without a freezer (or processes that would not stop), or for a report
  // the daemon refused, the sandbox is killed and its pipes read to their end. The outcome is the report's.
  private async endAtDone(sandbox: SandboxInstance): Promise<ExitInfo> {
    const done = this.done;
    const exitCode = done?.exitCode ?? null;
    if (this.killReason !== null) return sandbox.exited;
    // A report without an exit status and without an error (never the prelude's): its exit is waited for.
    if (done !== null && exitCode === null && done.error === null) return sandbox.exited;
    if (exitCode !== null && (await sandbox.freeze())) {
      this.endedAtDone = true;
      return { exitCode, signal: null };
    }
    sandbox.kill();
    await sandbox.exited;
    return { exitCode, signal: null };
  }

  // The result, from what the sandbox left and what was observed.
  private async collect(sandbox: SandboxInstance, ran: { exit: ExitInfo; codeSent: boolean; problem: string | null; stdout: OutputCapture; stderr: OutputCapture }): Promise<ExecutionResult> {
    const { request, context: { config, facts } } = this.options;
    const { exit, codeSent } = ran;
    // Its process could not be started (out of descriptors, say): the client sees no path, so the log has it.
    if (exit.spawnError) this.log.error({ spawnError: exit.spawnError }, 'could not start a sandbox');
    const declared = this.killReason === null ? this.done?.files : undefined;
    const [collected, kernel, workspaceUsage] = await Promise.all([
      declared ? collectOutputFiles(sandbox.workspaceDir, declared, { ...config, maxFiles: config.maxOutputFiles }) : { files: [], errors: [] },
      codeSent ? sandbox.usage() : null,
      codeSent ? sandbox.workspaceUsage() : null,
    ]);
    const toolCalls = this.tools?.toolCalls ?? 0;
    const toolReport = this.tools?.report();
    const workspace = workspaceUsage && facts.workspaceSize ? { usage: workspaceUsage, size: facts.workspaceSize } : null;
    const result = buildResult(
      {
        killReason: this.killReason, cancelReason: this.cancelReason, timeoutMs: request.timeoutMs, limits: request.limits,
        exit, done: this.done, bridgeProblem: this.bridgeProblem, bridgeLimit: this.bridgeLimit, sandboxProblem: ran.problem,
        fileErrors: collected.errors, sandboxed: facts.bwrapPath !== null, kernel, workspace,
      },
      { stdout: ran.stdout.text(), stderr: ran.stderr.text(), files: collected.files, durationMs: performance.now() - this.options.acceptedAt, toolCalls, ...toolReport },
    );
    this.mark('collected');
    const ended = this.endedAtDone ? 'done' : 'exit';
    this.log.info({ status: result.status, exitCode: exit.exitCode, signal: exit.signal, ended, toolCalls, kernel, phasesMs: this.phases }, 'execution finished');
    return result;
  }

  // Stops the daemon's tools still running (an install's processes are killed) and waits until they are over:
  // their processes gone, their staging trees and temporary directories removed.
  private async endTools(): Promise<void> {
    if (!this.stopped.signal.aborted) this.stopped.abort(new Error('the execution ended'));
    await this.tools?.settled();
  }

  private mark(phase: string): void {
    this.phases[phase] = Math.round((performance.now() - this.startedAt) * 100) / 100;
  }

  private stop(reason: KillReason): void {
    if (this.killReason !== null) return;
    this.killReason = reason;
    this.stopped.abort(new Error(`the execution was stopped (${reason})`));
    this.log.info({ reason, ...(this.cancelReason ? { cancelReason: this.cancelReason } : {}) }, 'stopping execution');
    this.cpuWatch?.stop();
    this.sandbox?.kill();
  }

  private onBridgeMessage(tools: ToolRouter, message: BridgeInbound): void {
    if (message.type === 'tool_call') {
      if (this.codeGone) return void this.log.debug({ tool: message.name }, 'a tool call read after the code exited; not run');
      return tools.route(message);
    }
    // Only the first report is read (parsed): a second one costs nothing.
    const report = this.done ? null : message.read();
    if (report === null) this.onBridgeProblem('the code reported its result twice');
    else if ('problem' in report) {
      // Refused, and the end all the same: the prelude waits after sending it.
      this.onBridgeProblem(report.problem);
      this.markReported();
    } else {
      this.done = report.value;
      this.markReported();
    }
    this.mark('done');
  }

  private onBridgeProblem(problem: string): void {
    this.log.warn({ problem }, 'bridge protocol problem');
    this.bridgeProblem ??= problem;
  }
}

// The fields of `run` about how the code ends: Node's trailing expression (found here, as the prelude has no
// parser), Python's figure capture.
function runEndings(request: ExecutionRequest): { resultExpression?: ResultExpression; captureFigures?: boolean } {
  if (request.runtime !== 'node') return { captureFigures: request.captureFigures };
  const resultExpression = findResultExpression(request.code);
  return resultExpression === null ? {} : { resultExpression };
}
