// The runtimes Runbox offers and the pure builders of their interpreter command lines.

import type { Runtime } from '../wire-types.js';

export const RUNTIMES = ['python', 'node'] as const satisfies readonly Runtime[];
export type RuntimeName = (typeof RUNTIMES)[number];

export interface RuntimePaths {
  /** The Python venv (its bin/python3 runs code). */
  readonly pythonEnv: string;
  /** The node binary. */
  readonly nodePath: string;
  /** Where the preludes are, as the interpreter sees it (/runbox in a sandbox). */
  readonly runtimesDir: string;
}

// True when a string names a runtime Runbox offers.
export function isRuntimeName(value: unknown): value is RuntimeName {
  return typeof value === 'string' && (RUNTIMES as readonly string[]).includes(value);
}

// The interpreter command that starts a runtime's prelude; the code itself arrives later over the bridge.
export function buildRuntimeCommand(runtime: RuntimeName, paths: RuntimePaths): string[] {
  if (runtime === 'python') {
    // -I: ignore PYTHON* variables and the user site; -B: no .pyc files in the workspace; -u: unbuffered output.
    return [`${paths.pythonEnv}/bin/python3`, '-I', '-B', '-u', `${paths.runtimesDir}/python/prelude.py`];
  }
  // --preserve-symlinks: modules keep the path they were found by. Installed packages sit behind a link that each
  // install moves to a new tree (daemon/packages/staging.ts); Node's realpath cache would keep the old one.
  return [paths.nodePath, '--preserve-symlinks', `${paths.runtimesDir}/node/prelude.cjs`];
}

// The command that prints a runtime's version, used to probe each runtime through a real sandbox at start.
export function buildVersionCommand(runtime: RuntimeName, paths: RuntimePaths): string[] {
  return runtime === 'python' ? [`${paths.pythonEnv}/bin/python3`, '-I', '-c', 'import platform; print(platform.python_version())'] : [paths.nodePath, '--version'];
}
