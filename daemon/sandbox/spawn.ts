// The one place that starts and kills processes. Arguments stay arrays end to end; no shell is involved.
import type { Readable } from 'node:stream';
import { execa } from 'execa';

export interface SpawnSpec {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Host uid/gid to run as (only when the daemon is root). */
  readonly uid?: number;
  readonly gid?: number;
  /** Own process group, so the whole tree can be killed (only used without a sandbox). */
  readonly processGroup: boolean;
  /** Bytes the process reads from descriptor 3 (EXTRA_INPUT_FD) until end of file: bubblewrap's seccomp program. */
  readonly extraInput?: Uint8Array;
}

/** The descriptor on which a process finds SpawnSpec.extraInput. */
export const EXTRA_INPUT_FD = 3;

export interface ExitInfo {
  /** Null when a signal ended the process. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Set when the process could not be started at all (e.g. the binary is missing). */
  readonly spawnError?: string;
}

export interface SpawnedProcess {
  readonly pid: number | undefined;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Settles when the process has exited and its output pipes are closed; never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** SIGKILL the process and everything it started. Safe to call more than once, or after exit. */
  kill(): void;
}

// Starts a process with exactly the given environment and no stdin; it dies if the daemon dies.
// extraInput, if any, is written to its descriptor 3, which is then closed, so the reader sees end of file.
export function spawnProcess(spec: SpawnSpec): SpawnedProcess {
  const subprocess = execa(spec.file, [...spec.args], {
    env: { ...spec.env },
    extendEnv: false,
    cwd: spec.cwd,
    uid: spec.uid,
    gid: spec.gid,
    stdio: spec.extraInput ? ['ignore', 'pipe', 'pipe', spec.extraInput] : ['ignore', 'pipe', 'pipe'],
    buffer: false,
    reject: false,
    detached: spec.processGroup,
    cleanup: true,
    killSignal: 'SIGKILL',
    forceKillAfterDelay: false,
    encoding: 'buffer',
  });
  const exited = subprocess.then(
    (result) => {
      const spawnError = result.exitCode === undefined && !result.signal && result.failed ? result.originalMessage : undefined;
      return { exitCode: result.exitCode ?? null, signal: result.signal ?? null, ...(spawnError ? { spawnError } : {}) };
    },
    (error: { exitCode?: number; signal?: string }) => ({ exitCode: error.exitCode ?? null, signal: error.signal ?? 'SIGKILL' }),
  );
  const kill = (): void => {
    if (spec.processGroup && subprocess.pid) {
      try {
        process.kill(-subprocess.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    }
    subprocess.kill('SIGKILL');
  };
  return { pid: subprocess.pid, stdout: subprocess.stdout as Readable, stderr: subprocess.stderr as Readable, exited, kill };
}
