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
  /** Own process group, killed as a whole: the interpreter's tree without a sandbox; with one, bubblewrap's child
   * while it is still setting up (before --die-with-parent covers it and it moves to its own session). */
  readonly processGroup: boolean;
  /** Bytes the process reads from descriptor 3 (EXTRA_INPUT_FD) until end of file: bubblewrap's seccomp program. */
  readonly extraInput?: Uint8Array;
  /**
   * The process writes `"child-pid": N` to descriptor 4 (CHILD_PID_FD; bubblewrap's --info-fd), and kill() kills
   * that process too: the sandbox's pid 1, whose death ends every process in the sandbox's pid namespace.
   */
  readonly reportsChildPid?: boolean;
}

/** The descriptor on which a process finds SpawnSpec.extraInput. */
export const EXTRA_INPUT_FD = 3;
/** The descriptor on which a process reports its child's pid (SpawnSpec.reportsChildPid). */
export const CHILD_PID_FD = 4;
const CHILD_PID = /"child-pid":\s*(\d+)/;

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
  const extra = spec.reportsChildPid ? [spec.extraInput ?? 'ignore', 'pipe'] as const : spec.extraInput ? [spec.extraInput] as const : [];
  const subprocess = execa(spec.file, [...spec.args], {
    env: { ...spec.env },
    extendEnv: false,
    cwd: spec.cwd,
    uid: spec.uid,
    gid: spec.gid,
    stdio: ['ignore', 'pipe', 'pipe', ...extra],
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
  // bubblewrap's child binds itself to bubblewrap's life only late in its set-up: killed before that, bubblewrap
  // would leave it running. So the child is killed by its own pid as well, as soon as that pid is known.
  let childPid: number | null = null;
  let killing = false;
  let settled = false;
  void exited.then(() => (settled = true));
  const killChild = (): void => {
    if (childPid === null || settled) return; // once settled, the pid may belong to someone else
    signal(childPid);
  };
  if (spec.reportsChildPid) {
    const info = subprocess.stdio[CHILD_PID_FD] as Readable;
    let text = '';
    info.on('data', (chunk: Buffer) => {
      if (childPid !== null || text.length > 4096) return;
      text += chunk.toString('latin1');
      const match = CHILD_PID.exec(text);
      if (match) childPid = Number(match[1]);
      if (killing) killChild();
    });
    info.on('error', () => undefined);
  }
  const kill = (): void => {
    killing = true;
    // Once a sandbox has settled its pid 1 is gone, and with it every process it held: signalling the group then
    // could only reach an unrelated group that reused the id. Without a sandbox, group members may outlive it.
    const groupMayLive = !settled || !spec.reportsChildPid;
    if (spec.processGroup && subprocess.pid && groupMayLive) signal(-subprocess.pid);
    subprocess.kill('SIGKILL');
    killChild();
  };
  return { pid: subprocess.pid, stdout: subprocess.stdout as Readable, stderr: subprocess.stderr as Readable, exited, kill };
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
