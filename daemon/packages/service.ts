// The daemon's side of install_package / installPackage: the code's request (a call of the daemon's tool
// runbox.install, see executions/install-tool.ts) is validated (names, allow and deny lists), then installed with
// the configured index, cache, deadline and size cap into the packages directory of the execution's session (or
// of the execution).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { SandboxFacts } from '../sandbox/launch.js';
import { runSandboxed } from '../sandbox/run-sandboxed.js';
import { PackageCache } from './cache.js';
import { InstallError } from './errors.js';
import { PackageInstaller, type InstallOptions, type InstallOutcome } from './installer.js';
import { checkPolicy, parsePackageSpecs, type PackageRuntime, type PackageSpec } from './specs.js';

export type PackageConfig = Pick<
  Config,
  'workDir' | 'pythonEnv' | 'nodePath' | 'uvPath' | 'npmPath' | 'pythonIndexUrl' | 'npmRegistryUrl' | 'packageAllow' | 'packageDeny' | 'installTimeoutMs' | 'maxPackageBytes' | 'packageCacheDir' | 'packageCacheMaxBytes' | 'packageScripts' | 'installCaFile' | 'installProxy' | 'pythonFileOrigins'
>;

/** What the code gets back from a successful install. */
export interface InstallAnswer {
  installed: InstallOutcome['installed'];
  installer: InstallOutcome['installer'];
  durationMs: number;
}

export class PackageService {
  private readonly installer = new PackageInstaller();
  /** The shared download cache, in partitions, capped at packageCacheMaxBytes. */
  readonly cache: PackageCache;
  private readonly runAs?: { readonly uid: number; readonly gid: number };
  /** Aborted by close(): every install still running is killed, none starts. */
  private readonly closing = new AbortController();
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly config: PackageConfig,
    /** The sandbox facts: installers run as the sandbox user (when the daemon is root) in bubblewrap (when there
     * is one); opted-in scripts run sandboxed. */
    private readonly facts: SandboxFacts,
  ) {
    this.runAs = facts.owner;
    this.cache = new PackageCache(config.packageCacheDir, config.packageCacheMaxBytes);
  }

  /** The shared download cache of every installer. */
  get cacheDir(): string {
    return this.cache.rootDir;
  }

  // Refuses new installs, kills the running ones and settles once they (and their processes) are gone. The
  // cache keeps what it holds; no directory is created after this.
  async close(): Promise<void> {
    if (!this.closing.signal.aborted) this.closing.abort(new InstallError('install_failed', 'the daemon is shutting down and installs no more packages'));
    this.cache.close();
    await Promise.allSettled([...this.running]);
  }

  private runNpmScripts(stagingDir: string, signal?: AbortSignal): Promise<void> {
    return runNpmScriptsIn(this.facts, this.config, stagingDir, signal);
  }

  // Installs what the code asked for (the tool call's args: {packages: [...]}) into packagesDir/<runtime>.
  // Throws InstallError (its code and message go back to the code, which raises them).
  async install(runtime: PackageRuntime, packagesDir: string, args: unknown, signal?: AbortSignal): Promise<InstallAnswer> {
    const requested = typeof args === 'object' && args !== null ? (args as Record<string, unknown>).packages : undefined;
    const specs = parsePackageSpecs(runtime, requested);
    checkPolicy(specs, { allow: this.config.packageAllow, deny: this.config.packageDeny });
    this.closing.signal.throwIfAborted();
    const stop = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
    const outcome = this.installer.install(this.optionsFor(runtime, specs, packagesDir, stop));
    this.running.add(outcome);
    void outcome.catch(() => undefined).finally(() => this.running.delete(outcome));
    const { installed, installer, durationMs } = await outcome;
    return { installed, installer, durationMs };
  }

  private optionsFor(runtime: PackageRuntime, specs: PackageSpec[], packagesDir: string, signal: AbortSignal): InstallOptions {
    const { config } = this;
    return {
      runtime,
      specs,
      targetDir: path.join(packagesDir, runtime),
      cache: this.cache,
      pythonBin: path.join(config.pythonEnv, 'bin', 'python3'),
      uvPath: config.uvPath || null,
      npmPath: config.npmPath,
      nodePath: config.nodePath,
      indexUrl: config.pythonIndexUrl,
      registryUrl: config.npmRegistryUrl,
      timeoutMs: config.installTimeoutMs,
      maxBytes: config.maxPackageBytes,
      bwrapPath: this.facts.bwrapPath,
      hiddenDirs: [config.workDir],
      ...(this.runAs ? { runAs: this.runAs } : {}),
      signal,
      tempDir: config.workDir,
      network: { caFile: config.installCaFile, upstreamProxyUrl: config.installProxy, pythonFileOrigins: config.pythonFileOrigins },
      ...(runtime === 'node' && config.packageScripts ? { runScripts: (dir: string) => this.runNpmScripts(dir, signal) } : {}),
    };
  }
}

// Runs the installed packages' lifecycle scripts (`npm rebuild`) in a sandbox like the code's, with the staging
// tree as its only writable directory and no network: what they build stays in that tree, nothing else changes.
async function runNpmScriptsIn(facts: SandboxFacts, config: PackageConfig, stagingDir: string, signal?: AbortSignal): Promise<void> {
  const npmCli = await fs.realpath(config.npmPath);
  const command = [config.nodePath, npmCli, 'rebuild', '--foreground-scripts', '--no-audit', '--no-fund', '--offline'];
  const run = await runSandboxed(facts, config.workDir, 'node', { command, workspaceDir: stagingDir, timeoutMs: config.installTimeoutMs, ...(signal ? { signal } : {}) });
  if (run.exit.exitCode === 0) return;
  if (run.timedOut) throw new InstallError('install_timeout', `the packages' install scripts did not finish within ${config.installTimeoutMs} ms (installTimeoutMs); nothing was installed`);
  const tail = run.output.trim().slice(-2000);
  throw new InstallError('install_failed', `the packages' install scripts failed (they run sandboxed, without network); nothing was installed:\n${tail}`);
}
