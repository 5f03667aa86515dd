// Runs one installer to its end, its deadline or its cancellation, keeping the end of what it printed. It is
// started through the daemon's one spawning module, in its own process group (and, when it is jailed, its own
// pid namespace); stopping it freezes and kills its whole process tree, and the run settles only once every
// process of that tree is gone.
import { listProcessTree, readProcessState } from '../sandbox/process-tree.js';
import { signalProcess, spawnProcess } from '../sandbox/spawn.js';
import type { InstallerCommand } from './commands.js';

export interface RunOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly uid?: number;
  readonly gid?: number;
  /** Longest the installer may run before its whole process tree is killed. */
  readonly timeoutMs: number;
  /** Bytes kept of each of stdout and stderr (their ends). */
  readonly maxOutputBytes: number;
  readonly signal?: AbortSignal;
}

export interface RunResult {
  /** 'exited' (see exitCode), 'timeout' or 'aborted'. */
  readonly ending: 'exited' | 'timeout' | 'aborted';
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Set when the installer could not be started at all. */
  readonly spawnError?: string;
  readonly stdout: string;
  readonly stderr: string;
}

/** Rounds of walking the tree and stopping what is new, until a walk finds nothing new. */
const FREEZE_ROUNDS = 20;
/** How often, and how long at most, the end of killed processes is waited for. */
const GONE_POLL_MS = 10;
const GONE_TIMEOUT_MS = 5_000;

// Runs the command with exactly the given environment; settles once it and everything it started are gone.
export async function runInstaller(command: InstallerCommand, options: RunOptions): Promise<RunResult> {
  const child = spawnProcess({
    file: command.file,
    args: command.args,
    env: options.env,
    cwd: options.cwd,
    uid: options.uid,
    gid: options.gid,
    processGroup: true,
  });
  const stdout = collectTail(child.stdout, options.maxOutputBytes);
  const stderr = collectTail(child.stderr, options.maxOutputBytes);
  let ending: RunResult['ending'] = 'exited';
  let killed: Promise<Map<number, string>> | null = null;
  const stop = (reason: 'timeout' | 'aborted'): void => {
    if (ending === 'exited') ending = reason;
    if (killed) return;
    killed = killTree(child.pid).finally(() => child.kill());
    // A process the kernel would not let go (EPERM) fails the run once it has exited, below.
    killed.catch(() => undefined);
  };
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  const onAbort = (): void => stop('aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  try {
    const exit = await child.exited;
    // The installer may have left children that closed their output early: its group goes with it.
    child.kill();
    if (killed) await waitUntilGone(await killed);
    return { ending, ...exit, stdout: stdout.text(), stderr: stderr.text() };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

// Stops (SIGSTOP) rootPid and its descendants, walking the tree again until a walk finds none not yet stopped
// (a stopped process cannot fork), then kills them all (SIGKILL). Returns each pid with its start time. A
// jailed installer's orphans belong to its namespace's first process, which is in the tree; killing that
// process ends the whole namespace.
async function killTree(rootPid: number | undefined): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  if (rootPid === undefined) return found;
  for (let round = 0; round < FREEZE_ROUNDS; round++) {
    let added = false;
    for (const pid of await listProcessTree(rootPid)) {
      if (found.has(pid)) continue;
      const state = readProcessState(pid);
      if (!state) continue;
      found.set(pid, state.startTime);
      signalProcess(pid, 'SIGSTOP');
      added = true;
    }
    if (!added) break;
  }
  for (const pid of found.keys()) signalProcess(pid, 'SIGKILL');
  return found;
}

// Waits until each process is gone (or a zombie, which runs nothing), up to GONE_TIMEOUT_MS.
async function waitUntilGone(processes: Map<number, string>): Promise<void> {
  const deadline = Date.now() + GONE_TIMEOUT_MS;
  for (;;) {
    const alive = [...processes].filter(([pid, startTime]) => {
      const state = readProcessState(pid);
      return state !== null && state.startTime === startTime && state.state !== 'Z' && state.state !== 'X';
    });
    if (alive.length === 0 || Date.now() > deadline) return;
    for (const [pid] of alive) signalProcess(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, GONE_POLL_MS));
  }
}

// Keeps the last maxBytes bytes a stream produced.
function collectTail(stream: NodeJS.ReadableStream, maxBytes: number): { text(): string } {
  let chunks: Buffer[] = [];
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    bytes += chunk.length;
    if (bytes > 2 * maxBytes) {
      const kept = Buffer.concat(chunks).subarray(-maxBytes);
      chunks = [kept];
      bytes = kept.length;
    }
  });
  stream.on('error', () => undefined);
  return { text: () => Buffer.concat(chunks).subarray(-maxBytes).toString('utf8') };
}
