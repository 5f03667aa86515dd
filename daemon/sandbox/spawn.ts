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
  /** A pipe on standard input (SpawnedProcess.stdin) instead of none: a fork server's commands. */
  readonly input?: boolean;
  /** A descriptor of the daemon's the process gets as descriptor 4 (PASSED_FD): the work directory a fork server binds. */
  readonly passFd?: number;
}

/** The descriptor on which a process finds SpawnSpec.passFd. */
export const PASSED_FD = 4;

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
  /** Its standard input, when SpawnSpec.input asked for one. */
  readonly stdin?: Writable;
  /** Settles when the process has exited and its output pipes are closed; never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** SIGKILL the process and everything it started. Safe to call more than once, or after exit; throws only
   * when the kernel refuses the signal (signalProcess). */
  kill(): void;
  /** Present on a process that waits, before it makes any other, until release() is called (a fork server's
   * child): the daemon moves it into its cgroup first, so that everything it starts is born inside. */
  readonly release?: () => void;
}

// Starts a process with exactly the given environment and no stdin; it dies if the daemon exits first.
// extraInput, if any, is written to its descriptor 3, which is then closed, so the reader sees end of file.
// Never throws: a process that could not be started has empty output and `exited` says why (spawnError).
export function spawnProcess(spec: SpawnSpec): SpawnedProcess {
  const extra: StdioOptions = [...(spec.extraInput ? ['pipe' as const] : spec.passFd !== undefined ? ['ignore' as const] : []), ...(spec.passFd !== undefined ? [spec.passFd] : [])];
  let subprocess: ChildProcess;
  try {
    subprocess = spawn(spec.file, [...spec.args], {
      env: { ...spec.env },
      cwd: spec.cwd,
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
      stdio: [spec.input ? 'pipe' : 'ignore', 'pipe', 'pipe', ...extra],
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
  let settled = false;
  void exited.then(() => (settled = true));
  const kill = (): void => {
    // Without a sandbox, members of the group may outlive its leader, so the group is signalled even then.
    const groupMayLive = !settled || !spec.endsItsTree;
    if (spec.processGroup && subprocess.pid && groupMayLive) signalProcess(-subprocess.pid);
    subprocess.kill('SIGKILL');
  };
  const stdin = spec.input ? (subprocess.stdin ?? undefined) : undefined;
  stdin?.on('error', () => undefined); // the process died: its exit says why
  return { pid: subprocess.pid, stdout, stderr, ...(stdin ? { stdin } : {}), exited, kill };
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
        for (const each of this.kills) {
          try {
            each();
          } catch {
            // the daemon is exiting: the other processes are still killed
          }
        }
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
  let settleExit!: (exit: ExitInfo) => void;
  const exited = new Promise<ExitInfo>((resolve) => (settleExit = resolve));
  let subprocess: ChildProcess;
  try {
    subprocess = spawn(file, [...args], { env: { ...env }, stdio: 'inherit' });
  } catch (error) {
    settleExit({ exitCode: null, signal: null, spawnError: `could not start ${file}: ${(error as Error).message}` });
    return { exited, signal: () => undefined };
  }
  subprocess.on('error', (error) => {
    if (subprocess.pid === undefined) settleExit({ exitCode: null, signal: null, spawnError: `could not start ${file}: ${error.message}` });
  });
  subprocess.once('exit', (code, signal) => settleExit({ exitCode: code, signal }));
  return {
    exited,
    signal: (name) => {
      try {
        subprocess.kill(name);
      } catch {
        // already gone
      }
    },
  };
}

// Sends a signal to a process, or to a process group with a negative pid; a process already gone is no error.
// Any other failure (EPERM: the kernel refuses) is thrown: a process the daemon cannot stop must not go unseen.
export function signalProcess(pid: number, signal: NodeJS.Signals | 0 = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
