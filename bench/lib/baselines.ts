// The baselines of the targets, one function per process: the bare interpreter, and the same interpreter in the
// minimal bubblewrap sandbox (run as the sandbox user when the bench is root, as the daemon runs its sandboxes).
import type { BenchHost } from './host.js';
import { buildMinimalSandboxArgs, nodeInstallDir, readRootEntries, spawnToEnd, type SpawnOptions } from './spawn.js';

export interface Baseline {
  /** How the row is labelled, e.g. `bare python3 -I -c pass`. */
  readonly label: string;
  readonly run: () => Promise<void>;
}

export interface RuntimeBaselines {
  readonly bare: Baseline;
  /** Null without bubblewrap on this machine. */
  readonly sandboxed: Baseline | null;
}

// The bare and minimally sandboxed trivial spawns of each runtime.
export function trivialBaselines(host: BenchHost): { python: RuntimeBaselines; node: RuntimeBaselines } {
  const python = [host.pythonPath, '-I', '-c', 'pass'];
  const node = [host.nodePath, '-e', '0'];
  return {
    python: { bare: bare(python, 'python3 -I -c pass'), sandboxed: sandboxed(host, python, [host.pythonEnv], 'python3 -I -c pass') },
    node: { bare: bare(node, 'node -e 0'), sandboxed: sandboxed(host, node, [nodeInstallDir(host.nodePath)], 'node -e 0') },
  };
}

// A command spawned as it is, in the given directory and environment.
export function bare(command: readonly string[], shown: string, options: SpawnOptions = {}): Baseline {
  return { label: `bare ${shown}`, run: () => spawnToEnd(command[0], command.slice(1), options) };
}

// A command spawned inside the minimal bubblewrap sandbox, or null without bubblewrap.
function sandboxed(host: BenchHost, command: readonly string[], readOnlyPaths: readonly string[], shown: string): Baseline | null {
  if (!host.bwrapPath) return null;
  const args = buildMinimalSandboxArgs({ rootEntries: readRootEntries(), readOnlyPaths, command });
  const as = host.sandboxIds ? ` as uid ${host.sandboxIds.uid}` : '';
  return { label: `minimal bwrap ${shown}${as}`, run: () => spawnToEnd(host.bwrapPath as string, args, { ids: host.sandboxIds }) };
}
