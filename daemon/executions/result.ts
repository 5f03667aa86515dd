// Pure: how an execution ended (status and error) from what was observed, and the result object clients get.
import { constants } from 'node:os';
import type { CodeError } from '../bridge/messages.js';
import type { FileError, OutputFile } from '../files/outputs.js';
import type { ExitInfo } from '../sandbox/spawn.js';

export type ExecutionStatus = 'ok' | 'error' | 'timeout' | 'killed' | 'cancelled';

export interface ExecutionResult {
  status: ExecutionStatus;
  result: unknown;
  stdout: string;
  stderr: string;
  files: Array<{ path: string; mimeType: string; size: number; content: string }>;
  fileErrors: FileError[];
  error: CodeError | null;
  exitCode: number | null;
  durationMs: number;
  toolCalls: number;
}

export interface Observed {
  killReason: 'timeout' | 'cancelled' | null;
  timeoutMs: number;
  exit: ExitInfo;
  /** The prelude's `done`, when it arrived. */
  done: { result: unknown; error: CodeError | null } | null;
  /** The bridge broke (oversized message, garbage), if it did. */
  bridgeProblem: string | null;
  fileErrors: readonly FileError[];
  /** True when the process was run under bubblewrap, which reports a child's death by signal N as exit 128+N. */
  sandboxed: boolean;
}

const error = (type: string, message: string): CodeError => ({ type, message, traceback: '' });

// Decides the status and error of an execution from what happened to it.
export function decideOutcome(observed: Observed): { status: ExecutionStatus; error: CodeError | null } {
  const { killReason, exit, done } = observed;
  if (killReason === 'timeout') {
    return { status: 'timeout', error: error('Timeout', `execution exceeded timeoutMs (${observed.timeoutMs} ms); its whole process tree was killed`) };
  }
  if (killReason === 'cancelled') return { status: 'cancelled', error: error('Cancelled', 'the execution was cancelled by the client') };
  if (exit.spawnError) return { status: 'error', error: error('SandboxError', `the sandbox could not be started: ${exit.spawnError}`) };
  const signal = exit.signal ?? (observed.sandboxed ? signalFromExitCode(exit.exitCode) : null);
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

// The wire form of output files: content as base64.
export function encodeFiles(files: readonly OutputFile[]): ExecutionResult['files'] {
  return files.map((f) => ({ path: f.path, mimeType: f.mimeType, size: f.size, content: f.content.toString('base64') }));
}
