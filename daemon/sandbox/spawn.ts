// The one place that starts and kills processes. Arguments stay arrays end to end; no shell is involved.
// Built on node:child_process itself, with its 'error' listener attached before anything else can run: a spawn
// that fails (EMFILE when the daemon is out of descriptors, ENOENT) is that one process's outcome, never a crash.
// Node reports EMFILE by returning a child without stdio and emitting 'error' a tick later; execa 9 throws on the
// missing stdio and leaves that 'error' unhandled, which took the daemon down (security issue, class 3).
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { Readable, type Writable } from 'node:stream';

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

// Starts a process with exactly the given environment and no stdin; it dies if the daemon exits first.
// extraInput, if any, is written to its descriptor 3, which is then closed, so the reader sees end of file.
// Never throws: a process that could not be started has empty output and `exited` says why (spawnError).
export function spawnProcess(spec: SpawnSpec): SpawnedProcess {
  const extra: StdioOptions = spec.reportsChildPid ? [spec.extraInput ? 'pipe' : 'ignore', 'pipe'] : spec.extraInput ? ['pipe'] : [];
  let subprocess: ChildProcess;
  try {
    subprocess = spawn(spec.file, [...spec.args], {
      env: { ...spec.env },
      cwd: spec.cwd,
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
      stdio: ['ignore', 'pipe', 'pipe', ...extra],
      detached: spec.processGroup,
    });
  } catch (error) {
    return notStarted(`spawn ${spec.file} failed: ${(error as Error).message}`);
  }
  let settleExit!: (exit: ExitInfo) => void;
  const exited = new Promise<ExitInfo>((resolve) => (settleExit = resolve));
  // The first 'error' before a pid means nothing started; any later one (a failed kill) changes nothing here.
  subprocess.on('error', (error) => {
    if (subprocess.pid === undefined) settleExit({ exitCode: null, signal: null, spawnError: error.message });
  });
  subprocess.once('close', (code, signal) => settleExit({ exitCode: code, signal }));
  KILLS_ON_EXIT.add(() => kill(), exited);
  const stdout = subprocess.stdout ?? Readable.from([]);
  const stderr = subprocess.stderr ?? Readable.from([]);
  if (spec.extraInput) {
    const input = subprocess.stdio?.[EXTRA_INPUT_FD] as Writable | null | undefined;
    input?.on('error', () => undefined); // the process died before reading it: its exit says why
    input?.end(Buffer.from(spec.extraInput));
  }
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
    const info = (subprocess.stdio?.[CHILD_PID_FD] as Readable | null | undefined) ?? Readable.from([]);
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
  return { pid: subprocess.pid, stdout, stderr, exited, kill };
}

// A process that never started: no output, and an exit that says why.
function notStarted(spawnError: string): SpawnedProcess {
  return { pid: undefined, stdout: Readable.from([]), stderr: Readable.from([]), exited: Promise.resolve({ exitCode: null, signal: null, spawnError }), kill: () => undefined };
}

// The kills of the processes still running, called if the daemon exits before they do (a third signal, an
// uncaught error), as execa's `cleanup` did. Sandboxes also die with the daemon through --die-with-parent.
class KillsOnExit {
  private readonly kills = new Set<() => void>();
  private installed = false;

  // Remembers a kill until the process has exited.
  add(kill: () => void, exited: Promise<unknown>): void {
    if (!this.installed) {
      this.installed = true;
      process.once('exit', () => {
        for (const each of this.kills) each();
      });
    }
    this.kills.add(kill);
    void exited.then(() => this.kills.delete(kill));
  }
}

const KILLS_ON_EXIT = new KillsOnExit();

export interface CommandResult extends ExitInfo {
  readonly stdout: string;
  readonly stderr: string;
}

/** Output kept of a short command (its beginning; mount and umount say a line at most). */
const MAX_COMMAND_OUTPUT_BYTES = 64 * 1024;

// Runs a short helper command (mount, umount) with an empty environment to its end; never throws.
export async function runCommand(file: string, args: readonly string[]): Promise<CommandResult> {
  const child = spawnProcess({ file, args, env: {}, cwd: '/', processGroup: false });
  const [stdout, stderr] = [collect(child.stdout), collect(child.stderr)];
  const exit = await child.exited;
  return { ...exit, stdout: stdout(), stderr: stderr() };
}

function collect(stream: Readable): () => string {
  const chunks: Buffer[] = [];
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    if (bytes < MAX_COMMAND_OUTPUT_BYTES) chunks.push(chunk);
    bytes += chunk.length;
  });
  stream.on('error', () => undefined);
  return () => Buffer.concat(chunks).subarray(0, MAX_COMMAND_OUTPUT_BYTES).toString('utf8');
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
