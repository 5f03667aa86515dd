// Start-up: everything the daemon checks and prepares on its host before it serves. It closes inherited
// descriptors, checks the descriptor budget and bubblewrap, claims the work directory, starts the mount helper,
// sweeps the work directory, sets up cgroups, gathers the host facts launches need and probes the runtimes. A
// problem the operator must fix is a StartupError whose message says how.
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { checkDescriptorBudget, descriptorsNeeded, readDescriptorLimit } from './descriptors.js';
import { checkHeldDirs } from './files/held-dir.js';
import { claimWorkDir, mountExecutionsDir, sweepLeftovers, WorkDirInUseError, type WorkDirClaim } from './executions/work-dir.js';
import { setUpCgroups, type SandboxCgroups } from './sandbox/cgroups.js';
import { closeInheritedDescriptors, detectHostLayout, ensureWorkDir, findMatplotlibCache, findRuntimeSources, prepareRuntimeDir, resolveExecutable } from './sandbox/host.js';
import { sandboxLimitsFrom, type SandboxFacts } from './sandbox/launch.js';
import { chooseMounterPython, findMounterScript, Mounter } from './sandbox/mounter.js';
import { canMountWorkspaces, MountError, type WorkspaceSize } from './sandbox/mounts.js';
import { compilePythonBytecode, probeRuntimes, type RuntimeStatus } from './sandbox/probe.js';
import { ForkServer } from './sandbox/fork-server/server.js';
import { shareWorkDir } from './sandbox/fork-server/shared-work-dir.js';

// A start-up problem the operator must fix; its message says how.
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface StartupDeps {
  readonly logger: Logger;
  /** PATH used to find bubblewrap. @default process.env.PATH */
  readonly searchPath?: string;
}

/** What serving needs from start-up. The claim is the caller's to release when the daemon closes. */
export interface PreparedHost {
  readonly facts: SandboxFacts;
  readonly runtimes: readonly RuntimeStatus[];
  readonly cgroups: SandboxCgroups | null;
  readonly claim: WorkDirClaim;
  /** The Python fork server, starting (it is ready once its modules are imported); null when off or impossible. */
  readonly forkServer: ForkServer | null;
  /** A second one with nothing of pythonPreload imported, for code that uses none of it; null when the preload is
   * empty (the first is plain already) or there is no fork server. */
  readonly plainForkServer: ForkServer | null;
  /** The mount helper, the caller's to close after the last mount or unmount (the sweep at close); null when the
   * daemon is not root or it could not start (mount(8) and umount(8) then run). */
  readonly mounter: Mounter | null;
  /** Where execution directories are made: the executions tmpfs (work-dir.ts), or the work directory itself. */
  readonly executionsDir: string;
}

const BWRAP_MISSING = (name: string) =>
  `bubblewrap (${name}) was not found, so Runbox refuses to run code. Install it with \`apt-get install bubblewrap\` ` +
  '(`npm start` does this through scripts/setup.sh), point RUNBOX_BWRAP at it, or pass --unsafe-no-sandbox for development only.';

// Checks and prepares the host; throws StartupError for what the operator must fix. On any failure after the work
// directory was claimed, the mount helper is closed and the claim released.
export async function prepareHost(config: Config, deps: StartupDeps): Promise<PreparedHost> {
  const { logger } = deps;
  // Before any sandbox starts: descriptors this process inherited without close-on-exec would pass through
  // bubblewrap into every sandbox, so they are closed (the daemon never uses them).
  const closed = await closeInheritedDescriptors();
  if (closed.length > 0) logger.warn({ descriptors: closed }, 'closed descriptors inherited without close-on-exec');
  await checkDescriptors(config, logger);
  const bwrapPath = await findBubblewrap(config, deps);
  await ensureWorkDir(config.workDir);
  await checkHeldDirs(config.workDir).catch((error: unknown) => {
    throw new StartupError((error as Error).message);
  });
  const claim = await claimWorkDir(config.workDir).catch((error: unknown) => {
    throw error instanceof WorkDirInUseError ? new StartupError(error.message) : error;
  });
  let mounter: Mounter | null = null;
  try {
    mounter = await startMounter(config, logger);
    // An earlier daemon on this work directory may have been killed mid-execution: its sandboxes died with it,
    // but their directories and sockets are still here.
    const swept = await sweepLeftovers(config.workDir, mounter);
    if (swept.length > 0) logger.warn({ swept }, 'removed execution directories left by an earlier daemon');
    // Cgroups: detected and proven once, with the groups of daemons that died swept (live ones are never touched).
    const cgroups = await setUpCgroups(logger);
    // A daemon killed while sandboxes are frozen at their report: the helper, which outlives it by a moment, ends them.
    const freezerDir = cgroups?.freezerParentDir;
    if (mounter && cgroups && freezerDir) await mounter.releaseOnExit(freezerDir, cgroups.namePrefix);
    const facts = await gatherFacts(config, logger, bwrapPath, mounter);
    if (facts.bwrapPath === null) {
      logger.warn('UNSAFE: --unsafe-no-sandbox is set; code runs WITHOUT any sandbox, with the daemon\'s own rights. Never use this outside development.');
    }
    const runtimes = await probeRuntimes(facts, config.workDir);
    for (const runtime of runtimes) {
      if (runtime.available) logger.info({ runtime: runtime.name, version: runtime.version }, 'runtime ready');
      else logger.error({ runtime: runtime.name, problem: runtime.problem }, 'runtime unavailable');
    }
    // In this order: the work directory's self-bind (for a fork server) would hide a tmpfs mounted under it before.
    const shared = await shareWorkDirForForkServer(config, facts, runtimes, logger, mounter);
    const executionsDir = await executionsDirOf(config, logger, mounter);
    const forkServer = shared ? ForkServer.start({ facts, workDir: config.workDir, preload: config.pythonPreload, logger }) : null;
    const plainForkServer = forkServer && config.pythonPreload.length > 0 ? ForkServer.start({ facts, workDir: config.workDir, preload: [], logger, plain: true }) : null;
    return { facts, runtimes, cgroups, claim, forkServer, plainForkServer, mounter, executionsDir };
  } catch (error) {
    await mounter?.close();
    await claim.release();
    throw error;
  }
}

// The mount helper when the daemon is root (only root mounts), else null; a helper that cannot start (no Python)
// leaves mount(8) and umount(8) to do it. Says once which of the two mounts.
async function startMounter(config: Config, logger: Logger): Promise<Mounter | null> {
  if (process.getuid?.() !== 0) return null;
  const fallback = 'mounts run mount(8) and umount(8), a process each';
  const python = await chooseMounterPython(config.pythonEnv);
  if (!python) {
    logger.warn({ pythonEnv: config.pythonEnv }, `no root-owned python3 for the mount helper: ${fallback}`);
    return null;
  }
  try {
    const script = await findMounterScript();
    const mounter = await Mounter.start({ python, script, logger });
    logger.info({ python, script }, 'mounts go through the mount helper');
    return mounter;
  } catch (error) {
    logger.warn({ problem: (error as Error).message, python }, `the mount helper could not start: ${fallback}`);
    return null;
  }
}

// True when the Python fork server is on and can work here: a sandbox (bubblewrap), root (it shares the work
// directory's mounts with the server, which this makes a shared mount) and a working Python.
async function shareWorkDirForForkServer(config: Config, facts: SandboxFacts, runtimes: readonly RuntimeStatus[], logger: Logger, mounter: Mounter | null): Promise<boolean> {
  if (!config.forkServer || facts.bwrapPath === null || !facts.owner) return false;
  if (!runtimes.some((runtime) => runtime.name === 'python' && runtime.available)) return false;
  const problem = await shareWorkDir(config.workDir, mounter);
  if (problem) logger.warn({ problem }, 'no Python fork server: each Python sandbox starts its own interpreter');
  return problem === null;
}

// Where execution directories are made: the executions tmpfs (work-dir.ts) when the mount helper can mount it,
// else the work directory itself.
async function executionsDirOf(config: Config, logger: Logger, mounter: Mounter | null): Promise<string> {
  if (!mounter) return config.workDir;
  try {
    return await mountExecutionsDir(config.workDir, mounter);
  } catch (error) {
    if (!(error instanceof MountError)) throw error;
    logger.warn({ problem: error.message }, 'execution directories stay in the work directory (no tmpfs): each execution costs the daemon a few ms more');
    return config.workDir;
  }
}

// Refuses to start when the connection and execution caps could take the daemon to its descriptor limit (where a
// spawn, an accept or an open would fail): they must leave a reserve for its own work.
async function checkDescriptors(config: Config, logger: Logger): Promise<void> {
  const limit = await readDescriptorLimit();
  if (!limit) return logger.warn('could not read RLIMIT_NOFILE from /proc/self/limits; the connection caps are not checked against it');
  const problem = checkDescriptorBudget(config, limit.soft);
  if (problem) throw new StartupError(problem);
  logger.debug({ limit, needed: descriptorsNeeded(config) }, 'descriptor budget');
}

// The bubblewrap binary, null under --unsafe-no-sandbox; a StartupError saying how to install it when missing.
async function findBubblewrap(config: Config, deps: StartupDeps): Promise<string | null> {
  if (config.unsafeNoSandbox) return null;
  const bwrapPath = await resolveExecutable(config.bwrapPath, deps.searchPath ?? process.env.PATH);
  if (!bwrapPath) throw new StartupError(BWRAP_MISSING(config.bwrapPath));
  return bwrapPath;
}

// The size of workspace tmpfs mounts when this daemon can mount them (it is root and mount works), else null
// with a warning: workspaces are then plain directories limited only per file (fileSizeBytes).
async function workspaceSizeIfMountable(config: Config, logger: Logger, isRoot: boolean, mounter: Mounter | null): Promise<WorkspaceSize | null> {
  const unlimited = 'workspaces are plain directories: their total size and file count are not limited (only each file, by fileSizeBytes)';
  if (!isRoot) {
    logger.warn(`not running as root: ${unlimited}`);
    return null;
  }
  const probe = await canMountWorkspaces(config.workDir, mounter);
  if (!probe.ok) {
    logger.warn({ problem: probe.problem }, `could not mount a tmpfs: ${unlimited}`);
    return null;
  }
  return { bytes: config.workspaceBytes, files: config.workspaceFiles };
}

// Everything about the host that launches need, checked once.
async function gatherFacts(config: Config, logger: Logger, bwrapPath: string | null, mounter: Mounter | null): Promise<SandboxFacts> {
  const runtimeDir = await prepareRuntimeDir(config.workDir, await findRuntimeSources(), async (dir) => {
    if (!(await compilePythonBytecode(config.pythonEnv, dir))) logger.warn({ dir }, 'could not precompile the Python prelude; Python executions start a few ms slower');
  });
  const isRoot = process.getuid?.() === 0;
  return {
    bwrapPath,
    layout: await detectHostLayout(),
    runtimeDir,
    pythonEnv: path.normalize(config.pythonEnv),
    nodePath: config.nodePath,
    matplotlibCache: await findMatplotlibCache(config.pythonEnv),
    limits: sandboxLimitsFrom(config),
    workspaceSize: await workspaceSizeIfMountable(config, logger, isRoot, mounter),
    ...(isRoot ? { owner: { uid: config.sandboxUid, gid: config.sandboxGid } } : {}),
  };
}
