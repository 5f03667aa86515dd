// Where things are on this machine: the repository, the interpreters the daemon will use, bubblewrap, the
// sandbox user. The bench computes these itself and passes them to the daemon as flags (--python-env, --node),
// so both sides use the same interpreters by construction, without reading the daemon's internals.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchHost {
  /** The repository root (holds bin/runbox.js and runtimes/). */
  readonly repoDir: string;
  /** The Python venv of scripts/setup.sh: RUNBOX_PYTHON_ENV, else the daemon's default for this user. */
  readonly pythonEnv: string;
  readonly pythonPath: string;
  /** RUNBOX_NODE, else this node. */
  readonly nodePath: string;
  /** RUNBOX_BWRAP, else bwrap on PATH; null when there is none. */
  readonly bwrapPath: string | null;
  /** When the bench runs as root, the host ids sandboxes run as (RUNBOX_SANDBOX_UID/GID, else 65534, the daemon's default). */
  readonly sandboxIds?: { readonly uid: number; readonly gid: number };
}

// The repository root: the nearest directory above this module with bin/runbox.js.
export function findRepoDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'bin', 'runbox.js'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('bench: cannot find the repository root (bin/runbox.js) above the bench');
    dir = parent;
  }
  return dir;
}

// The first executable of that name on PATH (or the path itself when it has a slash), or null.
function resolveOnPath(name: string, pathVar = process.env.PATH ?? ''): string | null {
  const candidates = name.includes('/') ? [name] : pathVar.split(':').filter(Boolean).map((dir) => path.join(dir, name));
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

// The facts of this machine the bench needs, from the same environment variables the daemon reads.
export function describeHost(env: NodeJS.ProcessEnv = process.env): BenchHost {
  const isRoot = process.getuid?.() === 0;
  const pythonEnv = env.RUNBOX_PYTHON_ENV || (isRoot ? '/opt/runbox/python' : path.join(os.homedir(), '.local/share/runbox/python'));
  const sandboxUid = Number(env.RUNBOX_SANDBOX_UID || 65534);
  const sandboxGid = Number(env.RUNBOX_SANDBOX_GID || 65534);
  return {
    repoDir: findRepoDir(),
    pythonEnv,
    pythonPath: path.join(pythonEnv, 'bin', 'python3'),
    nodePath: env.RUNBOX_NODE || process.execPath,
    bwrapPath: resolveOnPath(env.RUNBOX_BWRAP || 'bwrap'),
    ...(isRoot ? { sandboxIds: { uid: sandboxUid, gid: sandboxGid } } : {}),
  };
}

// The first line a command prints, or null when it cannot run (for the header: versions of things).
export function firstLineOf(file: string, args: readonly string[]): string | null {
  try {
    return execFileSync(file, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).split('\n')[0].trim() || null;
  } catch {
    return null;
  }
}
