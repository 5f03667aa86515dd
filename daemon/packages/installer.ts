// Installs the packages sandboxed code asked for into its session's package directory: uv (or pip) for Python,
// npm for Node, run without a shell, as an unprivileged user, with a deadline and a size cap, into a staging copy
// that replaces the directory in one step only when everything succeeded.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { removeTree } from '../files/tree-removal.js';
import { PRLIMIT_PATH } from '../sandbox/rlimits.js';
import { abortable, partitionName, type CacheLease, type PackageCache } from './cache.js';
import { buildInstallerEnv, buildNpmCommand, buildPipCommand, buildUvCommand, jailInstallerCommand, jailSetupRaced, type InstallerCommand } from './commands.js';
import { InstallError } from './errors.js';
import { checkRun } from './failures.js';
import { listDistributions, readInstalledVersions, removeSupersededDistributions, type InstalledPackage } from './installed.js';
import { InstallProxy, originKey } from './proxy.js';
import { runInstaller, type RunResult } from './run.js';
import { watchSizes } from './size-watch.js';
import type { PackageRuntime, PackageSpec } from './specs.js';
import { chownTree, prepareStaging, publishStaging, treeBytes, type Staging } from './staging.js';

/** The name an installer's private home starts with (work-dir.ts sweeps those a killed daemon left). */
export const INSTALL_HOME_PREFIX = 'install-';

export type InstallerName = 'uv' | 'pip' | 'npm';

export interface InstallOptions {
  readonly runtime: PackageRuntime;
  /** Validated specs (parsePackageSpecs), all of this runtime. */
  readonly specs: readonly PackageSpec[];
  /**
   * The session's package directory. Python: a --target directory to put first on sys.path; Node: an npm --prefix,
   * modules in <targetDir>/node_modules. It becomes a relative symbolic link to a sibling `.<name>.<hex>` tree,
   * replaced in one rename per install: bind its parent (not the directory itself) into sandboxes.
   */
  readonly targetDir: string;
  /** The download cache shared by every session: the install leases the partition of its installer, index and
   * packages, kept only if it succeeds. */
  readonly cache: PackageCache;
  /** The runtime's interpreter: packages are chosen for its version and ABI but never installed into its environment. */
  readonly pythonBin: string;
  /** uv; null, or a path with no executable, falls back to `pythonBin -m pip`. */
  readonly uvPath: string | null;
  readonly npmPath: string;
  /** The node binary: its directory leads npm's PATH. */
  readonly nodePath: string;
  /** PEP 503 simple index, e.g. https://pypi.org/simple */
  readonly indexUrl: string;
  /** npm registry, e.g. https://registry.npmjs.org/ */
  readonly registryUrl: string;
  /** Longest the installer process may run; then its process tree is killed (install_timeout). */
  readonly timeoutMs: number;
  /**
   * Largest the package directory may be, in bytes, and most bytes the install may add to its cache partition
   * and temporary directory: measured while the installer runs, which is killed as soon as either passes it
   * (install_too_large); when jailed, no single file it writes may pass it either.
   */
  readonly maxBytes: number;
  /**
   * bubblewrap, to run the installer in its own user and pid namespaces with the host read-only but for the
   * directories it fills; null runs it in a process group only (no sandbox on this host).
   * @default null
   */
  readonly bwrapPath?: string | null;
  /** Host directories the jailed installer must not see (the daemon's work directory), its own dirs bound back. */
  readonly hiddenDirs?: readonly string[];
  /**
   * The user installers run as; only when the daemon is root. The staging tree, the private home and the cache
   * directories are given to this user; every directory above them must let it through.
   * @default the daemon's own user
   */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /** Cancels the install: the installer is killed, nothing changes, and the signal's reason is thrown. */
  readonly signal?: AbortSignal;
  /**
   * Where the installer's private home is made (`install-*`): the daemon's work directory, so that what a
   * SIGKILLed daemon left is swept by the next one.
   * @default the system's temporary directory
   */
  readonly tempDir?: string;
  /**
   * npm only, when an operator opted in to install scripts: runs the packages' lifecycle scripts in the staging
   * tree after the script-free install (sandboxed, by the caller); throws InstallError when they fail.
   * @default none: scripts never run
   */
  readonly runScripts?: (stagingDir: string) => Promise<void>;
  /** How the installer reaches the index. @default its own CAs, no upstream proxy, no other origins */
  readonly network?: InstallNetwork;
}

export interface InstallNetwork {
  /** PEM bundle of the certificate authorities installers (and the proxy, for an https upstream) trust; '' for their own. */
  readonly caFile?: string;
  /** The operator's http(s) proxy: the install proxy sends everything through it; '' connects directly. */
  readonly upstreamProxyUrl?: string;
  /** Origins besides the index that Python installers may download files from (PyPI keeps them on files.pythonhosted.org). */
  readonly pythonFileOrigins?: readonly string[];
}

export interface InstallOutcome {
  readonly installer: InstallerName;
  /** The requested packages with the versions now present. */
  readonly installed: InstalledPackage[];
  readonly durationMs: number;
}

/** Bytes kept of each of an installer's stdout and stderr. */
const MAX_INSTALLER_OUTPUT_BYTES = 64 * 1024;
/** Runs again of a jailed installer whose bubblewrap lost a race with a vanishing mount (commands.ts jailSetupRaced). */
const JAIL_SETUP_RETRIES = 3;

// Installs packages into options.targetDir, which changes only if the install succeeds within its limits.
// Two installs into one target must not overlap: PackageInstaller serializes them. Nothing is created once the
// signal is aborted, and the target's parent is never created (it belongs to a session or an execution that may
// be gone).
export async function installPackages(options: InstallOptions): Promise<InstallOutcome> {
  const started = performance.now();
  checkOptions(options);
  const { signal } = options;
  signal?.throwIfAborted();
  const targetDir = path.resolve(options.targetDir);
  const installer = await chooseInstaller(options);
  await requireDirectory(path.dirname(targetDir));
  const sourceUrl = installer === 'npm' ? options.registryUrl : options.indexUrl;
  const lease = await options.cache.lease(partitionName(installer, sourceUrl, options.specs), { ...(options.runAs ? { runAs: options.runAs } : {}), ...(signal ? { signal } : {}) });
  let kept = false;
  let homeDir: string | null = null;
  let staging: Staging | null = null;
  let proxy: InstallProxy | null = null;
  try {
    signal?.throwIfAborted();
    homeDir = await fs.mkdtemp(path.join(options.tempDir ?? os.tmpdir(), INSTALL_HOME_PREFIX));
    signal?.throwIfAborted();
    staging = await prepareStaging(targetDir);
    const bytesBefore = staging.currentDir ? await treeBytes(staging.stagingDir) : 0;
    if (options.runAs) {
      const { uid, gid } = options.runAs;
      await chownTree(homeDir, uid, gid);
      await chownTree(staging.stagingDir, uid, gid);
    }
    const distributionsBefore = installer === 'pip' ? await listDistributions(staging.stagingDir) : [];
    const allowedOrigins = allowedOriginsOf(installer, options);
    const network = options.network ?? {};
    const upstreamCa = network.caFile && network.upstreamProxyUrl?.startsWith('https:') ? await fs.readFile(network.caFile) : undefined;
    signal?.throwIfAborted();
    proxy = await InstallProxy.start({ allowed: new Set(allowedOrigins.map(originKey)), upstreamUrl: network.upstreamProxyUrl ?? '', ...(upstreamCa ? { upstreamCa } : {}) });
    const command = buildCommand(installer, options, staging.stagingDir, lease.dir, homeDir, proxy.url);
    const contained = options.bwrapPath
      ? jailInstallerCommand(command, { bwrapPath: options.bwrapPath, prlimitPath: PRLIMIT_PATH, writableDirs: [staging.stagingDir, lease.dir, homeDir], hiddenDirs: options.hiddenDirs ?? [], cwd: homeDir, maxFileBytes: options.maxBytes })
      : command;
    const sizes = watchSizes([
      { what: 'the package directory', dirs: [staging.stagingDir], baseBytes: 0, maxBytes: options.maxBytes },
      { what: 'what it downloaded and unpacked', dirs: [lease.dir, homeDir], baseBytes: lease.bytesBefore, maxBytes: options.maxBytes },
    ]);
    const env = buildInstallerEnv(homeDir, installer === 'npm' ? [path.dirname(options.nodePath)] : [], { caFile: network.caFile ?? '', proxyUrl: proxy.url });
    const cwd = homeDir;
    const run = () => runInstaller(contained, {
      env,
      cwd,
      uid: options.runAs?.uid,
      gid: options.runAs?.gid,
      timeoutMs: options.timeoutMs,
      maxOutputBytes: MAX_INSTALLER_OUTPUT_BYTES,
      signal: signal ? AbortSignal.any([signal, sizes.signal]) : sizes.signal,
    });
    let result: RunResult;
    try {
      result = await run();
      for (let retries = 0; options.bwrapPath && jailSetupRaced(result) && retries < JAIL_SETUP_RETRIES; retries++) result = await run();
    } finally {
      sizes.stop();
    }
    await checkRun(result, {
      installer,
      specifiers: specifiers(options),
      timeoutMs: options.timeoutMs,
      maxBytes: options.maxBytes,
      bytesBefore,
      stagingDir: staging.stagingDir,
      targetDir,
      cacheDir: lease.dir,
      allowedOrigins,
      refused: proxy.refused,
      sizeSignal: sizes.signal,
      ...(signal ? { signal } : {}),
    });
    if (installer === 'npm' && options.runScripts) await options.runScripts(staging.stagingDir);
    if (installer === 'pip') await removeSupersededDistributions(staging.stagingDir, distributionsBefore);
    if (installer === 'uv') await fs.rm(path.join(staging.stagingDir, '.lock'), { force: true });
    const bytesAfter = await treeBytes(staging.stagingDir);
    if (bytesAfter > options.maxBytes) {
      throw new InstallError(
        'install_too_large',
        `installing ${specifiers(options).join(' ')} would make the package directory ${bytesAfter} bytes (it was ${bytesBefore} bytes), ` +
          `over its cap of ${options.maxBytes} bytes (maxBytes); nothing was installed`,
      );
    }
    const installed = await listInstalled(installer, options, staging.stagingDir);
    signal?.throwIfAborted();
    await publishStaging(targetDir, staging);
    staging = null;
    await keepLease(lease);
    kept = true;
    return { installer, installed, durationMs: Math.round(performance.now() - started) };
  } finally {
    await proxy?.close();
    if (!kept) await lease.discard();
    if (staging) await removeTree(staging.stagingDir);
    if (homeDir) await removeTree(homeDir);
  }
}

// Keeps a successful install's cache partition; one that cannot be measured is dropped instead.
async function keepLease(lease: CacheLease): Promise<void> {
  await lease.keep().catch(() => lease.discard());
}

// The origins the installer may reach: the registry for npm; the index and its file hosts for Python.
function allowedOriginsOf(installer: InstallerName, options: InstallOptions): string[] {
  if (installer === 'npm') return [new URL(options.registryUrl).origin];
  return [...new Set([new URL(options.indexUrl).origin, ...(options.network?.pythonFileOrigins ?? []).map((origin) => new URL(origin).origin)])];
}

// Throws (the signal's reason, when aborted meanwhile) unless dir is an existing directory.
async function requireDirectory(dir: string): Promise<void> {
  const stat = await fs.stat(dir).catch(() => null);
  if (!stat?.isDirectory()) throw new InstallError('install_failed', 'the package directory of this session or execution is gone (it ended); nothing was installed');
}

// Runs installs one at a time per target directory (by resolved path); different targets proceed in parallel.
export class PackageInstaller {
  readonly #queues = new Map<string, Promise<unknown>>();

  // Installs like installPackages once every earlier install into the same target has finished.
  install(options: InstallOptions): Promise<InstallOutcome> {
    const key = path.resolve(options.targetDir);
    const earlier = this.#queues.get(key) ?? Promise.resolve();
    const run = abortable(earlier.then(() => undefined, () => undefined), options.signal).then(() => installPackages(options));
    // The next install waits for this one and for the earlier ones (this one may end early, when cancelled).
    const done = Promise.allSettled([earlier, run]);
    this.#queues.set(key, done);
    void done.then(() => {
      if (this.#queues.get(key) === done) this.#queues.delete(key);
    });
    return run;
  }
}

function checkOptions(options: InstallOptions): void {
  if (options.specs.length === 0) throw new TypeError('options.specs must name at least one package, received an empty list');
  const foreign = options.specs.find((spec) => spec.runtime !== options.runtime);
  if (foreign) throw new TypeError(`options.specs holds ${foreign.runtime} package ${foreign.name}, but options.runtime is ${options.runtime}`);
  if (!(options.timeoutMs > 0)) throw new TypeError(`options.timeoutMs must be a positive number of milliseconds, received ${options.timeoutMs}`);
  if (!(options.maxBytes >= 0)) throw new TypeError(`options.maxBytes must be a number of bytes, received ${options.maxBytes}`);
}

async function chooseInstaller(options: InstallOptions): Promise<InstallerName> {
  if (options.runtime === 'node') return 'npm';
  if (options.uvPath === null) return 'pip';
  return (await fs.access(options.uvPath, fs.constants.X_OK).then(() => true, () => false)) ? 'uv' : 'pip';
}

function buildCommand(installer: InstallerName, options: InstallOptions, stagingDir: string, cacheDir: string, homeDir: string, proxyUrl: string): InstallerCommand {
  if (installer === 'npm') {
    return buildNpmCommand({ npmPath: options.npmPath, prefixDir: stagingDir, cacheDir, registryUrl: options.registryUrl, configDir: homeDir, proxyUrl, specifiers: specifiers(options) });
  }
  const python = { pythonBin: options.pythonBin, targetDir: stagingDir, cacheDir, indexUrl: options.indexUrl, proxyUrl, specifiers: specifiers(options) };
  return installer === 'uv' ? buildUvCommand(options.uvPath as string, python) : buildPipCommand(python);
}

async function listInstalled(installer: InstallerName, options: InstallOptions, stagingDir: string): Promise<InstalledPackage[]> {
  const found = await readInstalledVersions(options.runtime, stagingDir, options.specs);
  const missing = found.filter((entry) => entry.version === null).map((entry) => entry.name);
  if (missing.length > 0) throw new InstallError('install_failed', `${installer} reported success but ${missing.join(', ')} is not in the package directory`);
  return found.map((entry) => ({ name: entry.name, version: entry.version as string }));
}

function specifiers(options: InstallOptions): string[] {
  return options.specs.map((spec) => spec.specifier);
}
