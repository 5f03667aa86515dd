// Pure builders of the installer command lines and their environment. Arguments stay arrays end to end, and the
// requested specifiers always follow `--`, so even a spec that slipped past validation could not become an option.
import path from 'node:path';
import { buildOuterNamespaceArgs, SETPRIV_PATH } from '../sandbox/outer-namespace.js';

export interface InstallerCommand {
  readonly file: string;
  readonly args: readonly string[];
}

export interface PythonCommandOptions {
  /** The runtime interpreter: packages are chosen for its version and ABI, never installed into its environment. */
  readonly pythonBin: string;
  /** Directory the packages land in (uv and pip's --target). */
  readonly targetDir: string;
  /** This installer's own cache directory. */
  readonly cacheDir: string;
  /** PEP 503 simple index. */
  readonly indexUrl: string;
  /** The proxy every request goes through (the daemon's install proxy); '' for none. @default '' */
  readonly proxyUrl?: string;
  readonly specifiers: readonly string[];
}

// `uv pip install --target` for the runtime interpreter, wheels only, with no config file or Python download.
// uv treats the target as the environment: it sees what is there, uninstalls what it upgrades.
export function buildUvCommand(uvPath: string, options: PythonCommandOptions): InstallerCommand {
  return {
    file: uvPath,
    args: [
      'pip', 'install',
      '--target', options.targetDir,
      '--python', options.pythonBin,
      '--only-binary', ':all:',
      '--index-url', options.indexUrl,
      '--cache-dir', options.cacheDir,
      '--no-config',
      '--no-python-downloads',
      // Copies, not hard links into the shared cache: a session's tree never shares inodes with other sessions.
      '--link-mode', 'copy',
      // The sandbox sees the packages read-only, so bytecode not compiled now would be recompiled at every import.
      '--compile-bytecode',
      '--no-progress',
      '--color', 'never',
      '--',
      ...options.specifiers,
    ],
  };
}

// `python -m pip install --target` with the runtime interpreter, wheels only, ignoring pip's config and
// environment variables (-I, --isolated). pip does not look into the target, so --upgrade replaces what is there.
export function buildPipCommand(options: PythonCommandOptions): InstallerCommand {
  return {
    file: options.pythonBin,
    args: [
      '-I', '-m', 'pip', 'install',
      '--isolated',
      '--target', options.targetDir,
      '--upgrade',
      '--only-binary=:all:',
      '--index-url', options.indexUrl,
      '--cache-dir', options.cacheDir,
      '--no-input',
      '--disable-pip-version-check',
      '--no-color',
      '--progress-bar', 'off',
      '--no-warn-script-location',
      // pip would take a proxy from the environment too; named here so that nothing else can replace it.
      ...(options.proxyUrl ? ['--proxy', options.proxyUrl] : []),
      '--',
      ...options.specifiers,
    ],
  };
}

export interface NpmCommandOptions {
  readonly npmPath: string;
  /** npm's --prefix: package.json and package-lock.json there, modules in <prefixDir>/node_modules. */
  readonly prefixDir: string;
  readonly cacheDir: string;
  readonly registryUrl: string;
  /** A private directory: npm's user and global config files are looked for there, so the machine's are not read. */
  readonly configDir: string;
  /** The proxy every request goes through (the daemon's install proxy); '' for none. @default '' */
  readonly proxyUrl?: string;
  readonly specifiers: readonly string[];
}

/** npm's git: a path where nothing can run, so an npm without --allow-git cannot reach a git host either. */
export const NPM_NO_GIT = '/nonexistent/runbox-refuses-git-dependencies';

// `npm install --prefix` with no install scripts, no audit, no log files and no machine config. The prefix keeps
// its package.json and lock file, so later installs keep the packages earlier ones added. Dependencies come from
// the registry only: git, tarball-URL, file and directory dependencies anywhere in the tree are refused.

export function buildNpmCommand(options: NpmCommandOptions): InstallerCommand {
  return {
    file: options.npmPath,
    args: [
      'install',
      '--prefix', options.prefixDir,
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--no-update-notifier',
      '--save-exact',
      '--registry', options.registryUrl,
      '--cache', options.cacheDir,
      '--userconfig', path.join(options.configDir, 'npmrc'),
      '--globalconfig', path.join(options.configDir, 'npmrc-global'),
      '--logs-max=0',
      '--loglevel=warn',
      '--color=false',
      // npm's default retries (up to a minute of back-off) would keep the code waiting on an unreachable registry.
      '--fetch-retries=1',
      '--fetch-retry-mintimeout=1000',
      '--fetch-retry-maxtimeout=5000',
      // Only registry dependencies: a recent npm (allow-git since 11.9) refuses the others before fetching
      // anything; an older one ignores these settings, and then finds no git to run and only the registry
      // behind its proxy.
      '--allow-git=none',
      '--allow-remote=none',
      '--allow-file=none',
      '--allow-directory=none',
      '--git', NPM_NO_GIT,
      ...(options.proxyUrl ? ['--proxy', options.proxyUrl, '--https-proxy', options.proxyUrl, '--noproxy', ''] : []),
      '--',
      ...options.specifiers,
    ],
  };
}

/** How installers reach the index: the CA bundle to trust and a proxy. */
export interface InstallerNetwork {
  /** PEM bundle of the certificate authorities to trust (the system's, so a TLS-inspecting proxy works); '' for the installers' own. */
  readonly caFile?: string;
  /** http(s) proxy URL for the index and registry (the daemon's install proxy); '' for none. */
  readonly proxyUrl?: string;
}

/** Where and how an installer is contained: its own user and pid namespaces (bubblewrap), a read-only view of
 * the host but for the directories it fills, and a largest file. */
export interface InstallerJail {
  readonly bwrapPath: string;
  /** util-linux prlimit, which sets RLIMIT_FSIZE and then runs bubblewrap. */
  readonly prlimitPath: string;
  /** Host directories the installer may write (its staging tree, cache partition and private home). */
  readonly writableDirs: readonly string[];
  /** Host directories covered by an empty tmpfs before the writable binds: the daemon's work directory, whose
   * execution workspaces and session files are other users' (the writable dirs inside it are bound back). */
  readonly hiddenDirs?: readonly string[];
  /** Working directory inside. */
  readonly cwd: string;
  /** RLIMIT_FSIZE: no file it writes may grow past this. */
  readonly maxFileBytes: number;
}

// The installer command run inside bubblewrap: new user and pid namespaces (the installer and everything it
// starts live and die in them: nothing can daemonize out, and killing the namespace's first process ends them
// all), the host's network (to reach the index, through the install proxy), the host read-only but for the
// writable directories, a private /proc and /dev, and RLIMIT_FSIZE.
// In front, as for every sandbox (sandbox/outer-namespace.ts): a parent-death signal and a pid namespace of its
// own, so that an installer dies with the daemon at any moment, even one SIGKILLed mid-install.
export function jailInstallerCommand(command: InstallerCommand, jail: InstallerJail): InstallerCommand {
  const binds = jail.writableDirs.flatMap((dir) => ['--bind', dir, dir]);
  const hidden = (jail.hiddenDirs ?? []).flatMap((dir) => ['--tmpfs', dir]);
  return {
    file: SETPRIV_PATH,
    args: [
      ...buildOuterNamespaceArgs('private'),
      jail.prlimitPath,
      `--fsize=${jail.maxFileBytes}`,
      '--core=0',
      '--',
      jail.bwrapPath,
      '--unshare-user',
      '--unshare-pid',
      '--die-with-parent',
      '--ro-bind', '/', '/',
      '--proc', '/proc',
      '--dev', '/dev',
      ...hidden,
      ...binds,
      '--chdir', jail.cwd,
      '--',
      command.file,
      ...command.args,
    ],
  };
}

// True when bubblewrap failed while it bound the host's root read-only, before the installer ran: a mount under the
// root (a workspace of an execution that just ended) went away between its recursive bind and the remount that makes
// each submount read-only. Nothing ran and nothing was written; the same command can simply run again.
export function jailSetupRaced(run: { readonly exitCode: number | null; readonly stderr: string }): boolean {
  return run.exitCode === 1 && /^bwrap: Can't bind mount \/oldroot\/ on \/newroot\/: .*No such file or directory$/m.test(run.stderr);
}

// The whole environment of an installer, built from nothing: a private home and temporary directory, a plain
// PATH (led by the directories given, e.g. node's for npm), UTF-8, no colours, and only the CA bundle and proxy
// the operator configured. No daemon variable passes.
export function buildInstallerEnv(homeDir: string, pathDirs: readonly string[] = [], network: InstallerNetwork = {}): Record<string, string> {
  const dirs = [...new Set([...pathDirs, '/usr/local/bin', '/usr/bin', '/bin'])];
  const env: Record<string, string> = { PATH: dirs.join(':'), HOME: homeDir, TMPDIR: homeDir, LANG: 'C.UTF-8', NO_COLOR: '1' };
  if (network.caFile) Object.assign(env, { SSL_CERT_FILE: network.caFile, PIP_CERT: network.caFile, NODE_EXTRA_CA_CERTS: network.caFile });
  if (network.proxyUrl) Object.assign(env, { HTTPS_PROXY: network.proxyUrl, HTTP_PROXY: network.proxyUrl, https_proxy: network.proxyUrl, http_proxy: network.proxyUrl });
  return env;
}
