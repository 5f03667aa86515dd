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
  /** Own process group, killed as a whole: the interpreter's tree without a sandbox; with one, unshare and
   * bubblewrap, the pid 1 of the pid namespace that holds the rest (outer-namespace.ts). */
  readonly processGroup: boolean;
  /** Bytes the process reads from descriptor 3 (EXTRA_INPUT_FD) until end of file: bubblewrap's seccomp program. */
  readonly extraInput?: Uint8Array;
  /**
   * Once the process has exited, nothing it started is left (it waited for the pid 1 of a pid namespace holding
   * all of it), so its process group is never signalled after that: the id may belong to another group by then.
   */
  readonly endsItsTree?: boolean;
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
    stdio: ['ignore', 'pipe', 'pipe', ...(spec.extraInput ? [spec.extraInput] : [])],
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
  let settled = false;
  void exited.then(() => (settled = true));
  const kill = (): void => {
    // Without a sandbox, members of the group may outlive its leader, so the group is signalled even then.
    const groupMayLive = !settled || !spec.endsItsTree;
    if (spec.processGroup && subprocess.pid && groupMayLive) signal(-subprocess.pid);
    subprocess.kill('SIGKILL');
  };
  return { pid: subprocess.pid, stdout: subprocess.stdout as Readable, stderr: subprocess.stderr as Readable, exited, kill };
}

/** A process sharing the daemon's standard input, output and error (see runInForeground). */
export interface ForegroundProcess {
  /** Settles when the process has exited; never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** Passes a signal on to the process (if it still runs). */
  signal(name: NodeJS.Signals): void;
}

// Starts a command on the daemon's own standard input, output and error, with the given environment: the daemon
// itself run again under an init, when it is pid 1 (main.ts).
export function runInForeground(file: string, args: readonly string[], env: Readonly<Record<string, string | undefined>>): ForegroundProcess {
  const subprocess = execa(file, [...args], { env: { ...env }, extendEnv: false, stdio: 'inherit', reject: false, cleanup: false });
  const exited = subprocess.then(
    (result) => ({ exitCode: result.exitCode ?? null, signal: result.signal ?? null, ...(result.exitCode === undefined && !result.signal && result.failed ? { spawnError: result.originalMessage } : {}) }),
    () => ({ exitCode: null, signal: null, spawnError: `could not start ${file}` }),
  );
  return { exited, signal: (name) => void subprocess.kill(name) };
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
