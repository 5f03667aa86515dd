// Pure: what to spawn for one execution, from the host facts gathered at start and the execution's paths.
import path from 'node:path';
import { buildSandboxArgs, buildSandboxEnv, SANDBOX_PATHS, type HostLayout } from './args.js';
import type { WorkspaceSize } from './mounts.js';
import { buildOuterNamespaceArgs, SETPRIV_PATH } from './outer-namespace.js';
import { buildRlimitArgs, PRLIMIT_PATH, type ProcessLimits } from './rlimits.js';
import { buildRuntimeCommand, type RuntimeName } from './runtimes.js';
import { buildSeccompFilter } from './seccomp.js';
import { EXTRA_INPUT_FD, type SpawnSpec } from './spawn.js';

/** The configured limits every sandbox starts with (the daemon's Config has all of these). */
export interface SandboxLimits extends ProcessLimits {
  /** Size of the sandbox's /tmp (with /var/tmp) and, separately, of its /dev/shm. */
  readonly tmpBytes: number;
}

/** Everything about the host a launch needs, gathered once when the daemon starts. */
export interface SandboxFacts {
  /** The bubblewrap binary; null runs code WITHOUT a sandbox (--unsafe-no-sandbox). */
  readonly bwrapPath: string | null;
  readonly layout: HostLayout;
  /** Host directory with the preludes and synthetic /etc files. */
  readonly runtimeDir: string;
  readonly pythonEnv: string;
  readonly nodePath: string;
  /** Prebuilt matplotlib font-cache files to place in the sandbox's MPLCONFIGDIR. */
  readonly matplotlibCache: readonly string[];
  /** Host uid/gid of sandboxed processes (set when the daemon is root). */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** rlimits and tmpfs sizes of every sandbox (sandboxLimitsFrom(config)). */
  readonly limits: SandboxLimits;
  /** The size of each execution's workspace tmpfs; null when workspaces cannot be mounted here (not root). */
  readonly workspaceSize?: WorkspaceSize | null;
}

export interface LaunchInput {
  readonly runtime: RuntimeName;
  /** Host directories of this execution. */
  readonly workspaceDir: string;
  readonly privateTmpDir: string;
  readonly socketPath: string;
  readonly token: string;
  /** Host directory of installed packages (python/, node/) bound read-only into the sandbox. */
  readonly packagesDir?: string;
  /** Overrides the interpreter command (used to probe versions); in sandbox paths. */
  readonly command?: readonly string[];
}

// The spawn spec of one execution: setpriv and unshare (outer-namespace.ts) around prlimit around bwrap around the
// interpreter, with the seccomp program on descriptor 3; or the bare interpreter in unsafe mode.
export function buildLaunchSpec(facts: SandboxFacts, input: LaunchInput): SpawnSpec {
  const sandboxed = facts.bwrapPath !== null;
  const runtimePaths = { pythonEnv: facts.pythonEnv, nodePath: facts.nodePath, runtimesDir: sandboxed ? SANDBOX_PATHS.runtimes : facts.runtimeDir };
  const command = input.command ? [...input.command] : buildRuntimeCommand(input.runtime, runtimePaths);
  const env = buildSandboxEnv({
    pathDirs: [`${facts.pythonEnv}/bin`],
    bridgeSocket: sandboxed ? SANDBOX_PATHS.bridgeSocket : input.socketPath,
    bridgeToken: input.token,
    tmpDir: sandboxed ? SANDBOX_PATHS.tmp : input.privateTmpDir,
    packagesDir: input.packagesDir && (sandboxed ? SANDBOX_PATHS.packages : input.packagesDir),
    workspaceDir: sandboxed ? SANDBOX_PATHS.workspace : input.workspaceDir,
  });
  const ids = facts.owner ? { uid: facts.owner.uid, gid: facts.owner.gid } : {};
  if (!sandboxed) {
    return { file: command[0], args: command.slice(1), env, cwd: input.command ? input.workspaceDir : input.privateTmpDir, processGroup: true, ...ids };
  }
  const args = buildSandboxArgs({
    layout: facts.layout,
    workspaceDir: input.workspaceDir,
    bridgeSocket: input.socketPath,
    packagesDir: input.packagesDir,
    runtimeDir: facts.runtimeDir,
    readOnlyPaths: outsideUsr([facts.pythonEnv, path.dirname(path.dirname(facts.nodePath))]),
    readOnlyFiles: facts.matplotlibCache.map((file) => [file, `${SANDBOX_PATHS.matplotlibConfig}/${path.basename(file)}`] as const),
    command,
    // A prelude starts outside the workspace and enters it when its code arrives; a command runs in it.
    workingDir: input.command ? SANDBOX_PATHS.workspace : '/',
    seccompFd: EXTRA_INPUT_FD,
    tmpBytes: facts.limits.tmpBytes,
  });
  // Killing the process group kills unshare and bubblewrap (its namespace's pid 1), whose death ends the rest.
  return {
    file: SETPRIV_PATH,
    args: [...buildOuterNamespaceArgs(), PRLIMIT_PATH, ...buildRlimitArgs(facts.limits), facts.bwrapPath as string, ...args],
    env,
    cwd: '/',
    processGroup: true,
    extraInput: buildSeccompFilter(),
    endsItsTree: true,
    ...ids,
  };
}

// The limits a sandbox needs, taken from the daemon's configuration.
export function sandboxLimitsFrom(config: SandboxLimits): SandboxLimits {
  return Object.freeze({ maxOpenFiles: config.maxOpenFiles, fileSizeBytes: config.fileSizeBytes, cpuTimeMs: config.cpuTimeMs, tmpBytes: config.tmpBytes, addressSpaceBytes: config.addressSpaceBytes });
}

// The paths not already visible through the read-only /usr bind (and not / itself), without duplicates.
export function outsideUsr(paths: readonly string[]): string[] {
  return [...new Set(paths)].filter((p) => p !== '/' && p !== '/usr' && !p.startsWith('/usr/'));
}
