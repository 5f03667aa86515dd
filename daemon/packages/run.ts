// Runs one installer to its end, its deadline or its cancellation, keeping the end of what it printed. It is
// started through the daemon's one spawning module, in its own process group, which is killed as a whole.
import { spawnProcess } from '../sandbox/spawn.js';
import type { InstallerCommand } from './commands.js';

export interface RunOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly uid?: number;
  readonly gid?: number;
  /** Longest the installer may run before its whole process group is killed. */
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
  const stop = (reason: 'timeout' | 'aborted'): void => {
    if (ending === 'exited') ending = reason;
    child.kill();
  };
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  const onAbort = (): void => stop('aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  try {
    const exit = await child.exited;
    // The installer may have left children that closed their output early: its group goes with it.
    child.kill();
    return { ending, ...exit, stdout: stdout.text(), stderr: stderr.text() };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
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
