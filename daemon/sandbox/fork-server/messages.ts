// Pure: the lines a fork server and the daemon exchange (JSON, one per line): commands on its standard input,
// events on its standard output. runtimes/python/runbox_zygote/protocol.py is the other side.
import path from 'node:path';

/** Forks one execution's child. Paths are relative to the server's view of the work directory (workRoot). */
export interface ForkCommand {
  readonly type: 'fork';
  readonly id: string;
  /** The execution's private directory: stdout.sock, stderr.sock and bridge.sock are in it. */
  readonly dir: string;
  readonly workspace: string;
  readonly packages: string;
  /** The child's whole environment. */
  readonly env: Readonly<Record<string, string>>;
}

export type ForkServerCommand = ForkCommand | { readonly type: 'kill'; readonly id: string };

export type ForkServerEvent =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'forked'; readonly id: string; readonly pid: number }
  | { readonly type: 'fork_failed'; readonly id: string; readonly message: string }
  | { readonly type: 'exited'; readonly id: string; readonly code: number | null; readonly signal: string | null };

// One command as the line the server reads.
export function encodeCommand(command: ForkServerCommand): string {
  return `${JSON.stringify(command)}\n`;
}

// A host path under workDir as the server names it (relative, no `..`); throws for a path outside it.
export function relativeToWorkDir(workDir: string, hostPath: string): string {
  const relative = path.relative(workDir, hostPath);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) throw new Error(`${hostPath} is not inside the work directory ${workDir}`);
  return relative;
}

// One line of the server's output as an event, or a string saying what is wrong with it.
export function parseEvent(line: string): ForkServerEvent | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return `not JSON: ${line.slice(0, 200)}`;
  }
  if (typeof value !== 'object' || value === null) return `not an object: ${line.slice(0, 200)}`;
  const event = value as Record<string, unknown>;
  const text = (key: string) => typeof event[key] === 'string';
  switch (event.type) {
    case 'ready':
      return { type: 'ready' };
    case 'failed':
      return text('message') ? { type: 'failed', message: event.message as string } : `a failed event without a message`;
    case 'forked':
      return text('id') && Number.isInteger(event.pid) && (event.pid as number) > 0 ? { type: 'forked', id: event.id as string, pid: event.pid as number } : `a malformed forked event: ${line.slice(0, 200)}`;
    case 'fork_failed':
      return text('id') && text('message') ? { type: 'fork_failed', id: event.id as string, message: event.message as string } : `a malformed fork_failed event: ${line.slice(0, 200)}`;
    case 'exited': {
      const code = event.code === null || Number.isInteger(event.code) ? (event.code as number | null) : undefined;
      const signal = event.signal === null || typeof event.signal === 'string' ? (event.signal as string | null) : undefined;
      if (!text('id') || code === undefined || signal === undefined) return `a malformed exited event: ${line.slice(0, 200)}`;
      return { type: 'exited', id: event.id as string, code, signal };
    }
    default:
      return `an unknown event: ${line.slice(0, 200)}`;
  }
}
