// Pure: how an execution ended (status and error) from what was observed, and the one place the result object
// clients get is built (for an execution that ran, and one that never did).
import { constants } from 'node:os';
import { isOutOfDescriptors, OUT_OF_DESCRIPTORS } from '../descriptors.js';
import type { OutputFile } from '../files/outputs.js';
import type { CgroupCounters } from '../sandbox/cgroups.js';
import type { WorkspaceSize, WorkspaceUsage } from '../sandbox/mounts.js';
import type { ExitInfo } from '../sandbox/spawn.js';
import type { BudgetExceeded, CodeError, EncodedFile, ExecutionStatus, FileError, ToolCallLogEntry, WireExecutionResult } from '../wire-types.js';

/** The result of an execution, as it goes out on the wire. */
export type ExecutionResult = WireExecutionResult;

/** Why Runbox itself killed the execution, if it did. */
export type KillReason = 'timeout' | 'cancelled' | 'cpu_time' | 'bridge_limit';

/** Who cancelled an execution: its client (a `cancel`, a disconnect), the daemon's shutdown, or its session's end. */
export type CancelReason = 'client' | 'shutdown' | 'session';

/** The message of a Cancelled error, for each reason: while the execution ran, and while it waited for a slot. */
const CANCELLED_WHILE_RUNNING: Readonly<Record<CancelReason, string>> = {
  client: 'the execution was cancelled by the client',
  shutdown: 'the daemon shut down before the execution finished (its shutdown grace period, shutdownGraceMs, ran out)',
  session: 'its session was deleted or expired while the execution ran',
};
const CANCELLED_BEFORE_START: Readonly<Record<CancelReason, string>> = {
  client: 'the execution was cancelled by the client while it waited for a slot',
  shutdown: 'the daemon shut down before the execution could start',
  session: 'its session was deleted or expired before the execution could start',
};

/** What happened to an execution, from which its status and error are decided. */
export interface Observed {
  killReason: KillReason | null;
  /** Who cancelled the execution (killReason 'cancelled'); left out means its client. */
  cancelReason?: CancelReason | null;
  timeoutMs: number;
  exit: ExitInfo;
  /** The prelude's `done`, when it arrived. */
  done: { result: unknown; error: CodeError | null } | null;
  /** The bridge broke (oversized message, garbage), if it did. */
  bridgeProblem: string | null;
  /** The bridge budget the code went past (killReason 'bridge_limit'), naming it and its value. */
  bridgeLimit?: string | null;
  fileErrors: readonly FileError[];
  /** True when the process was run under bubblewrap, which reports a child's death by signal N as exit 128+N. */
  sandboxed: boolean;
  /** The execution's kernel-enforced limits, named in messages. */
  limits?: { readonly memoryBytes: number; readonly maxProcesses: number; readonly cpuTimeMs: number };
  /** The cgroup counters; null or left out when the daemon runs without cgroups. */
  kernel?: CgroupCounters | null;
  /** Why the sandbox could not run the code although it started (e.g. it could not be put in its cgroup). */
  sandboxProblem?: string | null;
  /** How full the workspace tmpfs was after the code, and its size; null or left out when it is not one. */
  workspace?: { readonly usage: WorkspaceUsage; readonly size: WorkspaceSize } | null;
}

/** Below this much free space (or with no free inode) a workspace counts as full. */
const FULL_BELOW_BYTES = 64 * 1024;

const error = (type: string, message: string): CodeError => ({ type, message, traceback: '' });

// Decides the status and error of an execution from what happened to it. An exceeded kernel limit names
// itself (MemoryLimit, CpuTimeLimit, ProcessLimit) instead of the symptom it caused (a SIGKILL, an EAGAIN).
export function decideOutcome(observed: Observed): { status: ExecutionStatus; error: CodeError | null } {
  const outcome = nameKernelLimits(observed, decideBaseOutcome(observed));
  const workspace = observed.workspace;
  if (outcome.status !== 'error' || !outcome.error || !workspace || outcome.error.type === 'OutputFileError') return outcome;
  const { usage, size } = workspace;
  if (usage.freeBytes >= FULL_BELOW_BYTES && usage.freeFiles > 0) return outcome;
  const what = usage.freeFiles === 0 ? `workspaceFiles (${size.files} files and directories)` : `workspaceBytes (${size.bytes} bytes)`;
  const { type, message } = outcome.error;
  return { status: 'error', error: { ...outcome.error, type: 'WorkspaceLimit', message: `the workspace is full: it reached ${what}; then the code failed: ${type}: ${message}` } };
}

// A failure caused by an exceeded kernel limit names that limit (MemoryLimit, ProcessLimit) over its symptom.
function nameKernelLimits(observed: Observed, outcome: { status: ExecutionStatus; error: CodeError | null }): { status: ExecutionStatus; error: CodeError | null } {
  const kernel = observed.kernel;
  if (!kernel || !outcome.error || observed.killReason === 'cancelled' || observed.killReason === 'cpu_time' || observed.killReason === 'bridge_limit') return outcome;
  const limits = observed.limits;
  if (kernel.oomKills > 0 && outcome.status !== 'timeout') {
    const limit = limits ? `memoryBytes (${limits.memoryBytes} bytes)` : 'memoryBytes';
    if (outcome.status === 'killed') {
      return { status: 'killed', error: error('MemoryLimit', `the execution used more than ${limit} and was killed`) };
    }
    // The interpreter survived (the kernel killed one of its child processes) and then failed.
    const { type, message } = outcome.error;
    return { status: outcome.status, error: { ...outcome.error, type: 'MemoryLimit', message: `a process of the execution used more than ${limit} and was killed; then the code failed: ${type}: ${message}` } };
  }
  if (kernel.forkFailures > 0) {
    const limit = limits ? `maxProcesses (${limits.maxProcesses} processes and threads)` : 'maxProcesses';
    const refused = `${kernel.forkFailures} attempt${kernel.forkFailures === 1 ? ' was' : 's were'} refused`;
    if (outcome.status === 'timeout') {
      return { status: 'timeout', error: { ...outcome.error, message: `${outcome.error.message}; it had also reached ${limit}: ${refused}` } };
    }
    const { type, message } = outcome.error;
    return { status: outcome.status, error: { ...outcome.error, type: 'ProcessLimit', message: `the execution reached ${limit}: ${refused} to start a process or thread; then: ${type}: ${message}` } };
  }
  return outcome;
}

// The outcome from the process's exit and the prelude's report alone.
function decideBaseOutcome(observed: Observed): { status: ExecutionStatus; error: CodeError | null } {
  const { killReason, exit, done } = observed;
  if (killReason === 'timeout') {
    return { status: 'timeout', error: error('Timeout', `execution exceeded timeoutMs (${observed.timeoutMs} ms); its whole process tree was killed`) };
  }
  if (killReason === 'bridge_limit') return { status: 'killed', error: error('BridgeLimit', observed.bridgeLimit ?? 'the code went past a budget of its bridge; the execution was cut off') };
  if (killReason === 'cancelled') return { status: 'cancelled', error: error('Cancelled', CANCELLED_WHILE_RUNNING[observed.cancelReason ?? 'client']) };
  if (killReason === 'cpu_time') {
    const limit = observed.limits ? `cpuTimeMs (${observed.limits.cpuTimeMs} ms of CPU time)` : 'cpuTimeMs';
    return { status: 'killed', error: error('CpuTimeLimit', `the execution used more than ${limit} and was killed`) };
  }
  if (exit.spawnError) {
    // Out of descriptors, the spawn is as likely to fail as anything before it: the same words, without the path.
    const cause = new Error(exit.spawnError);
    return { status: 'error', error: isOutOfDescriptors(cause) ? describeStartFailure(cause) : error('SandboxError', `the sandbox could not be started: ${exit.spawnError}`) };
  }
  if (observed.sandboxProblem) return { status: 'error', error: error('SandboxError', `the sandbox could not run the code: ${observed.sandboxProblem}`) };
  const signal = exit.signal ?? (observed.sandboxed ? signalFromExitCode(exit.exitCode) : null);
  if (signal === 'SIGXCPU') {
    // RLIMIT_CPU, the per-process backstop of cpuTimeMs.
    const limit = observed.limits ? `cpuTimeMs (${observed.limits.cpuTimeMs} ms of CPU time)` : 'cpuTimeMs';
    return { status: 'killed', error: error('CpuTimeLimit', `a process of the execution used more than ${limit} and was killed by SIGXCPU`) };
  }
  if (done?.error) return { status: 'error', error: done.error };
  if (signal && (!done || exit.signal)) {
    return { status: 'killed', error: error('Killed', `the interpreter was killed by ${signal} before it finished (a crash, or the kernel's out-of-memory killer)`) };
  }
  if (observed.bridgeProblem) return { status: 'error', error: error('BridgeError', observed.bridgeProblem) };
  if (exit.exitCode !== 0) {
    const when = done ? 'after reporting its result' : 'before reporting a result';
    return { status: 'error', error: error('ExitCode', `the interpreter exited with code ${exit.exitCode} ${when}`) };
  }
  if (observed.fileErrors.length > 0) {
    const list = observed.fileErrors.map((f) => `${f.path}: ${f.message}`).join('; ');
    return { status: 'error', error: error('OutputFileError', `declared output files were refused: ${list}`) };
  }
  return { status: 'ok', error: null };
}

// bubblewrap exits with 128+N when the code was killed by signal N; turn that back into the signal's name.
function signalFromExitCode(exitCode: number | null): string | null {
  if (exitCode === null || exitCode <= 128 || exitCode > 128 + 64) return null;
  const entry = Object.entries(constants.signals).find(([, number]) => number === exitCode - 128);
  return entry ? entry[0] : `signal ${exitCode - 128}`;
}

// Why a sandbox could not be started, as the client may see it: the cause's paths and details stay in the log.
function describeStartFailure(cause: unknown): CodeError {
  const why = isOutOfDescriptors(cause)
    ? OUT_OF_DESCRIPTORS
    : (cause as { code?: unknown })?.code === 'ENOSPC'
      ? 'the daemon\'s disk is full (ENOSPC)'
      : 'its directory, bridge or workspace could not be set up (the daemon\'s log has the details)';
  return error('SandboxError', `the sandbox could not be started: ${why}`);
}

/** What an execution that ran gathered, besides what decides its outcome. */
export interface Gathered {
  readonly stdout: string;
  readonly stderr: string;
  readonly files: readonly OutputFile[];
  /** From the execution's acceptance (its wait for a slot included) to its end. */
  readonly durationMs: number;
  readonly toolCalls: number;
  /** The calls' log. @default [] */
  readonly toolCallLog?: readonly ToolCallLogEntry[];
  /** More calls finished than the log keeps. @default false */
  readonly toolCallLogTruncated?: boolean;
  /** The request's budgets the code went past. @default [] */
  readonly budgetsExceeded?: readonly BudgetExceeded[];
}

// The result of an execution that ran: its outcome decided from what was observed, with what it gathered. The
// code's own result is dropped when Runbox killed it (what it said last may be half done).
export function buildResult(observed: Observed, gathered: Gathered): ExecutionResult {
  const outcome = decideOutcome(observed);
  return {
    status: outcome.status,
    result: observed.killReason === null ? (observed.done?.result ?? null) : null,
    stdout: gathered.stdout,
    stderr: gathered.stderr,
    files: encodeFiles(gathered.files),
    fileErrors: [...observed.fileErrors],
    error: outcome.error,
    exitCode: observed.exit.exitCode,
    durationMs: roundMs(gathered.durationMs),
    toolCalls: gathered.toolCalls,
    toolCallLog: [...(gathered.toolCallLog ?? [])],
    ...(gathered.toolCallLogTruncated ? { toolCallLogTruncated: true } : {}),
    budgetsExceeded: [...(gathered.budgetsExceeded ?? [])],
  };
}

// The result of an execution whose sandbox could not be started (the cause stays in the log): it never ran code.
export function startFailedResult(cause: unknown, durationMs: number): ExecutionResult {
  return neverRan('error', describeStartFailure(cause), durationMs);
}

// The result of an execution cancelled (by its client, a shutdown or its session's end) while it waited for a
// slot: it never ran.
export function cancelledBeforeStart(reason: CancelReason, waitedMs: number): ExecutionResult {
  return neverRan('cancelled', error('Cancelled', CANCELLED_BEFORE_START[reason]), waitedMs);
}

function neverRan(status: 'error' | 'cancelled', failure: CodeError, durationMs: number): ExecutionResult {
  return { status, result: null, stdout: '', stderr: '', files: [], fileErrors: [], error: failure, exitCode: null, durationMs: roundMs(durationMs), toolCalls: 0, toolCallLog: [], budgetsExceeded: [] };
}

// Milliseconds to two decimals, as results carry them.
function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

// The wire form of output files: content as base64.
function encodeFiles(files: readonly OutputFile[]): EncodedFile[] {
  return files.map((f) => ({ path: f.path, mimeType: f.mimeType, size: f.size, content: f.content.toString('base64') }));
}
